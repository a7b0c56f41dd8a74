// End-to-end probes through the running exporter binary: a DNS fixture server and fixture
// SMTP/STARTTLS servers on loopback (127.0.0.x and ::1), certificates from a private PKI made
// by the test, and assertions on the metrics /probe serves over HTTP. Each case is one of
// the real-world failure modes the exporter exists to catch.
#include <catch2/catch.hpp>
#include <httplib.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/cert_factory.h"
#include "tests/support/dns_fixture_server.h"
#include "tests/support/exporter_process.h"
#include "tests/support/metrics_text.h"
#include "tests/support/mail_world.h"
#include "tests/support/smtp_fixture_server.h"

namespace mxtls::testing {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::system_clock;

TEST_CASE("healthy domain with two MX hosts on IPv4 and IPv6", "[integration]") {
  MailWorld w;
  const bool v6 = Ipv6LoopbackAvailable();
  TestCert mx1 = w.Leaf({"mx1.healthy.test"});
  TestCert mx2 = w.Leaf({"mx2.healthy.test"});
  w.Serve("127.0.0.2", w.Healthy(mx1));
  w.Serve("127.0.0.3", w.Healthy(mx2));
  if (v6) {
    // One IPv6 loopback address: the server picks the certificate by SNI, as a shared
    // IPv6 front would.
    SmtpFixtureOptions o;
    o.certs = {CertEntry::FromCerts({"mx1.healthy.test"}, mx1, {&w.pki.intermediate()}),
               CertEntry::FromCerts({"mx2.healthy.test"}, mx2, {&w.pki.intermediate()})};
    w.Serve("::1", o);
  }
  w.dns.AddMx("healthy.test", 20, "mx2.healthy.test");
  w.dns.AddMx("healthy.test", 10, "mx1.healthy.test");
  w.dns.AddA("mx1.healthy.test", "127.0.0.2");
  w.dns.AddA("mx2.healthy.test", "127.0.0.3");
  if (v6) {
    w.dns.AddAAAA("mx1.healthy.test", "::1");
    w.dns.AddAAAA("mx2.healthy.test", "::1");
  }
  w.Start();
  ParsedMetrics m = w.Probe("healthy.test");
  INFO(m.text());
  CHECK(m.Value("probe_success") == 1);
  CHECK(m.Value("mxtls_null_mx") == 0);
  CHECK(m.Value("mxtls_implicit_mx") == 0);
  CHECK(m.Value("mxtls_mx_hosts") == 2);
  CHECK(m.Value("mxtls_endpoints") == (v6 ? 4 : 2));
  CHECK(m.Value("mxtls_mx_info", {{"mx", "mx1.healthy.test"}, {"preference", "10"},
                                   {"cname", ""}}) == 1);
  CHECK(m.Value("mxtls_mx_info", {{"mx", "mx2.healthy.test"}, {"preference", "20"}}) == 1);
  std::vector<Labels> endpoints = {Ep4("mx1.healthy.test", "127.0.0.2"),
                                   Ep4("mx2.healthy.test", "127.0.0.3")};
  if (v6) {
    endpoints.push_back(Ep6("mx1.healthy.test", "::1"));
    endpoints.push_back(Ep6("mx2.healthy.test", "::1"));
  }
  for (const auto& ep : endpoints) {
    INFO(ep.at("mx") << " " << ep.at("address"));
    CHECK(m.Value("mxtls_endpoint_up", ep) == 1);
    CHECK(m.Value("mxtls_starttls_offered", ep) == 1);
    CHECK(m.Value("mxtls_tls_handshake_success", ep) == 1);
    CHECK(m.Value("mxtls_cert_verified", ep) == 1);
    CHECK(m.Value("mxtls_cert_verify_info", With(ep, "reason", "ok")) == 1);
    CHECK(m.Value("mxtls_cert_chain_complete", ep) == 1);
    CHECK(m.Value("mxtls_cert_san_match", ep) == 1);
    CHECK(m.Count("mxtls_tls_version_info", ep) == 1);
    CHECK(m.Count("mxtls_endpoint_failure_info", ep) == 0);
    auto days = m.Value("mxtls_cert_days_to_expiry", ep);
    REQUIRE(days);
    CHECK(*days == Approx(90).margin(0.1));
    CHECK(m.Value("mxtls_chain_earliest_not_after_timestamp_seconds", ep).has_value());
    for (const char* phase : {"connect", "greeting", "ehlo", "starttls", "handshake"}) {
      CHECK(m.Count("mxtls_phase_duration_seconds", With(ep, "phase", phase)) == 1);
    }
  }
  CHECK(m.Count("mxtls_phase_duration_seconds", {{"phase", "dns"}}) == 1);
  CHECK(m.Value("mxtls_domain_cert_days_to_expiry_min").value_or(-1) == Approx(90).margin(0.1));
  CHECK(FingerprintOf(m, endpoints[0]) != FingerprintOf(m, endpoints[1]));
  CHECK(m.Count("mxtls_probe_failure_info") == 0);

  // The exposition passes the ecosystem's metric lint; the only findings allowed are the
  // two days gauges operators asked for (not base units, on purpose).
  std::string path = "/tmp/mxtls-promtool-" + std::to_string(getpid()) + ".txt";
  std::ofstream(path) << m.text();
  FILE* lint = popen(("promtool check metrics < " + path + " 2>&1").c_str(), "r");
  REQUIRE(lint != nullptr);
  std::string findings;
  char buf[512];
  while (fgets(buf, sizeof(buf), lint) != nullptr) findings += buf;
  int status = pclose(lint);
  std::remove(path.c_str());
  INFO("promtool check metrics:\n" << findings);
  CHECK(WIFEXITED(status));
  std::istringstream lines(findings);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    bool allowed = line.find("mxtls_cert_days_to_expiry") != std::string::npos ||
                   line.find("mxtls_domain_cert_days_to_expiry_min") != std::string::npos ||
                   line.find("mxtls_nosni_cert_days_to_expiry") != std::string::npos ||
                   line.find("mxtls_cert_held_days_to_expiry") != std::string::npos;
    CHECK(allowed);
  }
}

