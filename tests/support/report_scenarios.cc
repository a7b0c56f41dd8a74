#include "tests/support/report_scenarios.h"

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace mxtls::testing {
namespace {

VersionSupport Version(const char* v, VersionOutcome o) { return VersionSupport{v, o, ""}; }

TlsVersionsReport Versions(VersionOutcome v10, VersionOutcome v11, VersionOutcome v12,
                           VersionOutcome v13) {
  TlsVersionsReport r;
  r.versions = {Version("TLSv1", v10), Version("TLSv1.1", v11), Version("TLSv1.2", v12),
                Version("TLSv1.3", v13)};
  return r;
}

constexpr auto kAcc = VersionOutcome::kAccepted;
constexpr auto kRef = VersionOutcome::kRefused;

EndpointReport HealthyEndpoint(const std::string& mx, const std::string& address,
                               const std::string& family, const CertificateReport& cert,
                               bool dane) {
  EndpointReport e;
  e.mx = mx;
  e.address = address;
  e.family = family;
  e.connected = e.greeted = true;
  e.starttls_offered = true;
  e.handshake_ok = true;
  e.tls_version = "TLSv1.3";
  e.tls_cipher = "TLS_AES_256_GCM_SHA384";
  e.cert = cert;
  e.verdict_reached = true;
  NoSniReport n;
  n.handshake_ok = true;
  n.cert = cert;
  n.same_as_sni = true;
  e.no_sni = n;
  e.greeting_host = mx;
  e.tls_versions = Versions(kRef, kRef, kAcc, kAcc);
  e.key_type_sessions = {{"ecdsa", true, "", 0}, {"rsa", true, "", 0}};
  e.held_certs = {HeldCertificate{{"sni", "no_sni", "ecdsa", "rsa"}, cert, nullptr}};
  e.reverse_dns.checked = true;
  e.reverse_dns.ptr_names = {mx};
  e.reverse_dns.forward_confirmed = e.reverse_dns.matches_mx = true;
  if (dane) {
    e.dane_check.evaluated = e.dane_check.authenticated = true;
    e.dane_check.reason = "ok";
    e.dane_check.records = {TlsaRecordResult{0, true, false, true, "match"}};
  }
  for (SenderVerdict* v : {&e.sts_compliance, &e.opportunistic, &e.mta_sts, &e.no_sni_strict,
                           &e.dane, &e.modern, &e.legacy}) {
    v->evaluated = v->delivers = true;
  }
  return e;
}

void Mode(DomainReport& r, const std::string& mode) { r.mta_sts.mode = mode; }

void NoMtaSts(DomainReport& r) {
  r.mta_sts = MtaStsReport{};
  r.mta_sts.checked = true;
  for (auto& h : r.mx_hosts) h.sts_covered.reset();
}

void CertEverywhere(DomainReport& r, const std::string& mx, const CertificateReport& c) {
  for (auto& e : r.endpoints) {
    if (e.mx != mx) continue;
    e.cert = c;
    e.no_sni->cert = c;
    e.held_certs = {HeldCertificate{{"sni", "no_sni", "ecdsa", "rsa"}, c, nullptr}};
  }
}

void Versions(DomainReport& r, const std::string& address, TlsVersionsReport v) {
  EndpointAt(r, address).tls_versions = std::move(v);
}

}  // namespace

CertificateReport ScenarioCert(const std::string& fingerprint, double days,
                               std::vector<std::string> sans, const std::string& key_type) {
  CertificateReport c;
  CertFacts leaf;
  leaf.fingerprint_sha256 = fingerprint;
  leaf.subject = "CN=" + (sans.empty() ? std::string("none") : sans.front());
  leaf.issuer = "CN=R3,O=Let's Encrypt,C=US";
  leaf.serial = "01";
  leaf.dns_sans = std::move(sans);
  leaf.san_count = static_cast<int>(leaf.dns_sans.size());
  leaf.common_name = leaf.dns_sans.empty() ? "" : leaf.dns_sans.front();
  leaf.key_type = key_type;
  leaf.key_bits = key_type == "RSA" ? 2048 : 256;
  leaf.signature_algorithm = "ecdsa-with-SHA256";
  leaf.not_before = ToUnixSeconds(kScenarioNow) - 30 * 86400;
  leaf.not_after = ToUnixSeconds(kScenarioNow) + static_cast<long long>(days * 86400);
  c.presented = {leaf};
  c.chain.verified = true;
  c.chain.reason = "ok";
  c.chain.chain_complete = true;
  c.chain.presented_count = 2;
  c.chain.earliest_not_after = leaf.not_after;
  c.name_match = NameMatch::kMatch;
  c.judged_at = ToUnixSeconds(kScenarioNow);
  c.days_to_expiry = days;
  return c;
}

DomainReport HealthyReport() {
  DomainReport r;
  r.domain = "a.example";
  r.module = "default";
  r.success = true;
  r.mx_dnssec = DnssecStatus::kSecure;
  r.resolver_validates = true;

  MxHostReport mx1;
  mx1.host = "mx1.a.example";
  mx1.preference = 10;
  mx1.ipv4 = {"192.0.2.1"};
  mx1.ipv6 = {"2001:db8::1"};
  mx1.sts_covered = true;
  mx1.cert_consistent = true;
  mx1.address_dnssec = DnssecStatus::kSecure;
  mx1.dane.looked_up = true;
  mx1.dane.base_domain = mx1.host;
  mx1.dane.tlsa_dnssec = DnssecStatus::kSecure;
  mx1.dane.records = {TlsaRecord{3, 1, 1, std::vector<uint8_t>(32, 0xab)}};
  mx1.dane.usable_records = 1;

  MxHostReport mx2;
  mx2.host = "mx2.a.example";
  mx2.preference = 20;
  mx2.ipv4 = {"192.0.2.2"};
  mx2.sts_covered = true;
  mx2.cert_consistent = true;
  mx2.address_dnssec = DnssecStatus::kSecure;
  mx2.dane.looked_up = true;
  mx2.dane.base_domain = mx2.host;
  mx2.dane.tlsa_dnssec = DnssecStatus::kSecure;

  CertificateReport c1 = ScenarioCert("aaaa1111aaaa1111aaaa1111", 60, {"mx1.a.example"});
  CertificateReport c2 = ScenarioCert("bbbb2222bbbb2222bbbb2222", 75, {"mx2.a.example"});
  r.endpoints = {HealthyEndpoint(mx1.host, "192.0.2.1", "ipv4", c1, true),
                 HealthyEndpoint(mx1.host, "2001:db8::1", "ipv6", c1, true),
                 HealthyEndpoint(mx2.host, "192.0.2.2", "ipv4", c2, false)};
  r.mx_hosts = {mx1, mx2};

  MtaStsReport& s = r.mta_sts;
  s.checked = s.txt_present = s.txt_valid = true;
  s.txt_id = "20240101";
  s.fetch_attempted = s.policy_valid = true;
  s.host = "mta-sts.a.example";
  s.host_address = "192.0.2.10";
  s.host_cert = ScenarioCert("cccc3333cccc3333cccc3333", 80, {"mta-sts.a.example"});
  s.mode = "enforce";
  s.max_age = 604800;
  s.mx_patterns = {"mx1.a.example", "mx2.a.example"};
  r.tlsrpt.checked = r.tlsrpt.present = r.tlsrpt.valid = true;
  r.tlsrpt.rua = {"mailto:tlsrpt@a.example"};
  return r;
}

EndpointReport& EndpointAt(DomainReport& report, const std::string& address) {
  for (auto& e : report.endpoints) {
    if (e.address == address) return e;
  }
  throw std::logic_error("no endpoint " + address);
}

// The endpoint got no TLS session: no handshake facts, certificates or TLS observations.
void ForgetTls(EndpointReport& e) {
  e.tls_version.clear();
  e.cert.reset();
  e.no_sni.reset();
  e.tls_versions.reset();
  e.key_type_sessions.clear();
  e.held_certs.clear();
}

MxHostReport& HostNamed(DomainReport& report, const std::string& host) {
  for (auto& h : report.mx_hosts) {
    if (h.host == host) return h;
  }
  throw std::logic_error("no MX host " + host);
}

const std::vector<Scenario>& Scenarios() {
  static const std::vector<Scenario> kScenarios = {
      {"healthy", [](DomainReport&) {}, {}},
      {"expiring in 25 days",
       [](DomainReport& r) { CertEverywhere(r, "mx1.a.example", ScenarioCert("e25", 25, {"mx1.a.example"})); },
       {"MxTlsCertificateExpiring"}},
      {"expiring in 10 days",
       [](DomainReport& r) { CertEverywhere(r, "mx1.a.example", ScenarioCert("e10", 10, {"mx1.a.example"})); },
       {"MxTlsCertificateExpiring"}},
      {"expiring in 3 days",
       [](DomainReport& r) { CertEverywhere(r, "mx2.a.example", ScenarioCert("e3", 3, {"mx2.a.example"})); },
       {"MxTlsCertificateExpiring"}},
      {"expired two days ago",
       [](DomainReport& r) {
         CertificateReport c = ScenarioCert("ex", -2, {"mx2.a.example"});
         c.chain.verified = false;
         c.chain.reason = "expired";
         c.chain.earliest_not_after.reset();
         CertEverywhere(r, "mx2.a.example", c);
       },
       {"MxTlsCertificateExpiring", "MxTlsCertificateExpired", "MxTlsCertificateNotVerified"}},
      {"not verified under enforce",
       [](DomainReport& r) {
         CertificateReport c = ScenarioCert("un", 60, {"mx2.a.example"});
         c.chain.verified = false;
         c.chain.reason = "untrusted";
         CertEverywhere(r, "mx2.a.example", c);
       },
       {"MxTlsCertificateNotVerified"}},
      {"not verified under testing",
       [](DomainReport& r) {
         Mode(r, "testing");
         CertificateReport c = ScenarioCert("ss", 60, {"mx2.a.example"});
         c.chain.verified = false;
         c.chain.reason = "self_signed";
         CertEverywhere(r, "mx2.a.example", c);
       },
       {"MxTlsCertificateNotVerified"}},
      {"not verified without MTA-STS",
       [](DomainReport& r) {
         NoMtaSts(r);
         CertificateReport c = ScenarioCert("ss", 60, {"mx2.a.example"});
         c.chain.verified = false;
         c.chain.reason = "self_signed";
         CertEverywhere(r, "mx2.a.example", c);
       },
       {"MxTlsCertificateNotVerified"}},
      {"incomplete chain",
       [](DomainReport& r) {
         CertificateReport c = ScenarioCert("ic", 60, {"mx1.a.example"});
         c.chain.verified = false;
         c.chain.reason = "incomplete_chain";
         c.chain.chain_complete = false;
         CertEverywhere(r, "mx1.a.example", c);
       },
       {"MxTlsCertificateNotVerified", "MxTlsChainIncomplete"}},
      {"name mismatch",
       [](DomainReport& r) {
         CertificateReport c = ScenarioCert("nm", 60, {"mail.a.example", "www.a.example"});
         c.name_match = NameMatch::kMismatch;
         CertEverywhere(r, "mx1.a.example", c);
       },
       {"MxTlsCertificateNameMismatch", "MxTlsNoSniCertificateMismatch"}},
      {"dual certificate with a bad RSA one",
       [](DomainReport& r) {
         EndpointReport& e = EndpointAt(r, "192.0.2.1");
         e.held_certs.front().seen_by = {"sni", "no_sni", "ecdsa"};
         CertificateReport rsa = ScenarioCert("rsa0", 200, {"old.a.example"}, "RSA");
         rsa.chain.verified = false;
         rsa.chain.reason = "self_signed";
         rsa.name_match = NameMatch::kMismatch;
         e.held_certs.push_back(HeldCertificate{{"rsa"}, rsa, nullptr});
       },
       {"MxTlsHeldCertificateInvalid"}},
      {"IPv6 serves the old certificate",
       [](DomainReport& r) {
         EndpointReport& e = EndpointAt(r, "2001:db8::1");
         CertificateReport old = ScenarioCert("old6", 20, {"mx1.a.example"});
         e.cert = old;
         e.no_sni->cert = old;
         e.held_certs = {HeldCertificate{{"sni", "no_sni", "ecdsa", "rsa"}, old, nullptr}};
         HostNamed(r, "mx1.a.example").cert_consistent = false;
       },
       {"MxTlsAddressesPresentDifferentCertificates", "MxTlsCertificateExpiring"}},
      {"no STARTTLS",
       [](DomainReport& r) {
         EndpointReport& e = EndpointAt(r, "2001:db8::1");
         e.starttls_offered = false;
         e.handshake_ok.reset();
         ForgetTls(e);
         e.failure_stage = "starttls";
         e.failure_reason = "no_starttls";
         e.dane_check.authenticated = false;
         e.dane_check.reason = "no_starttls";
         e.dane_check.records.clear();
       },
       {"MxTlsStartTlsNotOffered", "MxTlsDaneMismatch"}},
      {"handshake failing",
       [](DomainReport& r) {
         EndpointReport& e = EndpointAt(r, "192.0.2.2");
         e.handshake_ok = false;
         ForgetTls(e);
         e.failure_stage = "handshake";
         e.failure_reason = "handshake";
         e.failure_message = "sslv3 alert handshake failure";
       },
       {"MxTlsHandshakeFailing"}},
      {"unreachable",
       [](DomainReport& r) {
         EndpointReport& e = EndpointAt(r, "192.0.2.2");
         e = EndpointReport{};
         e.mx = "mx2.a.example";
         e.address = "192.0.2.2";
         e.family = "ipv4";
         e.failure_stage = "connect";
         e.failure_reason = "timeout";
         r.success = false;
         r.failure_reason = "endpoint_failed";
       },
       {"MxTlsEndpointUnreachable", "MxTlsProbeFailing"}},
      {"probe failing",
       [](DomainReport& r) {
         r.success = false;
         r.failure_reason = "deadline";
       },
       {"MxTlsProbeFailing"}},
      {"MTA-STS does not cover an MX",
       [](DomainReport& r) {
         r.mta_sts.mx_patterns = {"mx1.a.example"};
         HostNamed(r, "mx2.a.example").sts_covered = false;
       },
       {"MxTlsMtaStsMxNotCovered"}},
      {"MTA-STS policy unusable",
       [](DomainReport& r) {
         r.mta_sts.policy_valid = false;
         r.mta_sts.mode.clear();
         r.mta_sts.failure_reason = "sts-webpki-invalid";
         r.mta_sts.failure_message = "the certificate of mta-sts.a.example has expired";
         for (auto& h : r.mx_hosts) h.sts_covered.reset();
       },
       {"MxTlsMtaStsPolicyUnusable"}},
      {"MTA-STS id not bumped", [](DomainReport& r) { r.mta_sts.id_not_bumped = true; },
       {"MxTlsMtaStsIdNotBumped"}},
      {"MTA-STS host certificate expiring",
       [](DomainReport& r) {
         r.mta_sts.host_cert = ScenarioCert("st10", 10, {"mta-sts.a.example"});
       },
       {"MxTlsMtaStsHostCertificateExpiring"}},
      {"TLS-RPT invalid",
       [](DomainReport& r) {
         r.tlsrpt.valid = false;
         r.tlsrpt.error = "rua: \"http://x\" is not mailto: or https:";
       },
       {"MxTlsTlsRptRecordInvalid"}},
      {"no-SNI certificate mismatch",
       [](DomainReport& r) {
         EndpointReport& e = EndpointAt(r, "192.0.2.2");
         CertificateReport d = ScenarioCert("dflt", 90, {"host.provider.example"});
         d.name_match = NameMatch::kMismatch;
         e.no_sni->cert = d;
         e.no_sni->same_as_sni = false;
         e.held_certs.front().seen_by = {"sni", "ecdsa", "rsa"};
         e.held_certs.push_back(HeldCertificate{{"no_sni"}, d, nullptr});
       },
       {"MxTlsNoSniCertificateMismatch"}},
      {"DANE mismatch",
       [](DomainReport& r) {
         for (const char* a : {"192.0.2.1", "2001:db8::1"}) {
           EndpointReport& e = EndpointAt(r, a);
           e.dane_check.authenticated = false;
           e.dane_check.reason = "no_match";
           e.dane_check.records = {TlsaRecordResult{0, true, false, false, "no_match"}};
         }
       },
       {"MxTlsDaneMismatch"}},
      {"TLSA lookup failing",
       [](DomainReport& r) {
         MxHostReport& h = HostNamed(r, "mx1.a.example");
         h.dane.records.clear();
         h.dane.usable_records = 0;
         h.dane.tlsa_dnssec = DnssecStatus::kUnknown;
         h.dane.lookup_error = "servfail";
         for (const char* a : {"192.0.2.1", "2001:db8::1"}) {
           EndpointReport& e = EndpointAt(r, a);
           e.dane_check.authenticated = false;
           e.dane_check.reason = "tlsa_lookup_failed";
           e.dane_check.records.clear();
         }
       },
       {"MxTlsDaneTlsaLookupFailing"}},
      {"bogus MX records", [](DomainReport& r) { r.mx_dnssec = DnssecStatus::kBogus; },
       {"MxTlsDnssecBogus"}},
      {"bogus MX host",
       [](DomainReport& r) { HostNamed(r, "mx2.a.example").address_dnssec = DnssecStatus::kBogus; },
       {"MxTlsDnssecBogus"}},
      {"only unusable TLSA records",
       [](DomainReport& r) {
         MxHostReport& h = HostNamed(r, "mx1.a.example");
         h.dane.records = {TlsaRecord{1, 1, 1, std::vector<uint8_t>(32, 0xcd)}};
         h.dane.usable_records = 0;
         for (const char* a : {"192.0.2.1", "2001:db8::1"}) {
           EndpointReport& e = EndpointAt(r, a);
           e.dane_check.authenticated = false;
           e.dane_check.reason = "only_unusable";
           e.dane_check.records = {TlsaRecordResult{0, false, false, false, "unusable"}};
         }
       },
       {"MxTlsDaneOnlyUnusableRecords"}},
      {"TLS 1.1 only under DANE",
       [](DomainReport& r) { Versions(r, "192.0.2.1", Versions(kAcc, kAcc, kRef, kRef)); },
       {"MxTlsNoModernTls"}},
      {"TLS 1.1 only under MTA-STS enforce",
       [](DomainReport& r) { Versions(r, "192.0.2.2", Versions(kAcc, kAcc, kRef, kRef)); },
       {"MxTlsNoModernTls"}},
      {"TLS 1.1 only without a policy",
       [](DomainReport& r) {
         Mode(r, "testing");
         Versions(r, "192.0.2.2", Versions(kAcc, kAcc, kRef, kRef));
       },
       {"MxTlsNoModernTls"}},
      {"TLS 1.1 with TLS 1.2 unknown: no verdict",
       [](DomainReport& r) {
         Versions(r, "192.0.2.2",
                  Versions(kAcc, kAcc, VersionOutcome::kFailed, kRef));
       },
       {}},
      {"TLS 1.3 only",
       [](DomainReport& r) { Versions(r, "192.0.2.2", Versions(kRef, kRef, kRef, kAcc)); },
       {"MxTlsTls13Only"}},
  };
  return kScenarios;
}

DomainReport HealthyDomain(int mx_hosts, bool ipv6, DomainShape s) {
  const DomainReport base = HealthyReport();
  const MxHostReport& host_template = base.mx_hosts.front();
  const EndpointReport& endpoint_template = base.endpoints.front();
  DomainReport r = base;
  r.mx_hosts.clear();
  r.endpoints.clear();
  r.mta_sts.policy_age_seconds = 0;
  if (!s.policy) {
    r.mta_sts = MtaStsReport{};
    r.mta_sts.checked = true;
    r.tlsrpt = TlsRptReport{};
    r.tlsrpt.checked = true;
  }
  if (!s.dane) r.mx_dnssec = DnssecStatus::kInsecure;
  for (int i = 1; i <= mx_hosts; ++i) {
    MxHostReport h = host_template;
    h.host = "mx" + std::to_string(i) + ".a.example";
    h.preference = 10 * i;
    h.ipv4 = {"192.0.2." + std::to_string(i)};
    h.ipv6.clear();
    if (ipv6) h.ipv6 = {"2001:db8::" + std::to_string(i)};
    if (!s.policy) h.sts_covered.reset();
    if (!s.dane) {
      h.address_dnssec = DnssecStatus::kInsecure;
      h.dane = DaneHostReport{};
    }
    r.mx_hosts.push_back(h);
    std::vector<std::pair<std::string, std::string>> addresses = {{h.ipv4.front(), "ipv4"}};
    if (ipv6) addresses.emplace_back(h.ipv6.front(), "ipv6");
    for (const auto& [address, family] : addresses) {
      EndpointReport e = endpoint_template;
      e.mx = h.host;
      e.address = address;
      e.family = family;
      e.greeting_host = h.host;
      e.reverse_dns.ptr_names = {h.host};
      e.phase_seconds = {{"connect", 0.01}, {"greeting", 0.01}, {"ehlo", 0.01},
                         {"starttls", 0.01}, {"handshake", 0.02}};
      if (!s.policy) e.sts_compliance = SenderVerdict{};
      if (!s.dane) e.dane_check = DaneEndpointReport{};
      r.endpoints.push_back(e);
    }
  }
  return r;
}

DomainReport ScenarioReport(const Scenario& s) {
  DomainReport r = HealthyReport();
  s.fault(r);
  return r;
}

}  // namespace mxtls::testing
