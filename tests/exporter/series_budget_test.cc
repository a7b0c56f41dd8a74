// The series budget of /probe: how many series one domain costs, split into a fixed part per
// domain, a part per MX host and a part per (MX host, address) endpoint, counted on the
// exposition the real view renders (RenderReportMetrics, what /probe serves). README "Series
// budget" quotes these numbers; a change to the metrics that moves them must move the README.
#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

#include "exporter/report_metrics.h"
#include "tests/support/mail_world.h"
#include "tests/support/metrics_text.h"
#include "tests/support/report_scenarios.h"

namespace mxtls::testing {
namespace {

// The parts of a healthy domain under the default module (every check on), derived from
// exporter/report_metrics.cc:
//
// Per domain, always: probe_success, probe_duration_seconds, probe_timeout_seconds,
// mxtls_dnssec_status (MX lookup), null_mx, implicit_mx, mx_hosts, mx_hosts_skipped, endpoints,
// phase_duration_seconds{phase="dns"} (10); with certificates: domain_sender_delivers x 6
// senders, domain_mx_names_covered, domain_cert_days_to_expiry_min (8); MTA-STS and TLS-RPT,
// with or without records: txt_present, txt_valid, policy_valid, policy_mode, id_not_bumped,
// mx_coverage_ratio, tlsrpt_record_present, tlsrpt_record_valid (8).
constexpr int kDomainCore = 10 + 8 + 8;
// With a valid MTA-STS policy: policy_info, policy_max_age_seconds, host_cert x 5 (not_after,
// days_to_expiry, verified, san_match, info), phase{mta_sts_fetch}, policy_age_seconds.
constexpr int kDomainPolicy = 9;
// Per MX host: mx_info, mx_addresses x 2 families, mx_cert_consistent, dnssec_status.
constexpr int kHostCore = 5;
constexpr int kHostPolicy = 1;  // mta_sts_mx_covered
constexpr int kHostDane = 2;    // dane_tlsa_records, dane_tlsa_unusable_records
// Per endpoint: endpoint_up, starttls_offered, tls_handshake_success, tls_version_info (4);
// the leaf: cert_info, verified, verify_info, chain_complete, root_included, order_ok,
// chain_certificates, san_match, name_match_info, not_after, not_before, days_to_expiry,
// chain_earliest_not_after, key_size, weak_key, sha1_signature (16); no SNI: check_age,
// handshake_success, sni_default_match, nosni_cert_info, verified, verify_info, san_match,
// not_after, days_to_expiry (9); sender_delivers x 6 senders; tls_version_supported x 4
// versions and tls_version_check_age (5); key_type_handshake_success x 2; one held
// certificate x 5 (held_info, not_after, days_to_expiry, verified, san_match); ptr_match,
// fcrdns_valid and one ptr_info (3); smtp_greeting_info; endpoint_smtp_sessions,
// session_reused, session_age_seconds (3); phase_duration_seconds x 5 phases (connect,
// greeting, ehlo, starttls, handshake).
constexpr int kEndpointCore = 4 + 16 + 9 + 6 + 5 + 2 + 5 + 3 + 1 + 3 + 5;  // 59
constexpr int kEndpointPolicy = 1;  // mta_sts_endpoint_compliant
// DANE (DNSSEC-secure host with a TLSA RRset): dane_verdict_info, dane_match,
// dane_next_key_published, and dane_record_match per TLSA record (one here).
constexpr int kEndpointDane = 3 + 1;
// Each further distinct certificate the endpoint holds (up to 5: sni, no_sni, rsa, ecdsa,
// dane_sni), PTR name of its address, TLSA record of its host.
constexpr int kPerHeldCertificate = 5;
constexpr int kPerPtrName = 1;
constexpr int kPerTlsaRecord = 1;

using Shape = DomainShape;

int DomainSeries(Shape s) { return kDomainCore + (s.policy ? kDomainPolicy : 0); }
int HostSeries(Shape s) {
  return kHostCore + (s.policy ? kHostPolicy : 0) + (s.dane ? kHostDane : 0);
}
int EndpointSeries(Shape s) {
  return kEndpointCore + (s.policy ? kEndpointPolicy : 0) + (s.dane ? kEndpointDane : 0);
}

// Series of the domain (no mx label), of MX host `mx` (its mx label, no address label), and of
// the endpoint on `address`.
size_t CountWhere(const ParsedMetrics& m, bool (*keep)(const Sample&, const std::string&),
                  const std::string& arg) {
  size_t n = 0;
  for (const auto& s : m.samples()) n += keep(s, arg) ? 1 : 0;
  return n;
}
bool OfDomain(const Sample& s, const std::string&) {
  return !s.labels.count("mx") && !s.labels.count("address");
}
bool OfHost(const Sample& s, const std::string& mx) {
  auto it = s.labels.find("mx");
  return it != s.labels.end() && it->second == mx && !s.labels.count("address");
}
bool OfEndpoint(const Sample& s, const std::string& address) {
  auto it = s.labels.find("address");
  return it != s.labels.end() && it->second == address;
}

TEST_CASE("series budget: a fixed part per domain, a part per MX host and per endpoint",
          "[report][budget]") {
  for (Shape shape : {Shape{true, true}, Shape{true, false}, Shape{false, false}}) {
    for (bool ipv6 : {false, true}) {
      for (int hosts : {1, 2, 3, 10}) {
        INFO("policy " << shape.policy << ", dane " << shape.dane << ", ipv6 " << ipv6 << ", "
                       << hosts << " MX hosts");
        DomainReport r = HealthyDomain(hosts, ipv6, shape);
        ParsedMetrics m(RenderReportMetrics(r));
        const int endpoints = hosts * (ipv6 ? 2 : 1);
        REQUIRE(r.endpoints.size() == static_cast<size_t>(endpoints));
        CHECK(m.Value("probe_success") == 1);
        CHECK(CountWhere(m, OfDomain, "") == static_cast<size_t>(DomainSeries(shape)));
        for (const auto& h : r.mx_hosts) {
          CHECK(CountWhere(m, OfHost, h.host) == static_cast<size_t>(HostSeries(shape)));
        }
        for (const auto& e : r.endpoints) {
          CHECK(CountWhere(m, OfEndpoint, e.address) ==
                static_cast<size_t>(EndpointSeries(shape)));
        }
        CHECK(m.samples().size() ==
              static_cast<size_t>(DomainSeries(shape) + hosts * HostSeries(shape) +
                                  endpoints * EndpointSeries(shape)));
      }
    }
  }
  // The README's numbers.
  CHECK(DomainSeries({true, true}) == 35);
  CHECK(HostSeries({true, true}) == 8);
  CHECK(EndpointSeries({true, true}) == 64);
  CHECK(DomainSeries({false, false}) == 26);
  CHECK(HostSeries({false, false}) == 5);
  CHECK(EndpointSeries({false, false}) == 59);
  // The hosting shape (README): 2 MX hosts, no MTA-STS, no DNSSEC; IPv4 only and both.
  CHECK(DomainSeries({false, false}) + 2 * HostSeries({false, false}) +
            2 * EndpointSeries({false, false}) == 154);
  CHECK(DomainSeries({false, false}) + 2 * HostSeries({false, false}) +
            4 * EndpointSeries({false, false}) == 272);
}

TEST_CASE("series budget: what grows an endpoint", "[report][budget]") {
  const Shape shape{true, true};
  DomainReport r = HealthyDomain(1, false, shape);
  EndpointReport& e = r.endpoints.front();
  const size_t base = ParsedMetrics(RenderReportMetrics(r)).samples().size();

  // A second and third distinct certificate (a dual-certificate server, another without SNI).
  for (const char* fp : {"dddd4444", "eeee5555"}) {
    HeldCertificate extra = e.held_certs.front();
    extra.cert = ScenarioCert(fp, 30, {"mx1.a.example"}, "RSA");
    extra.seen_by = {"rsa"};
    e.held_certs.push_back(extra);
  }
  // Two more PTR names, one more TLSA record (both judged at the endpoint).
  e.reverse_dns.ptr_names.push_back("generic-1.isp.example");
  e.reverse_dns.ptr_names.push_back("generic-2.isp.example");
  MxHostReport& h = r.mx_hosts.front();
  h.dane.records.push_back(TlsaRecord{3, 1, 1, std::vector<uint8_t>(32, 0xcd)});
  h.dane.usable_records = 2;
  e.dane_check.records.push_back(TlsaRecordResult{1, true, false, false, "no_match"});
  const size_t grown = ParsedMetrics(RenderReportMetrics(r)).samples().size();
  CHECK(grown == base + 2 * kPerHeldCertificate + 2 * kPerPtrName + kPerTlsaRecord);
}

// The worst case: every MX host the module probes (max_mx_hosts 10) with every address it
// probes (max_addresses_per_mx 4 per family), each endpoint holding 5 distinct certificates
// and failing every sender with a reason, P PTR names per address and R TLSA records per host.
// P and R are the only factors no setting bounds (they come from the zone's and the address
// owner's DNS, limited by the size of a DNS answer).
int WorstCaseSeries(int ptr_names, int tlsa_records) {
  const int hosts = 10, endpoints = hosts * 4 * 2;
  // Domain: + probe_failure_info, mta_sts_policy_failure_info (with a policy, as a bound).
  const int domain = kDomainCore + kDomainPolicy + 2;
  // Host: + mx_addresses_skipped, address lookup failure x 2 families.
  const int host = kHostCore + kHostPolicy + kHostDane + 3;
  // Endpoint: + endpoint_failure_info, sender_verdict_info x 6, 4 more held certificates, the
  // PTR names and TLSA records past the first.
  const int endpoint = kEndpointCore + kEndpointPolicy + kEndpointDane + 1 + 6 +
                       4 * kPerHeldCertificate + (ptr_names - 1) * kPerPtrName +
                       (tlsa_records - 1) * kPerTlsaRecord;
  return domain + hosts * host + endpoints * endpoint;
}

TEST_CASE("series budget: the worst case is bounded by the module's limits", "[report][budget]") {
  const int ptr_names = 4, tlsa_records = 4;
  DomainReport r = HealthyDomain(10, true, {true, true});
  r.success = false;
  r.failure_reason = "timeout";
  r.mta_sts.failure_reason = "sts-policy-fetch-error";
  std::vector<EndpointReport> endpoints;
  for (size_t i = 0; i < r.mx_hosts.size(); ++i) {
    MxHostReport& h = r.mx_hosts[i];
    const EndpointReport v4 = r.endpoints[2 * i];
    const EndpointReport v6 = r.endpoints[2 * i + 1];
    h.ipv4 = h.ipv6 = {};
    h.addresses_skipped = 3;
    h.ipv4_error = "servfail";  // one lookup failed, the other still gave addresses: a bound
    h.ipv6_error = "timeout";
    h.dane.records.clear();
    for (int t = 0; t < tlsa_records; ++t) {
      h.dane.records.push_back(TlsaRecord{3, 1, 1, std::vector<uint8_t>(32, uint8_t(t))});
    }
    h.dane.usable_records = tlsa_records;
    for (int a = 1; a <= 4; ++a) {
      for (const EndpointReport* tpl : {&v4, &v6}) {
        EndpointReport e = *tpl;
        e.address = tpl->family == "ipv4" ? "198.51." + std::to_string(endpoints.size()) + "." +
                                                std::to_string(a)
                                          : "2001:db8:" + std::to_string(endpoints.size()) +
                                                "::" + std::to_string(a);
        (tpl->family == "ipv4" ? h.ipv4 : h.ipv6).push_back(e.address);
        e.failure_stage = "ehlo";
        e.failure_reason = "timeout";
        for (SenderVerdict* v : {&e.opportunistic, &e.mta_sts, &e.no_sni_strict, &e.dane,
                                 &e.modern, &e.legacy}) {
          v->delivers = false;
          v->reason = "handshake";
        }
        const char* kinds[] = {"no_sni", "rsa", "ecdsa", "dane_sni"};
        for (int c = 0; c < 4; ++c) {
          HeldCertificate extra = e.held_certs.front();
          extra.cert = ScenarioCert("f" + std::to_string(c), 30, {e.mx}, "RSA");
          extra.seen_by = {kinds[c]};
          e.held_certs.push_back(extra);
        }
        e.reverse_dns.ptr_names.clear();
        for (int p = 0; p < ptr_names; ++p) {
          e.reverse_dns.ptr_names.push_back("ptr" + std::to_string(p) + ".isp.example");
        }
        e.dane_check.records.clear();
        for (int t = 0; t < tlsa_records; ++t) {
          e.dane_check.records.push_back(TlsaRecordResult{size_t(t), true, false, t == 0, "match"});
        }
        endpoints.push_back(e);
      }
    }
  }
  r.endpoints = endpoints;
  REQUIRE(r.endpoints.size() == 80);
  ParsedMetrics m(RenderReportMetrics(r));
  CHECK(m.samples().size() == static_cast<size_t>(WorstCaseSeries(ptr_names, tlsa_records)));
  CHECK(WorstCaseSeries(ptr_names, tlsa_records) == 7907);
}

// The formula against the engine: a healthy domain of two MX hosts probed through the running
// exporter (fixture DNS without DNSSEC and without MTA-STS records, fixture Postfix-like
// servers on IPv4), counted on the /probe answer.
TEST_CASE("series budget: a real probe of a healthy domain matches the formula",
          "[integration][budget]") {
  MailWorld w;
  w.Serve("127.0.0.71", w.Healthy(w.Leaf({"mx1.budget.test"})));
  w.Serve("127.0.0.72", w.Healthy(w.Leaf({"mx2.budget.test"})));
  w.dns.AddMx("budget.test", 10, "mx1.budget.test");
  w.dns.AddMx("budget.test", 20, "mx2.budget.test");
  w.dns.AddA("mx1.budget.test", "127.0.0.71");
  w.dns.AddA("mx2.budget.test", "127.0.0.72");
  w.dns.AddPtr("71.0.0.127.in-addr.arpa", "mx1.budget.test");
  w.dns.AddPtr("72.0.0.127.in-addr.arpa", "mx2.budget.test");
  w.Start("    ip_families: [ipv4]\n");
  ParsedMetrics m = w.Probe("budget.test");
  INFO(m.text());
  REQUIRE(m.Value("probe_success") == 1);
  const Shape shape{false, false};
  CHECK(CountWhere(m, OfDomain, "") == static_cast<size_t>(DomainSeries(shape)));
  CHECK(CountWhere(m, OfHost, "mx1.budget.test") == static_cast<size_t>(HostSeries(shape)));
  CHECK(CountWhere(m, OfEndpoint, "127.0.0.71") == static_cast<size_t>(EndpointSeries(shape)));
  CHECK(CountWhere(m, OfEndpoint, "127.0.0.72") == static_cast<size_t>(EndpointSeries(shape)));
  CHECK(m.samples().size() ==
        static_cast<size_t>(DomainSeries(shape) + 2 * HostSeries(shape) + 2 * EndpointSeries(shape)));
}

}  // namespace
}  // namespace mxtls::testing