TEST_CASE("a U-label target is probed, matched and exported as its A-label", "[integration][idn]") {
  // The DNS, the certificate and the MTA-STS policy know only the A-label, as on the Internet.
  MailWorld w;
  TestCert mx = w.Leaf({"mx.xn--bcher-kva.test"});
  w.Serve("127.0.0.2", w.Healthy(mx));
  w.dns.AddMx("xn--bcher-kva.test", 10, "mx.xn--bcher-kva.test");
  w.dns.AddA("mx.xn--bcher-kva.test", "127.0.0.2");
  w.PublishPolicy("xn--bcher-kva.test", "127.0.0.60", "1",
                  "version: STSv1\nmode: enforce\nmx: mx.xn--bcher-kva.test\nmax_age: 86400\n");
  w.Start();
  std::string debug;
  // "bücher.test", percent-encoded as Prometheus sends it.
  ParsedMetrics m = w.Probe("b%C3%BCcher.test", "10", &debug);
  INFO(m.text());
  CHECK(m.Value("probe_success") == 1);
  CHECK(m.Value("mxtls_mx_info", {{"mx", "mx.xn--bcher-kva.test"}, {"preference", "10"}}) == 1);
  Labels ep = Ep4("mx.xn--bcher-kva.test", "127.0.0.2");
  CHECK(m.Value("mxtls_tls_handshake_success", ep) == 1);
  CHECK(m.Value("mxtls_cert_san_match", ep) == 1);
  CHECK(m.Value("mxtls_mta_sts_policy_valid") == 1);
  CHECK(m.Value("mxtls_mta_sts_mx_covered", {{"mx", "mx.xn--bcher-kva.test"}}) == 1);
  // Labels stay ASCII: no U-label reaches the exposition.
  CHECK(m.text().find("bücher") == std::string::npos);
  CHECK(debug.find("bücher.test (xn--bcher-kva.test)") != std::string::npos);
  // The A-label form of the same target gives the same answer.
  CHECK(w.Probe("xn--bcher-kva.test").Value("probe_success") == 1);
}

TEST_CASE("certificate for another name than the MX: verified but no SAN match",
          "[integration]") {
  MailWorld w;
  w.Serve("127.0.0.4", w.Healthy(w.Leaf({"mail.mismatch.test"})));
  w.dns.AddMx("mismatch.test", 10, "mx1.mismatch.test");
  w.dns.AddA("mx1.mismatch.test", "127.0.0.4");
  w.Start();
  ParsedMetrics m = w.Probe("mismatch.test");
  INFO(m.text());
  auto ep = Ep4("mx1.mismatch.test", "127.0.0.4");
  CHECK(m.Value("probe_success") == 1);  // a bad certificate is a verdict, not a failure
  CHECK(m.Value("mxtls_cert_verified", ep) == 1);
  CHECK(m.Value("mxtls_cert_san_match", ep) == 0);
  CHECK(m.Value("mxtls_cert_name_match_info", With(ep, "result", "mismatch")) == 1);
}

