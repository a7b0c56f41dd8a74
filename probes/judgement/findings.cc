#include "probes/judgement/findings.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <optional>
#include <set>
#include <tuple>
#include <utility>

#include "probes/judgement/certificate_report.h"

namespace mxtls {
namespace {

// What the alert rules grade by: the effective MTA-STS mode the /probe series export
// (mxtls_mta_sts_policy_mode), "" when MTA-STS was not checked (no series at all).
std::string EffectiveMode(const DomainReport& r) {
  if (!r.mta_sts.checked) return "";
  const MtaStsReport& s = r.mta_sts;
  return s.txt_valid && s.policy_valid ? s.mode : "none";
}

// The severity the graded rules (NotVerified, ChainIncomplete, NameMismatch,
// HeldCertificateInvalid) give under `mode`, and their mta_sts_mode label. A mode that is
// neither enforce nor testing (including no series) falls to the `unless` copy: info, none.
std::pair<std::string, std::string> Graded(const std::string& mode) {
  if (mode == "enforce") return {"critical", "enforce"};
  if (mode == "testing") return {"warning", "testing"};
  return {"info", "none"};
}

PredictedAlert Alert(std::string name, std::string severity,
                     std::map<std::string, std::string> labels) {
  return PredictedAlert{std::move(name), std::move(severity), std::move(labels)};
}

FindingLevel LevelOfSeverity(const std::string& severity) {
  if (severity == "critical") return FindingLevel::kCritical;
  if (severity == "warning") return FindingLevel::kWarning;
  return FindingLevel::kInfo;
}

std::string Days(double days) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", std::fabs(days));
  return buf;
}

std::string Date(long long unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d", &tm);
  return buf;
}

double DaysLeft(long long not_after, WallTime now) {
  return static_cast<double>(not_after - ToUnixSeconds(now)) / 86400.0;
}

// "expires in 3.2 days (2026-12-04)" / "expired 2.0 days ago (2026-11-29)".
std::string ExpiryText(long long not_after, WallTime now) {
  double days = DaysLeft(not_after, now);
  if (not_after - ToUnixSeconds(now) <= 0) {
    return "expired " + Days(days) + " days ago (" + Date(not_after) + ")";
  }
  return "expires in " + Days(days) + " days (" + Date(not_after) + ")";
}

std::string Join(const std::vector<std::string>& items, const char* sep = ", ") {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

// The names a leaf covers, for "the certificate covers ...".
std::string CoveredNames(const CertFacts& leaf) {
  if (!leaf.dns_sans.empty()) return Join(leaf.dns_sans);
  if (!leaf.common_name.empty()) return "CN=" + leaf.common_name + " (no DNS subjectAltName)";
  return "no name at all";
}

std::string ShortFingerprint(const std::string& fp) { return fp.substr(0, 16); }

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

const VersionSupport* FindVersion(const TlsVersionsReport& v, std::string_view version) {
  for (const auto& s : v.versions) {
    if (s.version == version) return &s;
  }
  return nullptr;
}

// A version with a series (mxtls_tls_version_supported): accepted (1) or refused (0).
std::optional<bool> VersionSeries(const TlsVersionsReport& v, std::string_view version) {
  const VersionSupport* s = FindVersion(v, version);
  if (s == nullptr) return std::nullopt;
  if (s->outcome == VersionOutcome::kAccepted) return true;
  if (s->outcome == VersionOutcome::kRefused) return false;
  return std::nullopt;
}

// mxtls_dane_tlsa_records + mxtls_dane_tlsa_unusable_records > 0 for the host: the host
// series exist (secure lookup that answered) and the RRset is not empty.
bool HostPublishesTlsa(const MxHostReport* host) {
  return host != nullptr && host->dane.lookup_error.empty() && host->dane.looked_up &&
         host->dane.tlsa_dnssec == DnssecStatus::kSecure && !host->dane.records.empty();
}

class Diagnoser {
 public:
  Diagnoser(const DomainReport& r, WallTime now) : r_(r), now_(now), mode_(EffectiveMode(r)) {}

  std::vector<Finding> Run() {
    Prober();
    Domain();
    for (const auto& host : r_.mx_hosts) Host(host);
    for (const auto& e : r_.endpoints) Endpoint(e);
    Finish();
    return std::move(out_);
  }

 private:
  Finding& Add(std::string check, std::string reason, std::string mx = "",
               const EndpointReport* e = nullptr) {
    Finding f;
    f.check = std::move(check);
    f.reason = std::move(reason);
    f.mx = std::move(mx);
    if (e != nullptr) {
      f.address = e->address;
      f.family = e->family;
    }
    f.level = f.reason == "ok" ? FindingLevel::kOk : FindingLevel::kInfo;
    out_.push_back(std::move(f));
    return out_.back();
  }
  Finding& Ok(std::string check, std::string detail, std::string mx = "",
              const EndpointReport* e = nullptr) {
    Finding& f = Add(std::move(check), "ok", std::move(mx), e);
    f.detail = std::move(detail);
    return f;
  }

  const MxHostReport* HostOf(const std::string& mx) const {
    for (const auto& h : r_.mx_hosts) {
      if (h.host == mx) return &h;
    }
    return nullptr;
  }

  // ---- the prober's own situation ----
  void Prober() {
    if (r_.endpoints.empty()) return;
    bool all_blocked = true;
    for (const auto& e : r_.endpoints) {
      all_blocked = all_blocked && !e.connected && e.failure_stage == "connect" &&
                    (e.failure_reason == "timeout" || e.failure_reason == "unreachable");
    }
    if (all_blocked) {
      Finding& f = Add("prober", "port25_blocked");
      f.detail = std::to_string(r_.endpoints.size()) + " addresses, none answered on port 25";
      for (const auto& e : r_.endpoints) f.alerts.push_back(Unreachable(e));
    }
    for (const auto& e : r_.endpoints) {
      if (e.failure_stage == "greeting" &&
          (e.failure_reason == "greeting_554" || e.failure_reason == "greeting_421")) {
        Finding& f = Add("prober", "prober_listed", e.mx, &e);
        f.detail = e.failure_message;
        f.alerts.push_back(Unreachable(e));
      }
    }
  }

  // ---- domain ----
  void Domain() {
    if (!r_.success) {
      Finding& f = Add("probe", r_.failure_reason.empty() ? "internal_error" : r_.failure_reason);
      f.detail = r_.failure_message;
      f.alerts.push_back(Alert("MxTlsProbeFailing", "warning", {}));
    }
    if (!r_.mx_lookup_error.empty()) {
      Finding& f = Add("dns", r_.mx_lookup_error);
      f.detail = "MX lookup of " + r_.domain;
    } else if (r_.null_mx) {
      Add("mx", "null_mx");
    } else if (r_.implicit_mx) {
      Add("mx", "implicit_mx").detail = r_.domain;
    } else {
      std::vector<std::string> names;
      for (const auto& h : r_.mx_hosts) names.push_back(std::to_string(h.preference) + " " + h.host);
      Ok("mx", Join(names));
    }
    if (r_.mx_hosts_skipped > 0) {
      Add("mx", "hosts_skipped").detail = std::to_string(r_.mx_hosts_skipped);
    }
    Dnssec(r_.mx_dnssec, "", "the MX records of " + r_.domain);
    MtaSts();
    TlsRpt();
  }

  void Dnssec(DnssecStatus status, const std::string& mx, const std::string& what) {
    switch (status) {
      case DnssecStatus::kSecure:
        Ok("dnssec", what + ": secure", mx);
        return;
      case DnssecStatus::kBogus: {
        Finding& f = Add("dnssec", "bogus", mx);
        f.detail = what;
        std::map<std::string, std::string> labels;
        if (!mx.empty()) labels["mx"] = mx;
        f.alerts.push_back(Alert("MxTlsDnssecBogus", "critical", labels));
        return;
      }
      case DnssecStatus::kInsecure:
        Add("dnssec", "insecure", mx).detail = what;
        return;
      case DnssecStatus::kUnknown:
        Add("dnssec", "unknown", mx).detail = what;
        return;
    }
  }

  void MtaSts() {
    const MtaStsReport& s = r_.mta_sts;
    if (!s.checked) return;
    if (!s.failure_reason.empty()) {
      Finding& f = Add("mta_sts", s.failure_reason);
      f.detail = s.failure_message.empty() ? s.txt_error : s.failure_message;
      f.alerts.push_back(
          Alert("MxTlsMtaStsPolicyUnusable", "warning", {{"reason", s.failure_reason}}));
    } else if (!s.txt_present) {
      Add("mta_sts", "no_policy");
    } else if (!s.txt_valid) {
      Add("mta_sts", "sts-txt-invalid").detail = s.txt_error;
    } else if (s.policy_valid) {
      if (s.mode == "enforce") {
        Ok("mta_sts", "mode enforce, id " + s.txt_id + ", mx " + Join(s.mx_patterns));
      } else {
        Add("mta_sts", s.mode == "testing" ? "mode_testing" : "mode_none").detail =
            "mx " + Join(s.mx_patterns);
      }
    }
    if (s.id_not_bumped) {
      Finding& f = Add("mta_sts", "id_not_bumped");
      f.detail = "id " + s.txt_id;
      f.alerts.push_back(Alert("MxTlsMtaStsIdNotBumped", "warning", {}));
    }
    if (s.host_cert) {
      const CertFacts& leaf = s.host_cert->leaf();
      double days = DaysLeft(leaf.not_after, now_);
      std::vector<PredictedAlert> alerts;
      static const std::tuple<double, const char*, const char*> kTiers[] = {
          {30, "info", "30d"}, {14, "warning", "14d"}, {7, "critical", "7d"}};
      for (const auto& [limit, severity, tier] : kTiers) {
        if (days < limit) {
          alerts.push_back(Alert("MxTlsMtaStsHostCertificateExpiring", severity,
                                 {{"fingerprint_sha256", leaf.fingerprint_sha256}, {"tier", tier}}));
        }
      }
      if (alerts.empty()) {
        Ok("mta_sts", "certificate of " + s.host + " " + ExpiryText(leaf.not_after, now_));
      } else {
        Finding& f = Add("mta_sts", "host_cert_expiring");
        f.detail = ExpiryText(leaf.not_after, now_);
        f.alerts = std::move(alerts);
      }
    }
  }

  void TlsRpt() {
    const TlsRptReport& t = r_.tlsrpt;
    if (!t.checked) return;
    if (!t.present) {
      Add("tlsrpt", "absent");
    } else if (!t.valid) {
      Finding& f = Add("tlsrpt", "invalid");
      f.detail = t.error;
      // The TLS-RPT series are written with the MTA-STS ones (report_metrics.cc).
      if (r_.mta_sts.checked) f.alerts.push_back(Alert("MxTlsTlsRptRecordInvalid", "info", {}));
    } else {
      Ok("tlsrpt", "rua " + Join(t.rua));
    }
  }

  // ---- MX host ----
  void Host(const MxHostReport& h) {
    if (h.is_cname) Add("mx", "cname", h.host).detail = h.canonical_name;
    for (const auto& [error, family] : {std::pair{&h.ipv4_error, "A"}, std::pair{&h.ipv6_error, "AAAA"}}) {
      if (!error->empty()) {
        Add("dns", *error, h.host).detail = std::string(family) + " lookup of " + h.host;
      }
    }
    if (h.ipv4_error.empty() && h.ipv6_error.empty()) {
      Ok("dns", Join(h.ipv4) + (h.ipv4.empty() || h.ipv6.empty() ? "" : ", ") + Join(h.ipv6),
         h.host);
    }
    if (h.addresses_skipped > 0) {
      Add("mx", "addresses_skipped", h.host).detail = std::to_string(h.addresses_skipped);
    }
    if (!h.host.empty()) Dnssec(h.address_dnssec, h.host, "the address records of " + h.host);
    Dane(h);
    if (h.sts_covered.has_value()) {
      if (*h.sts_covered) {
        Ok("mta_sts", "covered by the policy", h.host);
      } else {
        Finding& f = Add("mta_sts", "not_covered", h.host);
        f.detail = "the policy lists " + Join(r_.mta_sts.mx_patterns);
        if (r_.mta_sts.checked && (mode_ == "enforce" || mode_ == "testing")) {
          auto [severity, mode] = Graded(mode_);
          f.alerts.push_back(
              Alert("MxTlsMtaStsMxNotCovered", severity, {{"mx", h.host}, {"mta_sts_mode", mode}}));
        }
      }
    }
    Consistency(h);
  }

  void Dane(const MxHostReport& h) {
    const DaneHostReport& d = h.dane;
    if (!d.lookup_error.empty()) {
      Finding& f = Add("dane", d.lookup_error, h.host);
      f.detail = "_25._tcp." + (d.base_domain.empty() ? h.host : d.base_domain);
      f.alerts.push_back(
          Alert("MxTlsDaneTlsaLookupFailing", "critical", {{"mx", h.host}, {"reason", d.lookup_error}}));
      return;
    }
    if (!d.looked_up || d.tlsa_dnssec != DnssecStatus::kSecure) return;
    const size_t unusable = d.records.size() - static_cast<size_t>(d.usable_records);
    if (d.usable_records == 0 && unusable > 0) {
      Finding& f = Add("dane", "only_unusable", h.host);
      f.detail = std::to_string(unusable) + " unusable TLSA records";
      f.alerts.push_back(Alert("MxTlsDaneOnlyUnusableRecords", "info", {{"mx", h.host}}));
    } else if (d.usable_records > 0) {
      Ok("dane", std::to_string(d.usable_records) + " usable TLSA records", h.host);
    }
  }

  // MxTlsAddressesPresentDifferentCertificates: distinct leaf fingerprints of the main
  // sessions (mxtls_cert_info) per MX.
  void Consistency(const MxHostReport& h) {
    std::set<std::string> fingerprints;
    std::vector<std::string> who;
    for (const auto& e : r_.endpoints) {
      if (e.mx != h.host || !e.cert) continue;
      fingerprints.insert(e.cert->leaf().fingerprint_sha256);
      who.push_back(e.address + " presents " + ShortFingerprint(e.cert->leaf().fingerprint_sha256) +
                    " (" + ExpiryText(e.cert->leaf().not_after, now_) + ")");
    }
    if (who.size() < 2) return;
    if (fingerprints.size() > 1) {
      Finding& f = Add("consistency", "different_certificates", h.host);
      f.detail = Join(who, "; ");
      f.alerts.push_back(Alert("MxTlsAddressesPresentDifferentCertificates", "warning", {{"mx", h.host}}));
    } else {
      Ok("consistency", "every address presents the same certificate", h.host);
    }
  }

  // ---- endpoint ----
  PredictedAlert Unreachable(const EndpointReport& e) const {
    return Alert("MxTlsEndpointUnreachable", "warning", {{"mx", e.mx}});
  }

  void Endpoint(const EndpointReport& e) {
    const MxHostReport* host = HostOf(e.mx);
    Dialogue(e);
    if (e.cert) Certificate(e, *e.cert);
    Expiry(e);
    HeldInvalid(e);
    NoSni(e);
    Versions(e, host);
    KeyTypes(e);
    DaneEndpoint(e, host);
    ReverseDns(e);
  }

  // Connect, greeting, EHLO, STARTTLS, handshake: the step that failed carries the alerts
  // its series raise (endpoint_up 0, starttls_offered 0, tls_handshake_success 0).
  void Dialogue(const EndpointReport& e) {
    std::vector<PredictedAlert> alerts;
    if (!e.greeted) alerts.push_back(Unreachable(e));
    if (e.starttls_offered == std::optional<bool>(false)) {
      alerts.push_back(Alert("MxTlsStartTlsNotOffered", "warning", {{"mx", e.mx}}));
    }
    if (e.handshake_ok == std::optional<bool>(false)) {
      alerts.push_back(Alert("MxTlsHandshakeFailing", "warning", {{"mx", e.mx}}));
    }
    const std::string& stage = e.failure_stage;
    std::string check = stage, reason = e.failure_reason;
    if (stage.empty() && !alerts.empty()) {
      // A report without a recorded failure but with a failed step (hand-built, or a cached
      // observation): name the step from the facts.
      check = !e.greeted ? (e.connected ? "greeting" : "connect")
              : e.starttls_offered == std::optional<bool>(false) ? "starttls"
                                                                 : "handshake";
      reason = check == "connect" ? "unreachable"
               : check == "greeting" ? "greeting_unexpected"
               : check == "starttls" ? "no_starttls"
                                     : "handshake";
    }
    if (e.connected || e.greeted) Ok("connect", "connected", e.mx, &e);
    if (e.greeted) Ok("greeting", e.greeting_host.empty() ? "220" : "220 " + e.greeting_host, e.mx, &e);
    if (e.starttls_offered == std::optional<bool>(true) && check != "starttls" && check != "ehlo") {
      Ok("starttls", "offered", e.mx, &e);
    }
    if (e.handshake_ok == std::optional<bool>(true) && check != "handshake") {
      Ok("handshake", e.tls_version + (e.tls_cipher.empty() ? "" : " " + e.tls_cipher), e.mx, &e);
    }
    if (check.empty()) return;
    Finding& f = Add(check, reason.empty() ? "unknown" : reason, e.mx, &e);
    f.detail = e.failure_message;
    f.alerts = std::move(alerts);
  }

  void Certificate(const EndpointReport& e, const CertificateReport& c) {
    const CertFacts& leaf = c.leaf();
    std::vector<PredictedAlert> chain_alerts;
    auto [severity, mode] = Graded(mode_);
    if (!c.chain.verified) {
      chain_alerts.push_back(Alert("MxTlsCertificateNotVerified", severity,
                                   {{"mx", e.mx}, {"reason", c.chain.reason}, {"mta_sts_mode", mode}}));
    }
    if (!c.chain.chain_complete) {
      chain_alerts.push_back(
          Alert("MxTlsChainIncomplete", severity, {{"mx", e.mx}, {"mta_sts_mode", mode}}));
    }
    if (chain_alerts.empty()) {
      Ok("chain", "verifies (" + leaf.issuer + ")", e.mx, &e);
    } else {
      Finding& f = Add("chain", c.chain.verified ? "incomplete_chain" : c.chain.reason, e.mx, &e);
      f.detail = c.chain.detail.empty() ? "issuer " + leaf.issuer : c.chain.detail;
      f.alerts = std::move(chain_alerts);
    }
    if (c.name_match == NameMatch::kMatch) {
      Ok("name", "covers " + e.mx, e.mx, &e);
    } else {
      Finding& f = Add("name", c.name_match == NameMatch::kCnOnly ? "cn_only" : "name_mismatch", e.mx, &e);
      f.detail = CoveredNames(leaf);
      f.alerts.push_back(
          Alert("MxTlsCertificateNameMismatch", severity, {{"mx", e.mx}, {"mta_sts_mode", mode}}));
    }
    if (leaf.weak_key) {
      Add("certificate", "weak_key", e.mx, &e).detail =
          leaf.key_type + " " + std::to_string(leaf.key_bits) + " bits";
    }
    if (leaf.sha1_signature) {
      Add("certificate", "sha1_signature", e.mx, &e).detail = leaf.signature_algorithm;
    }
    if (!leaf.weak_key && !leaf.sha1_signature) {
      Ok("certificate", leaf.key_type + " " + std::to_string(leaf.key_bits) + " bits, " +
                            leaf.signature_algorithm,
         e.mx, &e);
    }
  }

  // Every certificate the endpoint holds, each its own finding (the rules alert per
  // fingerprint; the main session's certificate is among them as seen_by "sni").
  void Expiry(const EndpointReport& e) {
    for (const auto& h : e.held_certs) {
      const CertFacts& leaf = h.cert.leaf();
      const long long seconds_left = leaf.not_after - ToUnixSeconds(now_);
      const double days = DaysLeft(leaf.not_after, now_);
      std::map<std::string, std::string> base{{"mx", e.mx},
                                              {"fingerprint_sha256", leaf.fingerprint_sha256}};
      std::vector<PredictedAlert> alerts;
      static const std::tuple<double, const char*, const char*> kTiers[] = {
          {30, "info", "30d"}, {14, "warning", "14d"}, {7, "critical", "7d"}};
      for (const auto& [limit, severity, tier] : kTiers) {
        if (days < limit) {
          auto labels = base;
          labels["tier"] = tier;
          alerts.push_back(Alert("MxTlsCertificateExpiring", severity, labels));
        }
      }
      if (seconds_left <= 0) alerts.push_back(Alert("MxTlsCertificateExpired", "critical", base));
      std::string what = ShortFingerprint(leaf.fingerprint_sha256) + " (" + leaf.key_type +
                         ", seen by " + SeenByLabel(h) + ") " + ExpiryText(leaf.not_after, now_);
      if (alerts.empty()) {
        Ok("expiry", what, e.mx, &e);
        continue;
      }
      Finding& f = Add("expiry", seconds_left <= 0 ? "expired"
                                 : days < 7        ? "expires_7d"
                                 : days < 14       ? "expires_14d"
                                                   : "expires_30d",
                       e.mx, &e);
      f.detail = what;
      f.alerts = std::move(alerts);
    }
  }

  // MxTlsHeldCertificateInvalid: a certificate seen only by the RSA-only or ECDSA-only
  // session (not by the SNI one) that does not verify or does not cover the MX name.
  void HeldInvalid(const EndpointReport& e) {
    for (const auto& h : e.held_certs) {
      const bool by_key_type = Contains(h.seen_by, "rsa") || Contains(h.seen_by, "ecdsa");
      if (!by_key_type || Contains(h.seen_by, "sni")) continue;
      const CertFacts& leaf = h.cert.leaf();
      if (h.cert.chain.verified && h.cert.name_match == NameMatch::kMatch) {
        Ok("key_types", leaf.key_type + " certificate " + ShortFingerprint(leaf.fingerprint_sha256) +
                            " verifies and covers " + e.mx,
           e.mx, &e);
        continue;
      }
      Finding& f = Add("key_types", "held_certificate_invalid", e.mx, &e);
      std::vector<std::string> faults;
      if (!h.cert.chain.verified) faults.push_back("does not verify: " + h.cert.chain.reason);
      if (h.cert.name_match != NameMatch::kMatch) faults.push_back("covers " + CoveredNames(leaf));
      f.detail = leaf.key_type + " " + ShortFingerprint(leaf.fingerprint_sha256) + ", " + Join(faults, "; ");
      auto [severity, mode] = Graded(mode_);
      f.alerts.push_back(Alert("MxTlsHeldCertificateInvalid", severity,
                               {{"mx", e.mx},
                                {"fingerprint_sha256", leaf.fingerprint_sha256},
                                {"mta_sts_mode", mode}}));
    }
  }

  void NoSni(const EndpointReport& e) {
    if (!e.no_sni) return;
    const NoSniReport& n = *e.no_sni;
    if (!n.cert) {
      if (!n.handshake_ok) {
        Add("no_sni", "no_sni_handshake", e.mx, &e).detail = n.failure_stage + ": " + n.failure_reason;
      }
      return;
    }
    bool fault = false;
    if (n.cert->name_match != NameMatch::kMatch) {
      Finding& f = Add("no_sni", "no_sni_mismatch", e.mx, &e);
      f.detail = "covers " + CoveredNames(n.cert->leaf());
      f.alerts.push_back(Alert("MxTlsNoSniCertificateMismatch", "info", {{"mx", e.mx}}));
      fault = true;
    }
    if (!n.cert->chain.verified) {
      Add("no_sni", "no_sni_not_verified", e.mx, &e).detail = n.cert->chain.reason;
      fault = true;
    }
    if (!fault) {
      Ok("no_sni", n.same_as_sni ? "the same certificate as with SNI" : "a valid certificate for " + e.mx,
         e.mx, &e);
    }
  }

  void Versions(const EndpointReport& e, const MxHostReport* host) {
    if (!e.tls_versions) return;
    const TlsVersionsReport& v = *e.tls_versions;
    std::vector<std::string> accepted;
    for (const auto& s : v.versions) {
      if (s.outcome == VersionOutcome::kAccepted) accepted.push_back(s.version);
    }
    std::string detail = accepted.empty() ? "accepts no version tried" : "accepts " + Join(accepted);
    std::optional<bool> v12 = VersionSeries(v, "TLSv1.2"), v13 = VersionSeries(v, "TLSv1.3");
    if (v12 == std::optional<bool>(false) && v13 == std::optional<bool>(false)) {
      Finding& f = Add("tls_versions", "no_tls12", e.mx, &e);
      f.detail = detail;
      if (HostPublishesTlsa(host)) {
        f.alerts.push_back(Alert("MxTlsNoModernTls", "critical", {{"mx", e.mx}, {"required_by", "dane"}}));
      } else if (mode_ == "enforce") {
        f.alerts.push_back(Alert("MxTlsNoModernTls", "critical", {{"mx", e.mx}, {"required_by", "mta_sts"}}));
      } else {
        f.alerts.push_back(Alert("MxTlsNoModernTls", "warning", {{"mx", e.mx}, {"required_by", "none"}}));
      }
    } else if (v13 == std::optional<bool>(true) && v12 == std::optional<bool>(false)) {
      Finding& f = Add("tls_versions", "tls13_only", e.mx, &e);
      f.detail = detail;
      f.alerts.push_back(Alert("MxTlsTls13Only", "info", {{"mx", e.mx}}));
    } else {
      Ok("tls_versions", detail, e.mx, &e);
    }
  }

  void KeyTypes(const EndpointReport& e) {
    for (const auto& k : e.key_type_sessions) {
      if (k.handshake_ok) {
        Ok("key_types",
           k.key_type + (k.from_main_session ? " certificate shown by the main session"
                                             : " handshake succeeds"),
           e.mx, &e);
      } else {
        Add("key_types", "key_type_missing", e.mx, &e).detail = k.key_type;
      }
    }
  }

  void DaneEndpoint(const EndpointReport& e, const MxHostReport* host) {
    const DaneEndpointReport& d = e.dane_check;
    if (!d.evaluated || d.reason == "tlsa_lookup_failed") return;  // the host finding says it
    // MxTlsDaneMismatch counts an endpoint whose mxtls_dane_match is 0 (written when the host
    // has usable records) or whose verdict is no_starttls or handshake.
    const bool match_series = host != nullptr && host->dane.usable_records > 0;
    const bool counted = (match_series && !d.authenticated) || d.reason == "no_starttls" ||
                         d.reason == "handshake";
    if (d.authenticated && !counted) {
      Ok("dane", d.next_key_published ? "authenticated; the next key is pre-published"
                                      : "authenticated",
         e.mx, &e);
      return;
    }
    if (!counted && d.reason == "only_unusable") return;  // the host finding says it
    std::string reason = d.reason.empty() || d.reason == "ok" ? "no_match" : d.reason;
    Finding& f = Add("dane", reason, e.mx, &e);
    std::vector<std::string> records;
    for (const auto& rr : d.records) {
      if (host != nullptr && rr.record_index < host->dane.records.size()) {
        const TlsaRecord& t = host->dane.records[rr.record_index];
        records.push_back(std::to_string(t.usage) + " " + std::to_string(t.selector) + " " +
                          std::to_string(t.matching_type) + ": " + rr.reason);
      }
    }
    f.detail = records.empty() ? reason : Join(records);
    if (counted) f.alerts.push_back(Alert("MxTlsDaneMismatch", "critical", {{"mx", e.mx}}));
  }

  void ReverseDns(const EndpointReport& e) {
    const ReverseDnsReport& r = e.reverse_dns;
    if (!r.checked) return;
    if (!r.error.empty()) {
      const bool none = r.error == "nxdomain" || r.error == "nodata";
      Add("reverse_dns", none ? "no_ptr" : "lookup_failed", e.mx, &e).detail = r.error;
    } else if (!r.forward_confirmed) {
      Add("reverse_dns", "not_forward_confirmed", e.mx, &e).detail = Join(r.ptr_names);
    } else if (!r.matches_mx) {
      Add("reverse_dns", "ptr_mismatch", e.mx, &e).detail = Join(r.ptr_names);
    } else {
      Ok("reverse_dns", Join(r.ptr_names), e.mx, &e);
    }
  }

  // Levels follow the alerts (the worst severity among them); a finding that raises none is
  // at most info. Then the diagnoses, and the order: worst first, the domain before its MX
  // hosts (in preference order), then by address.
  void Finish() {
    for (Finding& f : out_) {
      if (!f.alerts.empty()) {
        FindingLevel worst = FindingLevel::kInfo;
        for (const auto& a : f.alerts) worst = std::min(worst, LevelOfSeverity(a.severity));
        f.level = worst;
      }
      std::sort(f.alerts.begin(), f.alerts.end(), AlertLess);
      f.alerts.erase(std::unique(f.alerts.begin(), f.alerts.end()), f.alerts.end());
      // An unregistered reason keeps diagnosis null: the tests require non-null for every
      // finding but kOk, so a new reason without a diagnosis fails them.
      if (f.level != FindingLevel::kOk) f.diagnosis = FindDiagnosis(f.check, f.reason);
    }
    auto host_rank = [&](const std::string& mx) {
      if (mx.empty()) return -1;
      for (size_t i = 0; i < r_.mx_hosts.size(); ++i) {
        if (r_.mx_hosts[i].host == mx) return static_cast<int>(i);
      }
      return static_cast<int>(r_.mx_hosts.size());
    };
    std::stable_sort(out_.begin(), out_.end(), [&](const Finding& a, const Finding& b) {
      return std::make_tuple(a.level, host_rank(a.mx), a.address) <
             std::make_tuple(b.level, host_rank(b.mx), b.address);
    });
  }

 public:
  static bool AlertLess(const PredictedAlert& a, const PredictedAlert& b) {
    return std::tie(a.name, a.labels, a.severity) < std::tie(b.name, b.labels, b.severity);
  }

 private:
  const DomainReport& r_;
  WallTime now_;
  std::string mode_;
  std::vector<Finding> out_;
};

}  // namespace

std::string_view FindingLevelWord(FindingLevel level) {
  switch (level) {
    case FindingLevel::kCritical: return "critical";
    case FindingLevel::kWarning: return "warning";
    case FindingLevel::kInfo: return "info";
    case FindingLevel::kOk: return "ok";
  }
  return "ok";
}

std::vector<Finding> Diagnose(const DomainReport& report, WallTime now) {
  return Diagnoser(report, now).Run();
}

std::vector<PredictedAlert> PredictAlerts(const DomainReport& report, WallTime now) {
  std::vector<PredictedAlert> all;
  for (const Finding& f : Diagnose(report, now)) {
    all.insert(all.end(), f.alerts.begin(), f.alerts.end());
  }
  std::sort(all.begin(), all.end(), Diagnoser::AlertLess);
  all.erase(std::unique(all.begin(), all.end()), all.end());
  return all;
}

std::string FillDiagnosisText(std::string_view text, const DomainReport& report,
                              const Finding& finding) {
  static const std::pair<std::string_view, std::string Finding::*> kFields[] = {
      {"{mx}", &Finding::mx}, {"{address}", &Finding::address}, {"{detail}", &Finding::detail}};
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    bool replaced = false;
    if (text[i] == '{') {
      if (text.substr(i).starts_with("{domain}")) {
        out += report.domain;
        i += 8;
        replaced = true;
      }
      for (const auto& [key, field] : kFields) {
        if (!replaced && text.substr(i).starts_with(key)) {
          out += finding.*field;
          i += key.size();
          replaced = true;
        }
      }
    }
    if (!replaced) out += text[i++];
  }
  return out;
}

}  // namespace mxtls
