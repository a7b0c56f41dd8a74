// TLS-RPT report parsing (exporter/tlsrpt_report.h): the RFC 8460 example, reports shaped
// like Google's and Microsoft's with their quirks, refusals, date-times and bounded gzip.
#include <catch2/catch.hpp>

#include "exporter/tlsrpt_report.h"
#include "tests/support/tlsrpt_fixtures.h"

namespace mxtls {
namespace {

using testing::Gzip;
using testing::TlsRptTestdata;

TEST_CASE("tlsrpt report: the RFC 8460 example", "[tlsrpt]") {
  // RFC 8460 Appendix B, with the additional-information URL that the RFC's 72 columns
  // wrap joined on one line (a line break inside a JSON string is not JSON).
  Result<TlsRptReceivedReport> r = ParseTlsRptReport(TlsRptTestdata("rfc8460_example.json"));
  REQUIRE(r.ok());
  CHECK(r->organization_name == "Company-X");
  CHECK(r->contact_info == "sts-reporting@company-x.example");
  CHECK(r->report_id == "5065427c-23d3-47ca-b6e0-946ea0e8c4be");
  CHECK(r->start_seconds == 1459468800);  // 2016-04-01T00:00:00Z
  CHECK(r->end_seconds == 1459555199);
  REQUIRE(r->policies.size() == 1);
  const TlsRptPolicyResult& p = r->policies[0];
  CHECK(p.policy_type == "sts");
  CHECK(p.policy_domain == "company-y.example");
  CHECK(p.mx_hosts == std::vector<std::string>{"*.mail.company-y.example"});
  CHECK(p.total_successful_session_count == 5326);
  CHECK(p.total_failure_session_count == 303);
  REQUIRE(p.failures.size() == 3);
  CHECK(p.failures[0].result_type == "certificate-expired");
  CHECK(p.failures[0].receiving_mx_hostname == "mx1.mail.company-y.example");
  CHECK(p.failures[0].failed_session_count == 100);
  CHECK(p.failures[1].result_type == "starttls-not-supported");
  CHECK(p.failures[1].failed_session_count == 200);
  CHECK(p.failures[2].result_type == "validation-failure");
  CHECK(p.failures[2].receiving_mx_hostname == "mx-backup.mail.company-y.example");
  CHECK(p.failures[2].failed_session_count == 3);
  CHECK(r->DedupKey() == "Company-X\n5065427c-23d3-47ca-b6e0-946ea0e8c4be");
}

TEST_CASE("tlsrpt report: Google-shaped, summary disagreeing with the details", "[tlsrpt]") {
  Result<TlsRptReceivedReport> r = ParseTlsRptReport(TlsRptTestdata("google_shaped.json"));
  REQUIRE(r.ok());
  REQUIRE(r->policies.size() == 1);
  const TlsRptPolicyResult& p = r->policies[0];
  CHECK(p.policy_domain == "example.org");
  CHECK(p.total_failure_session_count == 7);  // as sent, though the details add up to 6
  REQUIRE(p.failures.size() == 2);
  CHECK(p.failures[0].failed_session_count + p.failures[1].failed_session_count == 6);
  CHECK(p.failures[1].receiving_mx_hostname.empty());  // "" for an unknown host
}

TEST_CASE("tlsrpt report: Microsoft-shaped quirks", "[tlsrpt]") {
  // Seven-digit fractional seconds, nulls for policy-string and mx-host, empty strings for
  // unknown addresses, an upper-case domain with a trailing dot, a result type of its own.
  Result<TlsRptReceivedReport> r = ParseTlsRptReport(TlsRptTestdata("microsoft_shaped.json"));
  REQUIRE(r.ok());
  CHECK(r->start_seconds == 1795910400);  // 2026-11-29T00:00:00Z
  CHECK(r->end_seconds == 1795996799);
  const TlsRptPolicyResult& p = r->policies.at(0);
  CHECK(p.policy_type == "no-policy-found");
  CHECK(p.policy_domain == "example.org");
  CHECK(p.mx_hosts.empty());
  REQUIRE(p.failures.size() == 2);
  CHECK(p.failures[0].receiving_mx_hostname == "mx1.example.org");
  CHECK(p.failures[1].result_type == "tls-handshake-timeout");
  CHECK(NormalizedResultType(p.failures[1].result_type) == "other");
  CHECK(NormalizedResultType("Certificate-Expired") == "certificate-expired");
  CHECK(NormalizedPolicyType("sts") == "sts");
  CHECK(NormalizedPolicyType("dane") == "other");
}

TEST_CASE("tlsrpt report: optional fields may be missing; a single policy-string is taken",
          "[tlsrpt]") {
  Result<TlsRptReceivedReport> r = ParseTlsRptReport(R"({
    "organization-name": "Small MTA", "report-id": "42",
    "date-range": {"start-datetime": "2026-11-29T00:00:00+02:00",
                   "end-datetime": "2026-11-29T23:59:59"},
    "policies": [{"policy": {"policy-type": "tlsa", "policy-domain": "example.org",
                             "policy-string": "3 1 1 abcd"},
                  "summary": {"total-successful-session-count": 3,
                              "total-failure-session-count": 0.0}}]})");
  REQUIRE(r.ok());
  CHECK(r->contact_info.empty());
  CHECK(r->start_seconds == 1795903200);  // 2026-11-28T22:00:00Z
  CHECK(r->end_seconds == 1795996799);    // no zone: UTC
  CHECK(r->policies[0].failures.empty());
  CHECK(r->policies[0].total_failure_session_count == 0);
}

TEST_CASE("tlsrpt report: de-duplication falls back to contact-info", "[tlsrpt]") {
  TlsRptReceivedReport r;
  r.contact_info = "reports@x.test";
  r.report_id = "7";
  CHECK(r.DedupKey() == "reports@x.test\n7");
}

TEST_CASE("tlsrpt report: malformed reports are refused with the field named", "[tlsrpt]") {
  const std::string ok_policy =
      R"("policies":[{"policy":{"policy-type":"sts","policy-domain":"example.org"},)"
      R"("summary":{"total-successful-session-count":1,"total-failure-session-count":0}}])";
  const std::string range =
      R"("date-range":{"start-datetime":"2026-11-29T00:00:00Z","end-datetime":"2026-11-29T23:59:59Z"})";
  struct Case {
    std::string json;
    std::string message;
  };
  const Case cases[] = {
      {"not json", "not JSON"},
      {"[1,2]", "the report must be a JSON object"},
      {"{" + range + R"(,"report-id":"1",)" + ok_policy + "}",
       "organization-name: is required"},
      {R"({"organization-name":"X",)" + range + "," + ok_policy + "}", "report-id: is required"},
      {R"({"organization-name":"X","report-id":"1",)" + range + "}", "policies: is required"},
      {R"({"organization-name":"X","report-id":"1",)" + range + R"(,"policies":[]})",
       "policies: must not be empty"},
      {R"({"organization-name":7,"report-id":"1",)" + range + "," + ok_policy + "}",
       "organization-name: must be a string"},
      {R"({"organization-name":"X","report-id":"1",)" + range +
           R"(,"policies":[{"policy":{"policy-type":"sts","policy-domain":"example.org"},)"
           R"("summary":{"total-successful-session-count":"5","total-failure-session-count":0}}]})",
       "policies[0].summary.total-successful-session-count: must be a non-negative integer"},
      {R"({"organization-name":"X","report-id":"1",)" + range +
           R"(,"policies":[{"policy":{"policy-type":"sts","policy-domain":"example.org"},)"
           R"("summary":{"total-successful-session-count":-1,"total-failure-session-count":0}}]})",
       "policies[0].summary.total-successful-session-count: must not be negative"},
      {R"({"organization-name":"X","report-id":"1",)" + range +
           R"(,"policies":[{"policy":{"policy-type":"sts"},)"
           R"("summary":{"total-successful-session-count":1,"total-failure-session-count":0}}]})",
       "policies[0].policy.policy-domain: is required"},
      {R"({"organization-name":"X","report-id":"1",)" + range +
           R"(,"policies":[{"policy":{"policy-type":"sts","policy-domain":"example.org"},)"
           R"("summary":{"total-successful-session-count":1,"total-failure-session-count":1},)"
           R"("failure-details":[{"result-type":"certificate-expired"}]}]})",
       "policies[0].failure-details[0].failed-session-count: is required"},
      {R"({"organization-name":"X","report-id":"1","date-range":{"start-datetime":"yesterday",)"
       R"("end-datetime":"2026-11-29T23:59:59Z"},)" + ok_policy + "}",
       "date-range.start-datetime: not an RFC 3339 date-time: \"yesterday\""},
  };
  for (const Case& c : cases) {
    INFO(c.json);
    Result<TlsRptReceivedReport> r = ParseTlsRptReport(c.json);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().reason() == "malformed");
    CHECK(r.status().message() == c.message);
  }
}