TEST_CASE("leaf sent without its intermediate", "[integration]") {
  MailWorld w;
  SmtpFixtureOptions o;
  o.certs = {CertEntry::FromCerts({}, w.Leaf({"mx1.nointer.test"}))};
  w.Serve("127.0.0.5", o);
  w.dns.AddMx("nointer.test", 10, "mx1.nointer.test");
  w.dns.AddA("mx1.nointer.test", "127.0.0.5");
  w.Start();
  ParsedMetrics m = w.Probe("nointer.test");
  INFO(m.text());
  auto ep = Ep4("mx1.nointer.test", "127.0.0.5");
  CHECK(m.Value("mxtls_cert_verified", ep) == 0);
  CHECK(m.Value("mxtls_cert_chain_complete", ep) == 0);
  CHECK(m.Value("mxtls_cert_verify_info", With(ep, "reason", "incomplete_chain")) == 1);
  CHECK(m.Value("mxtls_cert_san_match", ep) == 1);
  CHECK(m.Value("mxtls_cert_chain_certificates", ep) == 1);
  CHECK(m.Count("mxtls_chain_earliest_not_after_timestamp_seconds", ep) == 0);
}

TEST_CASE("expired certificate", "[integration]") {
  MailWorld w;
  w.Serve("127.0.0.6", w.Healthy(w.Leaf({"mx1.expired.test"},
                                        system_clock::now() - hours(24 * 3))));
  w.dns.AddMx("expired.test", 10, "mx1.expired.test");
  w.dns.AddA("mx1.expired.test", "127.0.0.6");
  w.Start();
  ParsedMetrics m = w.Probe("expired.test");
  INFO(m.text());
  auto ep = Ep4("mx1.expired.test", "127.0.0.6");
  CHECK(m.Value("probe_success") == 1);
  CHECK(m.Value("mxtls_cert_verified", ep) == 0);
  CHECK(m.Value("mxtls_cert_verify_info", With(ep, "reason", "expired")) == 1);
  CHECK(m.Value("mxtls_cert_days_to_expiry", ep).value_or(0) == Approx(-3).margin(0.01));
  CHECK(m.Value("mxtls_domain_cert_days_to_expiry_min").value_or(0) ==
        Approx(-3).margin(0.01));
}

TEST_CASE("backup MX without STARTTLS", "[integration]") {
  MailWorld w;
  w.Serve("127.0.0.7", w.Healthy(w.Leaf({"mx1.nostarttls.test"})));
  SmtpFixtureOptions plain;
  plain.offer_starttls = false;
  w.Serve("127.0.0.8", plain);
  w.dns.AddMx("nostarttls.test", 10, "mx1.nostarttls.test");
  w.dns.AddMx("nostarttls.test", 50, "backup.nostarttls.test");
  w.dns.AddA("mx1.nostarttls.test", "127.0.0.7");
  w.dns.AddA("backup.nostarttls.test", "127.0.0.8");
  w.Start();
  ParsedMetrics m = w.Probe("nostarttls.test");
  INFO(m.text());
  auto backup = Ep4("backup.nostarttls.test", "127.0.0.8");
  CHECK(m.Value("probe_success") == 1);
  CHECK(m.Value("mxtls_endpoint_up", backup) == 1);
  CHECK(m.Value("mxtls_starttls_offered", backup) == 0);
  CHECK(m.Count("mxtls_tls_handshake_success", backup) == 0);
  CHECK(m.Count("mxtls_cert_verified", backup) == 0);
  CHECK(m.Value("mxtls_endpoint_failure_info",
                With(With(backup, "stage", "starttls"), "reason", "no_starttls")) == 1);
  CHECK(m.Value("mxtls_starttls_offered", Ep4("mx1.nostarttls.test", "127.0.0.7")) == 1);
}

