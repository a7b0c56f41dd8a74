// Endpoints shared by many domains (the hosting shape) and the engine's session limits,
// through the running exporter: domains whose MX is the same host on the same address share
// one main session within endpoint_reuse_window, concurrent probes of it coalesce, and no
// address ever sees more sessions at once than engine.max_sessions_per_address.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "tests/support/mail_world.h"
#include "tests/support/metrics_text.h"
#include "tests/support/smtp_fixture_server.h"

namespace mxtls::testing {
namespace {

// Only the main session, so that the server's count of sessions is the shared one's.
const char* kMainSessionOnly =
    "      no_sni_check: false\n      version_check: false\n      key_type_check: false\n";

// Main sessions the server saw for `sni`: EHLO over TLS is sent by the main session only.
size_t MainSessions(const SmtpFixtureServer& server, const std::string& sni) {
  size_t n = 0;
  for (const auto& s : server.sessions()) {
    if (s.sni == sni && !s.tls_commands.empty() && s.tls_commands[0].rfind("EHLO ", 0) == 0) ++n;
  }
  return n;
}

double CacheCount(MailWorld& w, const std::string& result,
                  const char* metric = "mxtls_exporter_endpoint_cache_requests_total") {
  ParsedMetrics m = w.ExporterMetrics();
  INFO(m.text());
  auto v = m.Value(metric, {{"result", result}});
  REQUIRE(v);
  return *v;
}

const char* kChainCache = "mxtls_exporter_chain_judgement_cache_requests_total";

void CheckHealthyEndpoint(const ParsedMetrics& m, const Labels& ep) {
  INFO(m.text());
  CHECK(m.Value("probe_success") == 1);
  CHECK(m.Value("mxtls_endpoint_up", ep) == 1);
  CHECK(m.Value("mxtls_tls_handshake_success", ep) == 1);
  CHECK(m.Value("mxtls_cert_verified", ep) == 1);
  CHECK(m.Value("mxtls_cert_san_match", ep) == 1);
  CHECK(m.Value("mxtls_sender_delivers", With(ep, "sender", "opportunistic")) == 1);
  // A shared session's phase timings are the original session's, present all the same.
  CHECK(m.Count("mxtls_phase_duration_seconds", ep) >= 4);
}

TEST_CASE("twenty domains on one MX host share one main session", "[integration][shared]") {
  MailWorld w;
  TestCert leaf = w.Leaf({"mx.hosting.test"});
  SmtpFixtureServer& server = w.Serve("127.0.0.2", w.Healthy(leaf));
  w.dns.AddA("mx.hosting.test", "127.0.0.2");
  std::vector<std::string> concurrent, sequential;
  for (int i = 0; i < 20; ++i) {
    concurrent.push_back("customer" + std::to_string(i) + ".test");
    w.dns.AddMx(concurrent.back(), 10, "mx.hosting.test");
    sequential.push_back("later" + std::to_string(i) + ".test");
    w.dns.AddMx(sequential.back(), 10, "mx.hosting.test");
  }
  w.Start("    mta_sts:\n      enabled: false\n    endpoint_reuse_window: 60s\n",
          kMainSessionOnly);
  const Labels ep = Ep4("mx.hosting.test", "127.0.0.2");

  // At once: one probe opens the session, nineteen wait for it.
  std::vector<std::string> bodies = w.ProbeConcurrently(concurrent);
  int own_sessions = 0;
  for (size_t i = 0; i < concurrent.size(); ++i) {
    INFO(concurrent[i]);
    REQUIRE(!bodies[i].empty());
    ParsedMetrics m(bodies[i]);
    CheckHealthyEndpoint(m, ep);
    if (m.Value("mxtls_endpoint_session_reused", ep) == 0) {
      ++own_sessions;
      CHECK(m.Value("mxtls_endpoint_smtp_sessions", ep) == 1);
    } else {
      CHECK(m.Value("mxtls_endpoint_smtp_sessions", ep) == 0);
    }
  }
  CHECK(own_sessions == 1);
  CHECK(MainSessions(server, "mx.hosting.test") == 1);

  // One after the other, within the window: twenty more domains get the kept session, each
  // judged for its own probe.
  for (const auto& domain : sequential) {
    INFO(domain);
    ParsedMetrics m = w.Probe(domain);
    CheckHealthyEndpoint(m, ep);
    CHECK(m.Value("mxtls_endpoint_session_reused", ep) == 1);
    CHECK(m.Value("mxtls_endpoint_session_age_seconds", ep) >= 0);
    CHECK(m.Value("mxtls_endpoint_smtp_sessions", ep) == 0);
  }
  CHECK(MainSessions(server, "mx.hosting.test") == 1);
  CHECK(CacheCount(w, "miss") == 1);
  CHECK(CacheCount(w, "hit") == 39);
  // Forty judgements of one chain (each domain judges the shared session for itself): it was
  // verified once.
  CHECK(CacheCount(w, "miss", kChainCache) == 1);
  CHECK(CacheCount(w, "hit", kChainCache) == 39);

  // A domain's next scrape never sees the observation it already had: a new session, which the
  // others then share.
  ParsedMetrics again = w.Probe(concurrent[0]);
  CheckHealthyEndpoint(again, ep);
  CHECK(again.Value("mxtls_endpoint_session_reused", ep) == 0);
  CHECK(again.Value("mxtls_endpoint_session_age_seconds", ep) == 0);
  CHECK(MainSessions(server, "mx.hosting.test") == 2);
  CHECK(w.Probe(concurrent[1]).Value("mxtls_endpoint_session_reused", ep) == 1);
  CHECK(MainSessions(server, "mx.hosting.test") == 2);
  // The new session showed the same chain: its verdict was reused, not verified again.
  CHECK(CacheCount(w, "miss", kChainCache) == 1);
  CHECK(CacheCount(w, "hit", kChainCache) == 41);
}

TEST_CASE("customers' own MX names on a shared address get a session each",
          "[integration][shared]") {
  MailWorld w;
  TestCert a = w.Leaf({"mx.alpha.test"});
  TestCert b = w.Leaf({"mx.beta.test"});
  SmtpFixtureOptions o;
  o.certs = {CertEntry::FromCerts({"mx.alpha.test"}, a, {&w.pki.intermediate()}),
             CertEntry::FromCerts({"mx.beta.test"}, b, {&w.pki.intermediate()})};
  SmtpFixtureServer& server = w.Serve("127.0.0.3", o);
  w.dns.AddA("mx.alpha.test", "127.0.0.3");
  w.dns.AddA("mx.beta.test", "127.0.0.3");
  for (const char* d : {"a1.test", "a2.test"}) w.dns.AddMx(d, 10, "mx.alpha.test");
  for (const char* d : {"b1.test", "b2.test"}) w.dns.AddMx(d, 10, "mx.beta.test");
  w.Start("    mta_sts:\n      enabled: false\n", kMainSessionOnly);
  for (const char* d : {"a1.test", "a2.test"}) CheckHealthyEndpoint(w.Probe(d), Ep4("mx.alpha.test", "127.0.0.3"));
  for (const char* d : {"b1.test", "b2.test"}) CheckHealthyEndpoint(w.Probe(d), Ep4("mx.beta.test", "127.0.0.3"));
  CHECK(MainSessions(server, "mx.alpha.test") == 1);
  CHECK(MainSessions(server, "mx.beta.test") == 1);
  CHECK(CacheCount(w, "miss") == 2);
  CHECK(CacheCount(w, "hit") == 2);
}

TEST_CASE("endpoint_reuse_window 0 opens a session for every probe", "[integration][shared]") {
  MailWorld w;
  TestCert leaf = w.Leaf({"mx.hosting.test"});
  SmtpFixtureServer& server = w.Serve("127.0.0.2", w.Healthy(leaf));
  w.dns.AddA("mx.hosting.test", "127.0.0.2");
  for (const char* d : {"c1.test", "c2.test", "c3.test"}) w.dns.AddMx(d, 10, "mx.hosting.test");
  w.Start("    mta_sts:\n      enabled: false\n    endpoint_reuse_window: 0s\n", kMainSessionOnly);
  for (const char* d : {"c1.test", "c2.test", "c3.test", "c1.test"}) {
    ParsedMetrics m = w.Probe(d);
    CheckHealthyEndpoint(m, Ep4("mx.hosting.test", "127.0.0.2"));
    CHECK(m.Value("mxtls_endpoint_session_reused", Ep4("mx.hosting.test", "127.0.0.2")) == 0);
  }
  CHECK(MainSessions(server, "mx.hosting.test") == 4);
  CHECK(CacheCount(w, "miss") == 4);
  CHECK(CacheCount(w, "hit") == 0);
}

// Ten endpoints (ten MX names) on one address, each greeting after 300 ms.
struct CrowdedAddress {
  explicit CrowdedAddress(MailWorld& w, std::chrono::milliseconds greeting_delay) {
    SmtpFixtureOptions o;
    for (int i = 0; i < 10; ++i) {
      const std::string mx = "mx" + std::to_string(i) + ".crowded.test";
      leaves.push_back(w.Leaf({mx}));
    }
    for (int i = 0; i < 10; ++i) {
      const std::string mx = "mx" + std::to_string(i) + ".crowded.test";
      o.certs.push_back(CertEntry::FromCerts({mx}, leaves[i], {&w.pki.intermediate()}));
      w.dns.AddA(mx, "127.0.0.4");
      domains.push_back("d" + std::to_string(i) + ".crowded.test");
      w.dns.AddMx(domains.back(), 10, mx);
    }
    o.greeting_delay = greeting_delay;
    server = &w.Serve("127.0.0.4", o);
  }
  std::vector<TestCert> leaves;
  std::vector<std::string> domains;
  SmtpFixtureServer* server = nullptr;
};

TEST_CASE("the per-address limit holds sessions back without failing probes",
          "[integration][limits][timing]") {
  MailWorld w;
  CrowdedAddress crowd(w, std::chrono::milliseconds(300));
  w.top_extra = "engine:\n  max_sessions_per_address: 2\n";
  w.Start("    mta_sts:\n      enabled: false\n", kMainSessionOnly);
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::string> bodies = w.ProbeConcurrently(crowd.domains, "10");
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (size_t i = 0; i < bodies.size(); ++i) {
    INFO(crowd.domains[i]);
    REQUIRE(!bodies[i].empty());
    ParsedMetrics m(bodies[i]);
    CheckHealthyEndpoint(m, Ep4("mx" + std::to_string(i) + ".crowded.test", "127.0.0.4"));
  }
  CHECK(crowd.server->connection_count() == 10);
  CHECK(crowd.server->max_concurrent_sessions() <= 2);
  // Five rounds of two sessions, each at least the greeting delay.
  CHECK(took >= 1.5);
  CHECK(took < 10);
}

// [timing]: how many probes get the slot too late rather than never depends on wall-clock
// speed; under ThreadSanitizer's slowdown fewer end as queue_timeout (scripts/tsan.sh skips it).
TEST_CASE("a session that gets no slot before the deadline reports queue_timeout",
          "[integration][limits][timing]") {
  MailWorld w;
  CrowdedAddress crowd(w, std::chrono::milliseconds(1500));
  w.top_extra = "engine:\n  max_sessions_per_address: 1\n";
  w.Start("    mta_sts:\n      enabled: false\n", kMainSessionOnly);
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::string> bodies = w.ProbeConcurrently(crowd.domains, "3");
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  int queue_timeouts = 0, succeeded = 0;
  for (size_t i = 0; i < bodies.size(); ++i) {
    INFO(crowd.domains[i]);
    REQUIRE(!bodies[i].empty());
    ParsedMetrics m(bodies[i]);
    INFO(m.text());
    const Labels ep = Ep4("mx" + std::to_string(i) + ".crowded.test", "127.0.0.4");
    if (m.Value("probe_success") == 1) {
      ++succeeded;
      continue;
    }
    if (m.Count("mxtls_endpoint_failure_info",
                With(With(ep, "stage", "connect"), "reason", "queue_timeout")) == 1) {
      ++queue_timeouts;
      CHECK(m.Value("mxtls_endpoint_smtp_sessions", ep) == 0);
    }
  }
  // One slot, 1.5 s greetings, about 2.5 s per probe: one gets through, some more get the
  // slot too late to finish (a greeting or connect timeout), the rest never start -- and
  // those never touched the server.
  // (The probes' deadlines differ by when their requests arrived, so how many get the slot
  // late varies. The server's view of concurrency is not checked here: a session the client
  // abandons in the greeting delay stays open on the server until its delay ends.)
  CHECK(succeeded >= 1);
  CHECK(queue_timeouts >= 3);
  CHECK(queue_timeouts + crowd.server->connection_count() <= 10);
  CHECK(took < 6);
}

}  // namespace
}  // namespace mxtls::testing

