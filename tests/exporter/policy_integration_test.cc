// End-to-end MTA-STS and TLS-RPT checks through the running exporter: policy hosts served
// by an HTTPS fixture with certificates from the test PKI, MX hosts by fixture SMTP servers,
// DNS by the fixture responder. Each case is a way real policies break.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <thread>

#include "tests/support/mail_world.h"

namespace mxtls::testing {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::system_clock;

const char* kEnforce =
    "version: STSv1\nmode: enforce\nmx: mx1.sts.test\nmx: *.backup.sts.test\nmax_age: 86400\n";

// One domain with two MX hosts, both healthy, and a policy published at 127.0.0.60.
struct StsDomain {
  explicit StsDomain(MailWorld& w, const std::string& mx2_cert_name = "mx2.backup.sts.test") {
    w.Serve("127.0.0.61", w.Healthy(w.Leaf({"mx1.sts.test"})));
    w.Serve("127.0.0.62", w.Healthy(w.Leaf({mx2_cert_name})));
    w.dns.AddMx("sts.test", 10, "mx1.sts.test");
    w.dns.AddMx("sts.test", 20, "mx2.backup.sts.test");
    w.dns.AddA("mx1.sts.test", "127.0.0.61");
    w.dns.AddA("mx2.backup.sts.test", "127.0.0.62");
    w.dns.AddTxt("_smtp._tls.sts.test", {"v=TLSRPTv1; rua=mailto:tlsrpt@sts.test"});
  }
};

TEST_CASE("MTA-STS enforce: valid policy covering every MX", "[integration][mta-sts]") {
  MailWorld w;
  StsDomain d(w);
  auto& policy = w.PublishPolicy("sts.test", "127.0.0.60", "20261123a", kEnforce);
  w.Start();
  ParsedMetrics m = w.Probe("sts.test");
  INFO(m.text());
  CHECK(m.Value("mxtls_mta_sts_txt_valid") == 1);
  CHECK(m.Value("mxtls_mta_sts_policy_valid") == 1);
  CHECK(m.Value("mxtls_mta_sts_policy_info", {{"mode", "enforce"}, {"id", "20261123a"}}) == 1);
  CHECK(m.Value("mxtls_mta_sts_policy_mode", {{"mode", "enforce"}}) == 1);
  CHECK(m.Value("mxtls_mta_sts_policy_max_age_seconds") == 86400);
  CHECK(m.Count("mxtls_mta_sts_policy_failure_info") == 0);
  CHECK(m.Value("mxtls_mta_sts_mx_covered", {{"mx", "mx1.sts.test"}}) == 1);
  CHECK(m.Value("mxtls_mta_sts_mx_covered", {{"mx", "mx2.backup.sts.test"}}) == 1);
  CHECK(m.Value("mxtls_mta_sts_mx_coverage_ratio") == 1);
  CHECK(m.Value("mxtls_mta_sts_endpoint_compliant", Ep4("mx1.sts.test", "127.0.0.61")) == 1);
  CHECK(m.Value("mxtls_mta_sts_endpoint_compliant", Ep4("mx2.backup.sts.test", "127.0.0.62")) ==
        1);
  CHECK(m.Value("mxtls_domain_sender_delivers", {{"sender", "mta_sts"}}) == 1);
  CHECK(m.Value("mxtls_mta_sts_host_cert_days_to_expiry").value_or(0) ==
        Approx(90).margin(0.1));
  CHECK(m.Value("mxtls_mta_sts_host_cert_verified") == 1);
  CHECK(m.Value("mxtls_mta_sts_id_not_bumped") == 0);
  CHECK(m.Value("mxtls_tlsrpt_record_valid") == 1);
  // The fetch used SNI and Host mta-sts.<domain> and the well-known path.
  auto records = policy.records();
  REQUIRE(records.size() == 1);
  CHECK(records[0].sni == std::optional<std::string>("mta-sts.sts.test"));
  // Host carries the port when it is not 443 (only in tests).
  REQUIRE(records[0].host.has_value());
  CHECK(records[0].host->rfind("mta-sts.sts.test", 0) == 0);
  CHECK(records[0].request_line == "GET /.well-known/mta-sts.txt HTTP/1.1");
}

TEST_CASE("MTA-STS enforce with a certificate for another name: enforcing senders refuse",
          "[integration][mta-sts]") {
  MailWorld w;
  StsDomain d(w, "mail.sts.test");  // mx2 presents a certificate for another name
  w.PublishPolicy("sts.test", "127.0.0.60", "1", kEnforce);
  w.Start();
  ParsedMetrics m = w.Probe("sts.test");
  INFO(m.text());
  auto mx2 = Ep4("mx2.backup.sts.test", "127.0.0.62");
  CHECK(m.Value("mxtls_mta_sts_endpoint_compliant", mx2) == 0);
  CHECK(m.Value("mxtls_sender_delivers", With(mx2, "sender", "mta_sts")) == 0);
  CHECK(m.Value("mxtls_sender_verdict_info",
                With(With(mx2, "sender", "mta_sts"), "reason", "name_mismatch")) == 1);
  CHECK(m.Value("mxtls_sender_delivers", With(mx2, "sender", "opportunistic")) == 1);
  CHECK(m.Value("mxtls_domain_sender_delivers", {{"sender", "mta_sts"}}) == 0);
  CHECK(m.Value("mxtls_domain_sender_delivers", {{"sender", "opportunistic"}}) == 1);
}

TEST_CASE("MTA-STS testing mode: failures are reported, mail still flows",
          "[integration][mta-sts]") {
  MailWorld w;
  StsDomain d(w, "mail.sts.test");
  w.PublishPolicy("sts.test", "127.0.0.60", "1",
                  "version: STSv1\r\nmode: testing\r\nmx: mx1.sts.test\r\n"
                  "mx: *.backup.sts.test\r\nmax_age: 604800\r\n");
  w.Start();
  ParsedMetrics m = w.Probe("sts.test");
  INFO(m.text());
  auto mx2 = Ep4("mx2.backup.sts.test", "127.0.0.62");
  CHECK(m.Value("mxtls_mta_sts_policy_mode", {{"mode", "testing"}}) == 1);
  CHECK(m.Value("mxtls_mta_sts_endpoint_compliant", mx2) == 0);
  CHECK(m.Value("mxtls_sender_delivers", With(mx2, "sender", "mta_sts")) == 1);
  CHECK(m.Value("mxtls_sender_verdict_info",
                With(With(mx2, "sender", "mta_sts"), "reason", "testing_name_mismatch")) == 1);
}

TEST_CASE("a wildcard pattern never covers the bare domain", "[integration][mta-sts]") {
  MailWorld w;
  w.Serve("127.0.0.63", w.Healthy(w.Leaf({"wild.test"})));
  w.Serve("127.0.0.64", w.Healthy(w.Leaf({"mx.wild.test"})));
  w.dns.AddMx("wild.test", 10, "wild.test");
  w.dns.AddMx("wild.test", 20, "mx.wild.test");
  w.dns.AddA("wild.test", "127.0.0.63");
  w.dns.AddA("mx.wild.test", "127.0.0.64");
  w.PublishPolicy("wild.test", "127.0.0.60", "1",
                  "version: STSv1\nmode: enforce\nmx: *.wild.test\nmax_age: 86400\n");
  w.Start();
  ParsedMetrics m = w.Probe("wild.test");
  INFO(m.text());
  CHECK(m.Value("mxtls_mta_sts_mx_covered", {{"mx", "wild.test"}}) == 0);
  CHECK(m.Value("mxtls_mta_sts_mx_covered", {{"mx", "mx.wild.test"}}) == 1);
  CHECK(m.Value("mxtls_mta_sts_mx_coverage_ratio") == 0.5);
  auto bare = Ep4("wild.test", "127.0.0.63");
  CHECK(m.Value("mxtls_mta_sts_endpoint_compliant", bare) == 0);
  CHECK(m.Value("mxtls_sender_verdict_info",
                With(With(bare, "sender", "mta_sts"), "reason", "not_covered")) == 1);
}

struct BrokenPolicyCase {
  const char* name;
  HttpsResponse response;
  const char* reason;
};

TEST_CASE("policies that cannot be used, with their RFC 8460 reasons",
          "[integration][mta-sts]") {
  HttpsResponse wrong_type = HttpsResponse::Ok(kEnforce, "text/html");
  HttpsResponse charset = HttpsResponse::Ok(kEnforce, "text/plain; charset=utf-8");
  HttpsResponse oversize = HttpsResponse::Ok(std::string(kEnforce) + std::string(70000, '#'));
  HttpsResponse chunked = HttpsResponse::Ok(kEnforce);
  chunked.framing = HttpsResponse::Framing::kChunked;
  HttpsResponse bad_grammar = HttpsResponse::Ok("version: STSv1\nmode: enforcing\nmx: a\n");
  const BrokenPolicyCase cases[] = {
      {"redirect", HttpsResponse::Redirect("https://elsewhere.test/mta-sts.txt"),
       "sts-policy-fetch-error"},
      {"404", HttpsResponse::NotFound(), "sts-policy-fetch-error"},
      {"wrong media type", wrong_type, "sts-policy-invalid"},
      {"oversize", oversize, "sts-policy-invalid"},
      {"bad grammar", bad_grammar, "sts-policy-invalid"},
      {"charset parameter is fine", charset, ""},
      {"chunked is fine", chunked, ""},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    MailWorld w;
    StsDomain d(w);
    w.dns.AddTxt("_mta-sts.sts.test", {"v=STSv1; id=1"});
    w.dns.AddA("mta-sts.sts.test", "127.0.0.60");
    auto& server = w.ServePolicy("127.0.0.60", w.Leaf({"mta-sts.sts.test"}), c.response);
    w.Start();
    ParsedMetrics m = w.Probe("sts.test");
    INFO(m.text());
    if (std::string(c.reason).empty()) {
      CHECK(m.Value("mxtls_mta_sts_policy_valid") == 1);
      CHECK(m.Count("mxtls_mta_sts_policy_failure_info") == 0);
    } else {
      CHECK(m.Value("mxtls_mta_sts_policy_valid") == 0);
      CHECK(m.Value("mxtls_mta_sts_policy_failure_info", {{"reason", c.reason}}) == 1);
      CHECK(m.Value("mxtls_mta_sts_policy_mode", {{"mode", "none"}}) == 1);
      CHECK(m.Value("mxtls_mta_sts_mx_coverage_ratio") == 0);
      CHECK(m.Count("mxtls_mta_sts_endpoint_compliant") == 0);
    }
    // A redirect is never followed: one request only.
    CHECK(server.request_count() == 1);
    CHECK(m.Value("probe_success") == 1);  // policy problems are findings, not probe failures
  }
}

TEST_CASE("a policy host trickling its body is cut at the deadline",
          "[integration][mta-sts][timing]") {
  MailWorld w;
  StsDomain d(w);
  w.dns.AddTxt("_mta-sts.sts.test", {"v=STSv1; id=1"});
  w.dns.AddA("mta-sts.sts.test", "127.0.0.60");
  HttpsResponse slow = HttpsResponse::Ok(kEnforce);
  slow.byte_delay = milliseconds(300);
  w.ServePolicy("127.0.0.60", w.Leaf({"mta-sts.sts.test"}), slow);
  w.Start();
  auto start = std::chrono::steady_clock::now();
  ParsedMetrics m = w.Probe("sts.test", "2");  // 1.5 s budget
  double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  INFO(m.text());
  CHECK(elapsed < 2.0);
  CHECK(m.Value("mxtls_mta_sts_policy_valid") == 0);
  CHECK(m.Value("mxtls_mta_sts_policy_failure_info", {{"reason", "sts-policy-fetch-error"}}) ==
        1);
  // The MX endpoints were still judged within the same deadline.
  CHECK(m.Value("mxtls_cert_verified", Ep4("mx1.sts.test", "127.0.0.61")) == 1);
}

TEST_CASE("an expired certificate on the policy host disables the policy",
          "[integration][mta-sts]") {
  MailWorld w;
  StsDomain d(w);
  w.dns.AddTxt("_mta-sts.sts.test", {"v=STSv1; id=1"});
  w.dns.AddA("mta-sts.sts.test", "127.0.0.60");
  w.ServePolicy("127.0.0.60", w.Leaf({"mta-sts.sts.test"}, system_clock::now() - hours(48)),
                HttpsResponse::Ok(kEnforce));
  w.Start();
  ParsedMetrics m = w.Probe("sts.test");
  INFO(m.text());
  CHECK(m.Value("mxtls_mta_sts_policy_valid") == 0);
  CHECK(m.Value("mxtls_mta_sts_policy_failure_info", {{"reason", "sts-webpki-invalid"}}) == 1);
  CHECK(m.Value("mxtls_mta_sts_host_cert_days_to_expiry").value_or(0) ==
        Approx(-2).margin(0.01));
  CHECK(m.Value("mxtls_mta_sts_host_cert_verified") == 0);
  CHECK(m.Value("mxtls_mta_sts_policy_mode", {{"mode", "none"}}) == 1);
}

TEST_CASE("a policy changed without a new id is reported", "[integration][mta-sts]") {
  MailWorld w;
  StsDomain d(w);
  auto& server = w.PublishPolicy("sts.test", "127.0.0.60", "v1", kEnforce);
  // The content is compared when a fetch happens: here every probe fetches.
  w.mta_sts_extra = "      refetch_interval: 0s\n";
  w.Start();
  ParsedMetrics first = w.Probe("sts.test");
  CHECK(first.Value("mxtls_mta_sts_id_not_bumped") == 0);
  server.SetResponse(HttpsResponse::Ok(
      "version: STSv1\nmode: enforce\nmx: mx1.sts.test\nmax_age: 86400\n"));
  ParsedMetrics second = w.Probe("sts.test");
  INFO(second.text());
  CHECK(second.Value("mxtls_mta_sts_id_not_bumped") == 1);
  // refetch_interval 0: fetched again under the same id.
  CHECK(server.request_count() == 2);
  CHECK(second.Value("mxtls_mta_sts_policy_age_seconds") == 0);
  // Reformatting the same policy (CRLF, order) is not a change.
  server.SetResponse(HttpsResponse::Ok(
      "version: STSv1\r\nmax_age: 86400\r\nmx: *.backup.sts.test\r\nmx: mx1.sts.test\r\n"
      "mode: enforce\r\n"));
  w.dns.RemoveName("_mta-sts.sts.test");
  w.dns.AddTxt("_mta-sts.sts.test", {"v=STSv1; id=v2"});
  ParsedMetrics third = w.Probe("sts.test");
  CHECK(third.Value("mxtls_mta_sts_id_not_bumped") == 0);
  server.SetResponse(HttpsResponse::Ok(kEnforce));
  ParsedMetrics fourth = w.Probe("sts.test");
  CHECK(fourth.Value("mxtls_mta_sts_id_not_bumped") == 0);
}

TEST_CASE("a fetched policy is reused within refetch_interval, fetched again for a new id",
          "[integration][mta-sts]") {
  MailWorld w;
  StsDomain d(w);
  auto& server = w.PublishPolicy("sts.test", "127.0.0.60", "v1", kEnforce);
  w.Start();  // the default refetch_interval (5m)
  ParsedMetrics first = w.Probe("sts.test");
  CHECK(first.Value("mxtls_mta_sts_policy_age_seconds") == 0);
  CHECK(server.request_count() == 1);

  ParsedMetrics second = w.Probe("sts.test");
  INFO(second.text());
  CHECK(server.request_count() == 1);
  CHECK(second.Value("mxtls_mta_sts_policy_age_seconds").value_or(0) > 0);
  CHECK(second.Value("mxtls_mta_sts_policy_age_seconds").value_or(999) < 60);
  // The remembered observation is judged in full again.
  CHECK(second.Value("mxtls_mta_sts_policy_valid") == 1);
  CHECK(second.Value("mxtls_mta_sts_policy_info", {{"mode", "enforce"}, {"id", "v1"}}) == 1);
  CHECK(second.Value("mxtls_mta_sts_host_cert_verified") == 1);
  CHECK(second.Value("mxtls_mta_sts_mx_coverage_ratio") == 1);
  CHECK(second.Value("mxtls_domain_sender_delivers", {{"sender", "mta_sts"}}) == 1);

  // A new id is fetched at once.
  server.SetResponse(HttpsResponse::Ok(
      "version: STSv1\nmode: testing\nmx: mx1.sts.test\nmx: *.backup.sts.test\n"
      "max_age: 86400\n"));
  w.dns.RemoveName("_mta-sts.sts.test");
  w.dns.AddTxt("_mta-sts.sts.test", {"v=STSv1; id=v2"});
  ParsedMetrics third = w.Probe("sts.test");
  INFO(third.text());
  CHECK(server.request_count() == 2);
  CHECK(third.Value("mxtls_mta_sts_policy_age_seconds") == 0);
  CHECK(third.Value("mxtls_mta_sts_policy_info", {{"mode", "testing"}, {"id", "v2"}}) == 1);
}

// The exporter's clock is the real one here: the policy host's certificate expires between
// two probes, and the second, which reuses the first's fetch, must still see it expired.
TEST_CASE("a reused policy fetch has its host certificate judged again at every probe",
          "[integration][mta-sts]") {
  MailWorld w;
  StsDomain d(w);
  w.dns.AddTxt("_mta-sts.sts.test", {"v=STSv1; id=1"});
  w.dns.AddA("mta-sts.sts.test", "127.0.0.60");
  const auto expiry = system_clock::now() + std::chrono::seconds(5);
  auto& server = w.ServePolicy("127.0.0.60", w.Leaf({"mta-sts.sts.test"}, expiry),
                               HttpsResponse::Ok(kEnforce));
  w.Start();
  ParsedMetrics first = w.Probe("sts.test");
  REQUIRE(system_clock::now() < expiry);  // otherwise the machine was too slow to test this
  CHECK(first.Value("mxtls_mta_sts_policy_valid") == 1);
  CHECK(first.Value("mxtls_mta_sts_host_cert_verified") == 1);
  CHECK(first.Value("mxtls_mta_sts_host_cert_days_to_expiry").value_or(-1) > 0);

  std::this_thread::sleep_until(expiry + std::chrono::milliseconds(1500));
  ParsedMetrics second = w.Probe("sts.test");
  INFO(second.text());
  CHECK(server.request_count() == 1);  // not fetched again
  CHECK(second.Value("mxtls_mta_sts_policy_age_seconds").value_or(0) > 1);
  CHECK(second.Value("mxtls_mta_sts_host_cert_verified") == 0);
  CHECK(second.Value("mxtls_mta_sts_host_cert_days_to_expiry").value_or(0) < 0);
  CHECK(second.Value("mxtls_mta_sts_policy_valid") == 0);
  CHECK(second.Value("mxtls_mta_sts_policy_failure_info", {{"reason", "sts-webpki-invalid"}}) ==
        1);
  CHECK(second.Value("mxtls_mta_sts_policy_mode", {{"mode", "none"}}) == 1);
}

TEST_CASE("domains without policies report zeros, broken records say so",
          "[integration][mta-sts]") {
  MailWorld w;
  w.Serve("127.0.0.65", w.Healthy(w.Leaf({"mx1.plain.test"})));
  w.dns.AddMx("plain.test", 10, "mx1.plain.test");
  w.dns.AddA("mx1.plain.test", "127.0.0.65");
  w.dns.AddMx("broken.test", 10, "mx1.plain.test");
  w.dns.AddTxt("_mta-sts.broken.test", {"v=STSv1; id=one"});
  w.dns.AddTxt("_mta-sts.broken.test", {"v=STSv1; id=two"});
  w.dns.AddTxt("_smtp._tls.broken.test", {"v=TLSRPTv1; rua=ftp://reports.broken.test"});
  w.Start();
  ParsedMetrics plain = w.Probe("plain.test");
  INFO(plain.text());
  CHECK(plain.Value("mxtls_mta_sts_txt_present") == 0);
  CHECK(plain.Value("mxtls_mta_sts_txt_valid") == 0);
  CHECK(plain.Value("mxtls_mta_sts_policy_valid") == 0);
  CHECK(plain.Value("mxtls_mta_sts_mx_coverage_ratio") == 0);
  CHECK(plain.Value("mxtls_mta_sts_policy_mode", {{"mode", "none"}}) == 1);
  CHECK(plain.Count("mxtls_mta_sts_policy_failure_info") == 0);
  CHECK(plain.Value("mxtls_tlsrpt_record_valid") == 0);
  CHECK(plain.Value("mxtls_tlsrpt_record_present") == 0);
  // Without a policy an MTA-STS sender is opportunistic.
  CHECK(plain.Value("mxtls_sender_delivers",
                    With(Ep4("mx1.plain.test", "127.0.0.65"), "sender", "mta_sts")) == 1);

  ParsedMetrics broken = w.Probe("broken.test");
  INFO(broken.text());
  CHECK(broken.Value("mxtls_mta_sts_txt_present") == 1);
  CHECK(broken.Value("mxtls_mta_sts_txt_valid") == 0);
  CHECK(broken.Value("mxtls_tlsrpt_record_present") == 1);
  CHECK(broken.Value("mxtls_tlsrpt_record_valid") == 0);
}

}  // namespace
}  // namespace mxtls::testing