TEST_CASE("STARTTLS on the last EHLO line and a multi-line greeting", "[integration]") {
  MailWorld w;
  SmtpFixtureOptions o = w.Healthy(w.Leaf({"mx1.lastline.test"}));
  o.starttls_last = true;
  o.greeting_lines = {"220-mx1.lastline.test ESMTP", "220-please wait for the whole greeting",
                      "220 ready"};
  auto& server = w.Serve("127.0.0.9", o);
  w.dns.AddMx("lastline.test", 10, "mx1.lastline.test");
  w.dns.AddA("mx1.lastline.test", "127.0.0.9");
  w.Start();
  ParsedMetrics m = w.Probe("lastline.test");
  INFO(m.text());
  auto ep = Ep4("mx1.lastline.test", "127.0.0.9");
  CHECK(m.Value("mxtls_endpoint_up", ep) == 1);
  CHECK(m.Value("mxtls_starttls_offered", ep) == 1);
  CHECK(m.Value("mxtls_tls_handshake_success", ep) == 1);
  // The main session with SNI = the MX name as published and one without SNI (what Postfix
  // and Exim send by default), then the short ones that are cached for hours: TLS 1.0 and 1.1
  // offered together (this server picks 1.1, so 1.0 alone follows), TLS 1.2, and RSA only
  // (TLS 1.3 and the ECDSA leaf are the main session's). None speaks before the whole
  // greeting; the two full sessions EHLO again over TLS and QUIT, the short ones whose
  // handshake completes say QUIT without EHLO (the RSA-only one is refused by this ECDSA
  // server), so that the server logs no lost connection for them.
  CHECK(m.Value("mxtls_endpoint_smtp_sessions", ep) == 6);
  REQUIRE(server.WaitForSessions(6, milliseconds(3000)));
  auto sessions = server.sessions();
  REQUIRE(sessions.size() == 6);
  int full_with_sni = 0, full_without_sni = 0, short_sessions = 0;
  for (const auto& session : sessions) {
    CHECK_FALSE(session.pre_greet_talk);
    CHECK(session.starttls_accepted);
    REQUIRE(session.commands.size() >= 2);
    CHECK(session.commands[0] == "EHLO prober.test");
    CHECK(session.commands[1] == "STARTTLS");
    const bool full =
        !session.tls_commands.empty() && session.tls_commands[0] == "EHLO prober.test";
    if (!full) {
      ++short_sessions;
      if (session.tls_established) {
        CHECK(session.tls_commands == std::vector<std::string>{"QUIT"});
        CHECK(session.quit);
      }
      continue;
    }
    CHECK(session.tls_established);
    CHECK(session.quit);
    if (session.sni == std::optional<std::string>("mx1.lastline.test")) ++full_with_sni;
    if (!session.sni) ++full_without_sni;
  }
  CHECK(full_with_sni == 1);
  CHECK(full_without_sni == 1);
  CHECK(short_sessions == 4);
  for (const char* version : {"TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"}) {
    CHECK(m.Value("mxtls_tls_version_supported", With(ep, "version", version)) == 1);
  }
  CHECK(m.Value("mxtls_key_type_handshake_success", With(ep, "key_type", "ecdsa")) == 1);
  CHECK(m.Value("mxtls_key_type_handshake_success", With(ep, "key_type", "rsa")) == 0);
  // The next probe reuses every slow-changing observation: one session.
  ParsedMetrics again = w.Probe("lastline.test");
  CHECK(again.Value("mxtls_endpoint_smtp_sessions", ep) == 1);
  CHECK(again.Value("mxtls_tls_version_supported", With(ep, "version", "TLSv1.3")) == 1);
  CHECK(again.Value("mxtls_key_type_handshake_success", With(ep, "key_type", "ecdsa")) == 1);
  CHECK(again.Value("mxtls_key_type_handshake_success", With(ep, "key_type", "rsa")) == 0);
  REQUIRE(server.WaitForSessions(7, milliseconds(2000)));
  CHECK(server.connection_count() == 7);
}

TEST_CASE("554 greeting: the prober is refused", "[integration]") {
  MailWorld w;
  SmtpFixtureOptions o;
  o.greeting_raw = "554 5.7.1 Service unavailable; client host blocked\r\n";
  w.Serve("127.0.0.10", o);
  w.dns.AddMx("refused.test", 10, "mx1.refused.test");
  w.dns.AddA("mx1.refused.test", "127.0.0.10");
  w.Start();
  ParsedMetrics m = w.Probe("refused.test");
  INFO(m.text());
  auto ep = Ep4("mx1.refused.test", "127.0.0.10");
  CHECK(m.Value("mxtls_endpoint_up", ep) == 0);
  CHECK(m.Value("mxtls_endpoint_failure_info",
                With(With(ep, "stage", "greeting"), "reason", "greeting_554")) == 1);
  CHECK(m.Value("probe_success") == 0);
  CHECK(m.Value("mxtls_probe_failure_info", {{"reason", "endpoint_failed"}}) == 1);
}

TEST_CASE("IPv6 endpoint of an MX serves a stale certificate", "[integration]") {
  if (!Ipv6LoopbackAvailable()) {
    WARN("IPv6 loopback unavailable: skipped");
    return;
  }
  MailWorld w;
  TestCert fresh = w.Leaf({"mx1.v6stale.test"});
  TestCert stale = w.Leaf({"mx1.v6stale.test"}, system_clock::now() - hours(24 * 10));
  w.Serve("127.0.0.11", w.Healthy(fresh));
  w.Serve("::1", w.Healthy(stale));
  w.dns.AddMx("v6stale.test", 10, "mx1.v6stale.test");
  w.dns.AddA("mx1.v6stale.test", "127.0.0.11");
  w.dns.AddAAAA("mx1.v6stale.test", "::1");
  w.Start();
  ParsedMetrics m = w.Probe("v6stale.test");
  INFO(m.text());
  auto v4 = Ep4("mx1.v6stale.test", "127.0.0.11");
  auto v6 = Ep6("mx1.v6stale.test", "::1");
  CHECK(m.Value("mxtls_cert_verified", v4) == 1);
  CHECK(m.Value("mxtls_cert_verified", v6) == 0);
  CHECK(m.Value("mxtls_cert_verify_info", With(v6, "reason", "expired")) == 1);
  CHECK(m.Value("mxtls_cert_days_to_expiry", v6).value_or(0) < 0);
  CHECK(m.Value("mxtls_cert_days_to_expiry", v4).value_or(0) > 80);
  CHECK(FingerprintOf(m, v4) != FingerprintOf(m, v6));
}

