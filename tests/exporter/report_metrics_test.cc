// The /probe view of a DomainReport, without sockets: what is present, what is absent, and
// that hostile names can never make the exposition unparsable.
#include <catch2/catch.hpp>

#include "exporter/report_metrics.h"
#include "tests/support/metrics_text.h"

namespace mxtls {
namespace {

bool ValidUtf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += len;
  }
  return true;
}

// A one-MX domain whose only endpoint greets but offers no STARTTLS.
DomainReport ReportWithoutStartTls(const std::string& mx_name) {
  DomainReport r;
  r.domain = "example.test";
  r.success = true;
  MxHostReport host;
  host.host = mx_name;
  host.preference = 10;
  r.mx_hosts.push_back(host);
  EndpointReport e;
  e.mx = host.host;
  e.address = "192.0.2.1";
  e.family = "ipv4";
  e.connected = true;
  e.greeted = true;
  e.starttls_offered = false;
  e.failure_stage = "starttls";
  e.failure_reason = "no_starttls";
  e.verdict_reached = true;
  r.endpoints.push_back(e);
  return r;
}

TEST_CASE("hostile names in DNS answers cannot break the exposition", "[report]") {
  DomainReport r = ReportWithoutStartTls(std::string("mx\xff\n\"}.example.test"));
  std::string text = RenderReportMetrics(r);
  CHECK(ValidUtf8(text));
  testing::ParsedMetrics m(text);
  auto mx = m.Find("mxtls_mx_info");
  REQUIRE(mx.size() == 1);
  CHECK(mx[0].labels.at("mx") == "mx\\xff\\x0a\"}.example.test");

  // Byte sequences shaped like UTF-8 that are not: overlong, surrogate, past U+10FFFF.
  DomainReport r2 = r;
  r2.mx_hosts[0].host = std::string("a\xc0\xaf" "b\xed\xa0\x80" "c\xf4\x90\x80\x80" "d\xc3\xa9");
  std::string text2 = RenderReportMetrics(r2);
  CHECK(ValidUtf8(text2));
  testing::ParsedMetrics m2(text2);
  REQUIRE(m2.Find("mxtls_mx_info").size() == 1);
  CHECK(m2.Find("mxtls_mx_info")[0].labels.at("mx") ==
        "a\\xc0\\xafb\\xed\\xa0\\x80c\\xf4\\x90\\x80\\x80d\xc3\xa9");
  // Every sample line parsed back into a name and a value: nothing was split or merged.
  for (const auto& s : m.samples()) CHECK_FALSE(s.name.empty());
}

TEST_CASE("checks that did not run are absent; domain facts are always present", "[report]") {
  DomainReport r = ReportWithoutStartTls("mx.example.test");
  testing::ParsedMetrics m(RenderReportMetrics(r));
  CHECK(m.Value("mxtls_null_mx") == 0);
  CHECK(m.Value("mxtls_implicit_mx") == 0);
  CHECK(m.Value("mxtls_endpoints") == 1);
  CHECK(m.Value("mxtls_starttls_offered", {{"mx", "mx.example.test"}}) == 0);
  CHECK(m.Count("mxtls_tls_handshake_success") == 0);
  CHECK(m.Count("mxtls_cert_verified") == 0);
  CHECK(m.Count("mxtls_cert_days_to_expiry") == 0);
  CHECK(m.Count("mxtls_domain_cert_days_to_expiry_min") == 0);
  CHECK(m.Count("mxtls_probe_failure_info") == 0);
  CHECK(m.Value("mxtls_endpoint_failure_info",
                {{"stage", "starttls"}, {"reason", "no_starttls"}}) == 1);

  r.success = false;
  r.failure_reason = "dns_servfail";
  testing::ParsedMetrics failed(RenderReportMetrics(r));
  CHECK(failed.Value("probe_success") == 0);
  CHECK(failed.Value("mxtls_probe_failure_info", {{"reason", "dns_servfail"}}) == 1);
}

}  // namespace
}  // namespace mxtls