namespace mxtls::testing {
namespace {

// The endpoint's slow facts (no-SNI, the four TLS versions, RSA-only and ECDSA-only) with
// every check on, for `domains` probed at once on a cold exporter: the sessions the server saw
// and each domain's response.
struct ColdRun {
  size_t sessions = 0;
  std::vector<std::string> bodies;
};
ColdRun ProbeColdTogether(int domains) {
  MailWorld w;
  TestCert leaf = w.Leaf({"mx.fleet.test"});
  SmtpFixtureServer& server = w.Serve("127.0.0.4", w.Healthy(leaf));
  w.dns.AddA("mx.fleet.test", "127.0.0.4");
  std::vector<std::string> names;
  for (int i = 0; i < domains; ++i) {
    names.push_back("tenant" + std::to_string(i) + ".test");
    w.dns.AddMx(names.back(), 10, "mx.fleet.test");
  }
  w.Start("    mta_sts:\n      enabled: false\n    endpoint_reuse_window: 60s\n");
  ColdRun run;
  run.bodies = w.ProbeConcurrently(names);
  run.sessions = server.sessions().size();
  return run;
}

TEST_CASE("a fleet's first probes share the endpoint's slow-fact sessions",
          "[integration][shared]") {
  const ColdRun alone = ProbeColdTogether(1);
  const ColdRun fleet = ProbeColdTogether(12);
  // Main, no-SNI, the versions the fixture can be asked about and the two key types: as many
  // as one domain alone costs the server, however many domains ask at once.
  CHECK(alone.sessions >= 5);
  CHECK(fleet.sessions == alone.sessions);
  const Labels ep = Ep4("mx.fleet.test", "127.0.0.4");
  for (const std::string& body : fleet.bodies) {
    REQUIRE(!body.empty());
    ParsedMetrics m(body);
    INFO(m.text());
    CheckHealthyEndpoint(m, ep);
    // Every domain reports every slow fact, whichever probe's session observed it.
    CHECK(m.Value("mxtls_tls_version_supported", With(ep, "version", "TLSv1.3")) == 1);
    CHECK(m.Value("mxtls_tls_version_supported", With(ep, "version", "TLSv1.2")) == 1);
    CHECK(m.Count("mxtls_cert_held_info") >= 1);
    CHECK(m.Value("mxtls_nosni_tls_handshake_success", ep) == 1);
  }
}

}  // namespace
}  // namespace mxtls::testing