TEST_CASE("a server that never greets: deadline respected, others still reported",
          "[integration]") {
  MailWorld w;
  w.Serve("127.0.0.12", w.Healthy(w.Leaf({"mx1.silent.test"})));
  SmtpFixtureOptions silent;
  silent.never_greet = true;
  w.Serve("127.0.0.13", silent);
  w.dns.AddMx("silent.test", 10, "mx1.silent.test");
  w.dns.AddMx("silent.test", 20, "mx2.silent.test");
  w.dns.AddA("mx1.silent.test", "127.0.0.12");
  w.dns.AddA("mx2.silent.test", "127.0.0.13");
  w.Start("    timeouts:\n      greeting: 1s\n");
  auto start = std::chrono::steady_clock::now();
  ParsedMetrics m = w.Probe("silent.test");
  double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  INFO(m.text());
  CHECK(elapsed < 3.0);
  auto quiet = Ep4("mx2.silent.test", "127.0.0.13");
  CHECK(m.Value("mxtls_endpoint_up", quiet) == 0);
  CHECK(m.Value("mxtls_endpoint_failure_info",
                With(With(quiet, "stage", "greeting"), "reason", "timeout")) == 1);
  CHECK(m.Value("mxtls_cert_verified", Ep4("mx1.silent.test", "127.0.0.12")) == 1);
  CHECK(m.Value("probe_success") == 0);

  // The scrape timeout bounds the whole probe too: 1.2 s minus the 0.5 s offset.
  MailWorld w2;
  w2.Serve("127.0.0.14", silent);
  w2.dns.AddMx("silent2.test", 10, "mx1.silent2.test");
  w2.dns.AddA("mx1.silent2.test", "127.0.0.14");
  w2.Start();
  start = std::chrono::steady_clock::now();
  ParsedMetrics m2 = w2.Probe("silent2.test", "1.2");
  elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(elapsed < 1.5);
  CHECK(m2.Value("probe_timeout_seconds").value_or(0) == Approx(0.7));
  CHECK(m2.Value("mxtls_endpoint_failure_info",
                 With(With(Ep4("mx1.silent2.test", "127.0.0.14"), "stage", "greeting"),
                      "reason", "timeout")) == 1);
}

TEST_CASE("garbage instead of a ServerHello", "[integration]") {
  MailWorld w;
  SmtpFixtureOptions o;
  o.garbage_instead_of_tls = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
  w.Serve("127.0.0.15", o);
  w.dns.AddMx("garbage.test", 10, "mx1.garbage.test");
  w.dns.AddA("mx1.garbage.test", "127.0.0.15");
  w.Start();
  ParsedMetrics m = w.Probe("garbage.test");
  INFO(m.text());
  auto ep = Ep4("mx1.garbage.test", "127.0.0.15");
  CHECK(m.Value("mxtls_starttls_offered", ep) == 1);
  CHECK(m.Value("mxtls_tls_handshake_success", ep) == 0);
  // Non-TLS bytes after the STARTTLS 220 are injection whichever segment carries them.
  CHECK(m.Value("mxtls_endpoint_failure_info",
                With(With(ep, "stage", "starttls"), "reason", "starttls_injection")) == 1);
  CHECK(m.Count("mxtls_cert_verified", ep) == 0);
}

TEST_CASE("bytes injected after the STARTTLS 220", "[integration]") {
  MailWorld w;
  SmtpFixtureOptions o = w.Healthy(w.Leaf({"mx1.inject.test"}));
  o.inject_after_starttls = "250-injected\r\n";
  w.Serve("127.0.0.16", o);
  w.dns.AddMx("inject.test", 10, "mx1.inject.test");
  w.dns.AddA("mx1.inject.test", "127.0.0.16");
  w.Start();
  ParsedMetrics m = w.Probe("inject.test");
  INFO(m.text());
  auto ep = Ep4("mx1.inject.test", "127.0.0.16");
  CHECK(m.Value("mxtls_endpoint_failure_info",
                With(With(ep, "stage", "starttls"), "reason", "starttls_injection")) == 1);
  // The handshake was due and did not happen.
  CHECK(m.Value("mxtls_tls_handshake_success", ep) == 0);
}