TEST_CASE("tlsrpt report: date-times as reporters write them", "[tlsrpt]") {
  int64_t s = 0;
  CHECK(ParseReportDateTime("2016-04-01T00:00:00Z", &s));
  CHECK(s == 1459468800);
  CHECK(ParseReportDateTime("2016-04-01T00:00:00.5Z", &s));
  CHECK(s == 1459468800);
  CHECK(ParseReportDateTime("2016-04-01T02:00:00+02:00", &s));
  CHECK(s == 1459468800);
  CHECK(ParseReportDateTime("2016-04-01T00:00:00", &s));
  CHECK(s == 1459468800);
  CHECK_FALSE(ParseReportDateTime("2016-04-01", &s));
  CHECK_FALSE(ParseReportDateTime("2016-04-01T00:00:00ZZ", &s));
  CHECK_FALSE(ParseReportDateTime("2016-13-01T00:00:00Z", &s));
  CHECK_FALSE(ParseReportDateTime("2016-04-01T00:00:00.Z", &s));
}

TEST_CASE("tlsrpt gzip: bounded decompression refuses bombs and corrupt data", "[tlsrpt]") {
  const std::string report = TlsRptTestdata("rfc8460_example.json");
  Result<std::string> plain = GunzipBounded(Gzip(report), 1 << 20);
  REQUIRE(plain.ok());
  CHECK(plain.value() == report);
  // Two members, as `cat a.gz b.gz` makes: one stream.
  Result<std::string> two = GunzipBounded(Gzip("ab") + Gzip("cd"), 100);
  REQUIRE(two.ok());
  CHECK(two.value() == "abcd");
  // 64 MiB of zeros compress to about 64 KiB: refused once it passes the limit.
  const std::string bomb = Gzip(std::string(64 << 20, '\0'), 9);
  CHECK(bomb.size() < (100 << 10));
  Result<std::string> exploded = GunzipBounded(bomb, 1 << 20);
  REQUIRE_FALSE(exploded.ok());
  CHECK(exploded.status().reason() == "decompressed_too_large");
  CHECK(GunzipBounded(report, 1 << 20).status().reason() == "bad_gzip");
  std::string gz = Gzip(report);
  CHECK(GunzipBounded(gz.substr(0, gz.size() / 2), 1 << 20).status().reason() == "bad_gzip");
  gz[gz.size() / 2] ^= 0x55;
  CHECK(GunzipBounded(gz, 1 << 20).status().reason() == "bad_gzip");
}

}  // namespace
}  // namespace mxtls
