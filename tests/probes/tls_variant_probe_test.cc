// The extra TLS sessions of an endpoint probe against real fixture servers on loopback: which
// versions a server accepts (one session per version), and which certificates it holds by key
// type (RSA-only and ECDSA-only signature algorithms).
#include "probes/tls_variant_probe.h"

#include <openssl/ssl.h>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>
#include <catch2/catch.hpp>

#include <set>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "probes/judgement/cert_checks.h"
#include "tests/support/cert_factory.h"
#include "tests/support/probe_client_context.h"
#include "tests/support/smtp_fixture_server.h"

namespace mxtls::testing {
namespace {

using namespace std::chrono_literals;
using V = VersionOutcome;

const TestPki& Pki() {
  static const TestPki pki("tls variant test");
  return pki;
}

// An RSA and an ECDSA leaf for mx.test, issued by the test intermediate.
const TestCert& RsaLeaf() {
  static const TestCert leaf = [] {
    CertSpec spec;
    spec.common_name = "mx.test";
    spec.dns_sans = {"mx.test"};
    spec.key_type = KeyType::kRsa2048;
    return MakeIssued(spec, Pki().intermediate());
  }();
  return leaf;
}
const TestCert& EcdsaLeaf() {
  static const TestCert leaf = Pki().Leaf({"mx.test"});
  return leaf;
}

EndpointSpec SpecFor(const SmtpFixtureServer& server) {
  EndpointSpec spec;
  spec.mx = "mx.test";
  spec.address = server.address();
  spec.family = "ipv4";
  spec.port = server.port();
  spec.sni = "mx.test";
  spec.ehlo_name = "probe.test";
  spec.deadline = std::chrono::steady_clock::now() + 10s;
  return spec;
}

template <typename T>
T RunOnFreshLoop(asio::awaitable<T> work) {
  asio::io_context io;
  auto future = asio::co_spawn(io, std::move(work), asio::use_future);
  io.run();
  return future.get();
}

const TlsVersionContexts& Contexts() {
  static const TlsVersionContexts contexts = MakeTlsVersionContexts();
  return contexts;
}

std::map<std::string, V> Matrix(const TlsVersionsReport& report) {
  std::map<std::string, V> out;
  for (const VersionSupport& v : report.versions) out[v.version] = v.outcome;
  return out;
}

std::string Describe(const TlsVersionsReport& report) {
  std::string out;
  for (const VersionSupport& v : report.versions) {
    out += v.version + "=" + std::to_string(static_cast<int>(v.outcome)) + " (" + v.detail + ")\n";
  }
  return out;
}

// The main session of an endpoint, as the engine runs it: the shared context, every version.
EndpointReport RunMainSession(const SmtpFixtureServer& server) {
  SessionOptions options;
  options.ctx = SharedProbeSslContext();
  return RunOnFreshLoop(RunSmtpTlsSession(SpecFor(server), options, std::make_shared<ProbeLog>()))
      .facts;
}

TEST_CASE("this OpenSSL offers every version at security level 0", "[tls_versions]") {
  // Debian 12's OpenSSL 3.0 can still do TLS 1.0 and 1.1 with @SECLEVEL=0. Where it cannot,
  // the matrix below would show kClientUnsupported instead of kRefused: this test says which.
  for (const VersionContext& c : Contexts().exact) {
    INFO(c.name << ": " << c.unsupported);
    CHECK(c.ctx != nullptr);
  }
  CHECK(Contexts().legacy_range != nullptr);
}

TEST_CASE("version matrix of servers with different version ranges", "[tls_versions]") {
  struct Case {
    std::string name;
    int min_version;
    int max_version;
    std::map<std::string, V> expected;
    int sessions;  // version sessions (the main session not counted)
  };
  const std::vector<Case> cases = {
      // 1.0 and 1.1 together: the server picks 1.1, so 1.0 needs a session of its own.
      {"default (every version)", 0, 0,
       {{"TLSv1", V::kAccepted}, {"TLSv1.1", V::kAccepted}, {"TLSv1.2", V::kAccepted},
        {"TLSv1.3", V::kAccepted}},
       3},
      {"TLS 1.0 to 1.2", TLS1_VERSION, TLS1_2_VERSION,
       {{"TLSv1", V::kAccepted}, {"TLSv1.1", V::kAccepted}, {"TLSv1.2", V::kAccepted},
        {"TLSv1.3", V::kRefused}},
       3},
      {"TLS 1.1 only", TLS1_1_VERSION, TLS1_1_VERSION,
       {{"TLSv1", V::kRefused}, {"TLSv1.1", V::kAccepted}, {"TLSv1.2", V::kRefused},
        {"TLSv1.3", V::kRefused}},
       3},
      // The server picks 1.0 from 1.0 and 1.1: 1.1 is refused without a session of its own.
      {"TLS 1.0 only", TLS1_VERSION, TLS1_VERSION,
       {{"TLSv1", V::kAccepted}, {"TLSv1.1", V::kRefused}, {"TLSv1.2", V::kRefused},
        {"TLSv1.3", V::kRefused}},
       2},
      // Refused together: one session answers for both legacy versions.
      {"TLS 1.2 only", TLS1_2_VERSION, TLS1_2_VERSION,
       {{"TLSv1", V::kRefused}, {"TLSv1.1", V::kRefused}, {"TLSv1.2", V::kAccepted},
        {"TLSv1.3", V::kRefused}},
       2},
      {"TLS 1.3 only", TLS1_3_VERSION, TLS1_3_VERSION,
       {{"TLSv1", V::kRefused}, {"TLSv1.1", V::kRefused}, {"TLSv1.2", V::kRefused},
        {"TLSv1.3", V::kAccepted}},
       2},
  };
  for (const Case& c : cases) {
    SECTION(c.name) {
      SmtpFixtureOptions o;
      o.tls_min_version = c.min_version;
      o.tls_max_version = c.max_version;
      SmtpFixtureServer server(o);
      SmtpFixtureServer main_server(o);  // the same server, for the main session
      auto log = std::make_shared<ProbeLog>();
      TlsVersionsReport report =
          RunOnFreshLoop(ProbeTlsVersions(SpecFor(server), &Contexts(), log));
      REQUIRE(report.versions.size() == 4);
      CHECK(report.versions[3].outcome == V::kNotChecked);  // left to the main session
      JudgeTls13FromMainSession(report, RunMainSession(main_server));
      INFO(Describe(report));
      CHECK(report.versions[0].version == "TLSv1");
      CHECK(report.versions[3].version == "TLSv1.3");
      CHECK(Matrix(report) == c.expected);
      CHECK(report.sessions == c.sessions);
      REQUIRE(server.WaitForSessions(c.sessions, 3s));
      // Exactly the accepted versions below 1.3 were established, each with SNI, each at
      // its own version.
      std::vector<SessionRecord> sessions = server.sessions();
      REQUIRE(sessions.size() == static_cast<size_t>(c.sessions));
      std::set<std::string> established, accepted;
      for (const auto& v : report.versions) {
        if (v.outcome == V::kAccepted && v.version != "TLSv1.3") accepted.insert(v.version);
      }
      for (const auto& session : sessions) {
        CHECK(session.starttls_accepted);
        if (!session.tls_established) continue;
        // (A refused ClientHello is rejected before the server reads its SNI.)
        CHECK(session.sni == std::optional<std::string>("mx.test"));
        established.insert(session.tls_version);
      }
      CHECK(established == accepted);
    }
  }
}

TEST_CASE("without the legacy-range context, TLS 1.0 and 1.1 get a session each",
          "[tls_versions]") {
  SmtpFixtureOptions o;
  o.tls_min_version = TLS1_2_VERSION;
  SmtpFixtureServer server(o);
  TlsVersionContexts contexts = MakeTlsVersionContexts();
  contexts.legacy_range.reset();
  TlsVersionsReport report =
      RunOnFreshLoop(ProbeTlsVersions(SpecFor(server), &contexts, std::make_shared<ProbeLog>()));
  INFO(Describe(report));
  CHECK(report.versions[0].outcome == V::kRefused);
  CHECK(report.versions[1].outcome == V::kRefused);
  CHECK(report.versions[2].outcome == V::kAccepted);
  CHECK(report.sessions == 3);
}

TEST_CASE("a version whose context is missing is client-unsupported and opens no session",
          "[tls_versions]") {
  SmtpFixtureServer server;
  TlsVersionContexts contexts = MakeTlsVersionContexts();
  contexts.exact[0].ctx.reset();
  contexts.exact[0].unsupported = "built without it";
  contexts.legacy_range.reset();  // as MakeTlsVersionContexts leaves it then
  TlsVersionsReport report =
      RunOnFreshLoop(ProbeTlsVersions(SpecFor(server), &contexts, std::make_shared<ProbeLog>()));
  INFO(Describe(report));
  CHECK(report.versions[0].outcome == V::kClientUnsupported);
  CHECK(report.versions[0].detail.find("built without it") != std::string::npos);
  CHECK(report.sessions == 2);
  CHECK(report.versions[1].outcome == V::kAccepted);
  CHECK(report.versions[2].outcome == V::kAccepted);
}

TEST_CASE("a session whose options leave nothing to offer is client-unsupported before any "
          "connection", "[tls_versions]") {
  SmtpFixtureServer server;
  SessionOptions options;
  options.ctx = Contexts().exact[2].ctx.get();  // TLS 1.2 only
  options.cipher_list = "aNULL:!aNULL";         // parses, selects nothing
  options.smtp_after_tls = false;
  SessionOutcome outcome = RunOnFreshLoop(
      RunSmtpTlsSession(SpecFor(server), options, std::make_shared<ProbeLog>()));
  CHECK(outcome.client_unsupported);
  CHECK_FALSE(outcome.connect_attempted);
  CHECK(outcome.facts.failure_reason == "client_unsupported");
  CHECK(JudgeVersionSession("TLSv1.2", outcome).outcome == V::kClientUnsupported);
  CHECK(server.connection_count() == 0);
}

TEST_CASE("version sessions that get no answer have no verdict", "[tls_versions]") {
  SECTION("no STARTTLS") {
    SmtpFixtureOptions o;
    o.offer_starttls = false;
    SmtpFixtureServer server(o);
    TlsVersionsReport report = RunOnFreshLoop(
        ProbeTlsVersions(SpecFor(server), &Contexts(), std::make_shared<ProbeLog>()));
    JudgeTls13FromMainSession(report, RunMainSession(server));
    INFO(Describe(report));
    for (const VersionSupport& v : report.versions) CHECK(v.outcome == V::kFailed);
  }
  SECTION("the handshake hangs until the deadline") {
    SmtpFixtureOptions o;
    o.handshake_hang = true;
    SmtpFixtureServer server(o);
    EndpointSpec spec = SpecFor(server);
    spec.deadline = std::chrono::steady_clock::now() + 600ms;
    TlsVersionsReport report =
        RunOnFreshLoop(ProbeTlsVersions(spec, &Contexts(), std::make_shared<ProbeLog>()));
    INFO(Describe(report));
    for (size_t i = 0; i < 3; ++i) CHECK(report.versions[i].outcome == V::kFailed);
    // They ran together: the legacy and the 1.2 session, both cut at the deadline, not one
    // deadline after the other, and no follow-up without an answer.
    CHECK(report.sessions == 2);
  }
}

TEST_CASE("TLS 1.3 is judged from the main session", "[tls_versions]") {
  TlsVersionsReport versions;
  versions.versions = {{"TLSv1", V::kRefused, ""}, {"TLSv1.1", V::kRefused, ""},
                       {"TLSv1.2", V::kAccepted, ""}, {"TLSv1.3", V::kNotChecked, ""}};
  EndpointReport main;
  SECTION("negotiated 1.3") {
    main.handshake_ok = true;
    main.tls_version = "TLSv1.3";
    JudgeTls13FromMainSession(versions, main);
    CHECK(versions.versions[3].outcome == V::kAccepted);
  }
  SECTION("the server chose 1.2 although 1.3 was offered") {
    main.handshake_ok = true;
    main.tls_version = "TLSv1.2";
    JudgeTls13FromMainSession(versions, main);
    CHECK(versions.versions[3].outcome == V::kRefused);
    CHECK(versions.versions[3].detail.find("chose TLSv1.2") != std::string::npos);
  }
  SECTION("the handshake was refused") {
    main.handshake_ok = false;
    main.failure_stage = "handshake";
    main.failure_reason = "handshake";
    JudgeTls13FromMainSession(versions, main);
    CHECK(versions.versions[3].outcome == V::kRefused);
  }
  SECTION("the handshake timed out: no verdict") {
    main.handshake_ok = false;
    main.failure_stage = "handshake";
    main.failure_reason = "timeout";
    JudgeTls13FromMainSession(versions, main);
    CHECK(versions.versions[3].outcome == V::kFailed);
  }
  SECTION("no STARTTLS: no verdict") {
    main.failure_stage = "starttls";
    main.failure_reason = "starttls_not_offered";
    JudgeTls13FromMainSession(versions, main);
    CHECK(versions.versions[3].outcome == V::kFailed);
  }
  // The other versions are the version sessions' and stay as they were.
  CHECK(versions.versions[2].outcome == V::kAccepted);
}

// --- Key types.

struct KeyTypeRun {
  KeyTypeProbeResult rsa;
  KeyTypeProbeResult ecdsa;
};

KeyTypeRun RunBothKeyTypes(const SmtpFixtureServer& server) {
  auto log = std::make_shared<ProbeLog>();
  KeyTypeRun run;
  run.rsa = RunOnFreshLoop(ProbeKeyType(SpecFor(server), "rsa", SharedProbeSslContext(), log));
  run.ecdsa =
      RunOnFreshLoop(ProbeKeyType(SpecFor(server), "ecdsa", SharedProbeSslContext(), log));
  return run;
}

std::string LeafKeyType(const KeyTypeProbeResult& r) {
  REQUIRE(r.chain);
  REQUIRE_FALSE(r.chain->empty());
  return DescribeCertificate(r.chain->front().get()).key_type;
}

TEST_CASE("key-type sessions see both leaves of a dual RSA + ECDSA server", "[key_types]") {
  for (int max_version : {0, TLS1_2_VERSION}) {
    SECTION(max_version == 0 ? "TLS 1.3" : "TLS 1.2") {
      SmtpFixtureOptions o;
      o.tls_max_version = max_version;
      o.certs = {CertEntry::FromCerts({}, RsaLeaf(), {&Pki().intermediate()})
                     .WithSecond(EcdsaLeaf(), {&Pki().intermediate()})};
      SmtpFixtureServer server(o);
      KeyTypeRun run = RunBothKeyTypes(server);
      CHECK(run.rsa.session.key_type == "rsa");
      CHECK(run.rsa.session.handshake_ok);
      CHECK(run.rsa.session_opened);
      CHECK(run.ecdsa.session.key_type == "ecdsa");
      CHECK(run.ecdsa.session.handshake_ok);
      CHECK(LeafKeyType(run.rsa) == "RSA");
      CHECK(LeafKeyType(run.ecdsa) == "EC");
      // Each leaf comes with its own chain.
      CHECK(run.rsa.chain->size() == 2);
      CHECK(run.ecdsa.chain->size() == 2);
      CHECK(X509_cmp(run.rsa.chain->front().get(), run.ecdsa.chain->front().get()) != 0);
      REQUIRE(server.WaitForSessions(2, 3s));
      for (const SessionRecord& s : server.sessions()) {
        CHECK(s.tls_version == (max_version == 0 ? "TLSv1.3" : "TLSv1.2"));
      }
    }
  }
}

TEST_CASE("an ECDSA-only server fails the RSA session and passes the ECDSA one", "[key_types]") {
  SmtpFixtureOptions o;
  o.certs = {CertEntry::FromCerts({}, EcdsaLeaf(), {&Pki().intermediate()})};
  SmtpFixtureServer server(o);
  KeyTypeRun run = RunBothKeyTypes(server);
  CHECK_FALSE(run.rsa.session.handshake_ok);
  CHECK(run.rsa.session.failure_reason == "handshake");
  CHECK(run.rsa.chain == nullptr);
  CHECK(run.ecdsa.session.handshake_ok);
  CHECK(run.ecdsa.session.failure_reason.empty());
  CHECK(LeafKeyType(run.ecdsa) == "EC");
}

TEST_CASE("the key type of a chain's leaf", "[key_types]") {
  auto chain_of = [](const TestCert& leaf) {
    std::vector<X509Ptr> chain;
    chain.push_back(RetainX509(leaf.cert.get()));
    return chain;
  };
  const std::vector<X509Ptr> rsa = chain_of(RsaLeaf());
  const std::vector<X509Ptr> ecdsa = chain_of(EcdsaLeaf());
  const std::vector<X509Ptr> empty;
  CHECK(KeyTypeOfLeaf(&rsa) == "rsa");
  CHECK(KeyTypeOfLeaf(&ecdsa) == "ecdsa");
  CHECK(KeyTypeOfLeaf(&empty).empty());
  CHECK(KeyTypeOfLeaf(nullptr).empty());
}

TEST_CASE("an RSA-only server fails the ECDSA session", "[key_types]") {
  SmtpFixtureOptions o;
  o.certs = {CertEntry::FromCerts({}, RsaLeaf(), {&Pki().intermediate()})};
  SmtpFixtureServer server(o);
  KeyTypeRun run = RunBothKeyTypes(server);
  CHECK(run.rsa.session.handshake_ok);
  CHECK(LeafKeyType(run.rsa) == "RSA");
  CHECK_FALSE(run.ecdsa.session.handshake_ok);
  CHECK(run.ecdsa.session.failure_reason == "handshake");
}

}  // namespace
}  // namespace mxtls::testing