TEST_CASE("null MX, implicit MX, CNAME MX and SERVFAIL", "[integration]") {
  MailWorld w;
  w.Serve("127.0.0.17", w.Healthy(w.Leaf({"implicit.test"})));
  w.Serve("127.0.0.18", w.Healthy(w.Leaf({"mx.cname.test"})));
  w.dns.AddMx("nullmx.test", 0, ".");
  w.dns.AddA("implicit.test", "127.0.0.17");
  w.dns.AddMx("cname.test", 10, "mx.cname.test");
  w.dns.AddCname("mx.cname.test", "real.cname.test");
  w.dns.AddA("real.cname.test", "127.0.0.18");
  w.dns.AddA("servfail.test", "127.0.0.17");
  w.dns.SetRcode("servfail.test", 2);
  w.Start();

  ParsedMetrics null_mx = w.Probe("nullmx.test");
  CHECK(null_mx.Value("mxtls_null_mx") == 1);
  CHECK(null_mx.Value("probe_success") == 1);
  CHECK(null_mx.Value("mxtls_endpoints") == 0);

  ParsedMetrics implicit = w.Probe("implicit.test");
  INFO(implicit.text());
  CHECK(implicit.Value("mxtls_implicit_mx") == 1);
  CHECK(implicit.Value("mxtls_mx_info", {{"mx", "implicit.test"}, {"preference", "0"}}) == 1);
  CHECK(implicit.Value("mxtls_cert_san_match", Ep4("implicit.test", "127.0.0.17")) == 1);
  CHECK(implicit.Value("probe_success") == 1);

  ParsedMetrics cname = w.Probe("cname.test");
  INFO(cname.text());
  CHECK(cname.Value("mxtls_mx_info", {{"mx", "mx.cname.test"}, {"cname", "real.cname.test"}}) ==
        1);
  CHECK(cname.Value("mxtls_cert_san_match", Ep4("mx.cname.test", "127.0.0.18")) == 1);

  ParsedMetrics missing = w.Probe("nonexistent.test");
  INFO(missing.text());
  CHECK(missing.Value("probe_success") == 0);
  CHECK(missing.Value("mxtls_probe_failure_info", {{"reason", "dns_nxdomain"}}) == 1);

  ParsedMetrics servfail = w.Probe("servfail.test");
  INFO(servfail.text());
  CHECK(servfail.Value("probe_success") == 0);
  CHECK(servfail.Value("mxtls_probe_failure_info", {{"reason", "dns_servfail"}}) == 1);
  // Never fall back to the implicit MX after SERVFAIL: a sender would defer.
  CHECK(servfail.Value("mxtls_implicit_mx") == 0);
  CHECK(servfail.Value("mxtls_endpoints") == 0);
}

TEST_CASE("endpoints are probed in parallel: the slowest sets the pace", "[integration][timing]") {
  MailWorld w;
  const int kHosts = 5;
  for (int i = 0; i < kHosts; ++i) {
    std::string name = "mx" + std::to_string(i) + ".slow.test";
    std::string address = "127.0.0." + std::to_string(20 + i);
    SmtpFixtureOptions o = w.Healthy(w.Leaf({name}));
    o.greeting_delay = milliseconds(700);
    w.Serve(address, o);
    w.dns.AddMx("slow.test", 10 + i, name);
    w.dns.AddA(name, address);
  }
  w.Start();
  ParsedMetrics m = w.Probe("slow.test");
  INFO(m.text());
  CHECK(m.Value("probe_success") == 1);
  CHECK(m.Value("mxtls_endpoints") == kHosts);
  double duration = m.Value("probe_duration_seconds").value_or(99);
  CHECK(duration >= 0.7);
  CHECK(duration < 0.7 * kHosts / 2);  // far below the 3.5 s a serial probe would take
}

TEST_CASE("debug output shows the probe log", "[integration]") {
  MailWorld w;
  w.Serve("127.0.0.30", w.Healthy(w.Leaf({"mx1.debug.test"})));
  w.dns.AddMx("debug.test", 10, "mx1.debug.test");
  w.dns.AddA("mx1.debug.test", "127.0.0.30");
  w.Start();
  std::string debug;
  w.Probe("debug.test", "10", &debug);
  CHECK(debug.find("MX debug.test: 10 mx1.debug.test") != std::string::npos);
  CHECK(debug.find("TLS established") != std::string::npos);
  CHECK(debug.find("Metrics that would have been returned") != std::string::npos);
}

}  // namespace
}  // namespace mxtls::testing

namespace mxtls::testing {
namespace {

TEST_CASE("shared IP: without SNI the server presents a default certificate for another name",
          "[integration]") {
  MailWorld w;
  TestCert own = w.Leaf({"mx1.shared.test"});
  TestCert other = w.Leaf({"default.hoster.test"});
  SmtpFixtureOptions o;
  o.certs = {CertEntry::FromCerts({"mx1.shared.test"}, own, {&w.pki.intermediate()}),
             CertEntry::FromCerts({}, other, {&w.pki.intermediate()})};
  auto& server = w.Serve("127.0.0.40", o);
  w.dns.AddMx("shared.test", 10, "mx1.shared.test");
  w.dns.AddA("mx1.shared.test", "127.0.0.40");
  // Sessions are counted below: only the main and the no-SNI ones.
  w.Start("", "      version_check: false\n      key_type_check: false\n");
  ParsedMetrics m = w.Probe("shared.test");
  INFO(m.text());
  auto ep = Ep4("mx1.shared.test", "127.0.0.40");
  CHECK(m.Value("mxtls_cert_san_match", ep) == 1);
  CHECK(m.Value("mxtls_cert_sni_default_match", ep) == 0);
  CHECK(m.Value("mxtls_nosni_tls_handshake_success", ep) == 1);
  CHECK(m.Value("mxtls_nosni_cert_verified", ep) == 1);
  CHECK(m.Value("mxtls_nosni_cert_san_match", ep) == 0);
  CHECK(m.Value("mxtls_nosni_cert_days_to_expiry", ep).value_or(0) == Approx(90).margin(0.1));
  CHECK(m.Count("mxtls_nosni_cert_info", With(ep, "subject", "CN=default.hoster.test")) == 1);
  // An opportunistic sender delivers; a strict sender without SNI refuses the wrong name.
  CHECK(m.Value("mxtls_sender_delivers", With(ep, "sender", "opportunistic")) == 1);
  CHECK(m.Value("mxtls_sender_delivers", With(ep, "sender", "no_sni_strict")) == 0);
  CHECK(m.Value("mxtls_sender_verdict_info",
                With(With(ep, "sender", "no_sni_strict"), "reason", "name_mismatch")) == 1);
  CHECK(m.Value("mxtls_domain_sender_delivers", {{"sender", "no_sni_strict"}}) == 0);
  CHECK(m.Value("mxtls_domain_sender_delivers", {{"sender", "opportunistic"}}) == 1);
  double age = m.Value("mxtls_nosni_check_age_seconds", ep).value_or(-1);
  CHECK(age >= 0);
  CHECK(age < 5);

  // The no-SNI observation is cached (default interval 1 h): the next probe opens one
  // session, and reports the observation as older.
  REQUIRE(server.WaitForSessions(2, milliseconds(2000)));
  ParsedMetrics again = w.Probe("shared.test");
  REQUIRE(server.WaitForSessions(3, milliseconds(2000)));
  CHECK(server.connection_count() == 3);
  CHECK(again.Value("mxtls_cert_sni_default_match", ep) == 0);
  CHECK(again.Value("mxtls_nosni_check_age_seconds", ep).value_or(-1) > age);
}

TEST_CASE("no-SNI check every probe when its interval is 0, and off when disabled",
          "[integration]") {
  MailWorld w;
  auto& server = w.Serve("127.0.0.41", w.Healthy(w.Leaf({"mx1.nocache.test"})));
  w.dns.AddMx("nocache.test", 10, "mx1.nocache.test");
  w.dns.AddA("mx1.nocache.test", "127.0.0.41");
  w.Start("", "      no_sni_check_interval: 0s\n      version_check: false\n"
              "      key_type_check: false\n");
  ParsedMetrics m = w.Probe("nocache.test");
  INFO(m.text());
  w.Probe("nocache.test");
  REQUIRE(server.WaitForSessions(4, milliseconds(3000)));
  CHECK(server.connection_count() == 4);
  CHECK(m.Value("mxtls_cert_sni_default_match", Ep4("mx1.nocache.test", "127.0.0.41")) == 1);

  MailWorld off;
  auto& plain = off.Serve("127.0.0.43", off.Healthy(off.Leaf({"mx1.nosnioff.test"})));
  off.dns.AddMx("nosnioff.test", 10, "mx1.nosnioff.test");
  off.dns.AddA("mx1.nosnioff.test", "127.0.0.43");
  off.Start("", "      no_sni_check: false\n      version_check: false\n"
                "      key_type_check: false\n");
  ParsedMetrics o = off.Probe("nosnioff.test");
  REQUIRE(plain.WaitForSessions(1, milliseconds(2000)));
  CHECK(plain.connection_count() == 1);
  CHECK(o.Count("mxtls_cert_sni_default_match") == 0);
  CHECK(o.Count("mxtls_sender_delivers", {{"sender", "no_sni_strict"}}) == 0);
}

TEST_CASE("certificate consistency across the addresses of an MX", "[integration]") {
  if (!Ipv6LoopbackAvailable()) {
    WARN("IPv6 loopback unavailable: skipped");
    return;
  }
  MailWorld w;
  TestCert one = w.Leaf({"mx1.same.test", "mx1.diff.test"});
  TestCert two = w.Leaf({"mx1.diff.test"});
  SmtpFixtureOptions v6;
  v6.certs = {CertEntry::FromCerts({"mx1.same.test"}, one, {&w.pki.intermediate()}),
              CertEntry::FromCerts({"mx1.diff.test"}, two, {&w.pki.intermediate()})};
  w.Serve("127.0.0.42", w.Healthy(one));
  w.Serve("::1", v6);
  for (const char* d : {"same.test", "diff.test"}) {
    std::string mx = std::string("mx1.") + d;
    w.dns.AddMx(d, 10, mx);
    w.dns.AddA(mx, "127.0.0.42");
    w.dns.AddAAAA(mx, "::1");
  }
  w.Start();
  ParsedMetrics same = w.Probe("same.test");
  ParsedMetrics diff = w.Probe("diff.test");
  INFO(same.text());
  INFO(diff.text());
  CHECK(same.Value("mxtls_mx_cert_consistent", {{"mx", "mx1.same.test"}}) == 1);
  CHECK(diff.Value("mxtls_mx_cert_consistent", {{"mx", "mx1.diff.test"}}) == 0);
  CHECK(diff.Value("mxtls_domain_mx_names_covered") == 1);
}

}  // namespace
}  // namespace mxtls::testing

namespace mxtls::testing {
namespace {

TEST_CASE("refused connections and a 421 greeting have their own reasons", "[integration]") {
  MailWorld w;
  SmtpFixtureOptions busy;
  busy.greeting_raw = "421 4.3.2 Too many connections, try again later\r\n";
  w.Serve("127.0.0.44", busy);
  // 127.0.0.45 has no server on the SMTP port: the connection is refused.
  w.dns.AddMx("closed.test", 10, "mx1.closed.test");
  w.dns.AddMx("closed.test", 20, "mx2.closed.test");
  w.dns.AddA("mx1.closed.test", "127.0.0.44");
  w.dns.AddA("mx2.closed.test", "127.0.0.45");
  w.Start();
  ParsedMetrics m = w.Probe("closed.test");
  INFO(m.text());
  auto busy_ep = Ep4("mx1.closed.test", "127.0.0.44");
  auto closed_ep = Ep4("mx2.closed.test", "127.0.0.45");
  CHECK(m.Value("mxtls_endpoint_failure_info",
                With(With(busy_ep, "stage", "greeting"), "reason", "greeting_421")) == 1);
  CHECK(m.Value("mxtls_endpoint_failure_info",
                With(With(closed_ep, "stage", "connect"), "reason", "refused")) == 1);
  CHECK(m.Value("mxtls_endpoint_up", closed_ep) == 0);
  CHECK(m.Value("mxtls_sender_delivers", With(closed_ep, "sender", "opportunistic")) == 0);
  CHECK(m.Value("mxtls_sender_verdict_info",
                With(With(closed_ep, "sender", "opportunistic"), "reason", "refused")) == 1);
  CHECK(m.Value("probe_success") == 0);
}

}  // namespace
}  // namespace mxtls::testing

namespace mxtls::testing {
namespace {

TEST_CASE("addresses per MX host are capped", "[integration]") {
  MailWorld w;
  for (const char* a : {"127.0.0.46", "127.0.0.47", "127.0.0.48"}) {
    w.Serve(a, w.Healthy(w.Leaf({"mx1.many.test"})));
    w.dns.AddA("mx1.many.test", a);
  }
  w.dns.AddMx("many.test", 10, "mx1.many.test");
  w.Start("    max_addresses_per_mx: 2\n");
  ParsedMetrics m = w.Probe("many.test");
  INFO(m.text());
  CHECK(m.Value("mxtls_mx_addresses", {{"mx", "mx1.many.test"}, {"family", "ipv4"}}) == 2);
  CHECK(m.Value("mxtls_mx_addresses_skipped", {{"mx", "mx1.many.test"}}) == 1);
  CHECK(m.Value("mxtls_endpoints") == 2);
  CHECK(m.Value("probe_success") == 1);
}

}  // namespace
}  // namespace mxtls::testing
