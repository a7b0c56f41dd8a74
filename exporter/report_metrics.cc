#include "exporter/report_metrics.h"

#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "exporter/exposition_text.h"
#include "probes/judgement/certificate_report.h"
#include "probes/judgement/dane.h"
#include "probes/judgement/dnssec.h"

namespace mxtls {
namespace {

using Labels = std::map<std::string, std::string>;

// Label values come from the network (MX names from DNS, certificate fields). Prometheus
// rejects a whole scrape that contains invalid UTF-8, so a hostile DNS answer or certificate
// must not be able to smuggle one in: control characters and bytes that are not part of a
// valid UTF-8 sequence become "\xNN".
std::string SafeLabelValue(const std::string& v) {
  // Nearly every value is printable ASCII (names, addresses, hex fingerprints): no decoding.
  bool printable_ascii = true;
  for (unsigned char c : v) {
    if (c < 0x20 || c >= 0x7F) {
      printable_ascii = false;
      break;
    }
  }
  if (printable_ascii) return v;
  std::string out;
  out.reserve(v.size());
  size_t i = 0;
  while (i < v.size()) {
    unsigned char c = static_cast<unsigned char>(v[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool valid = len > 0 && i + len <= v.size();
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t k = 1; valid && k < len; ++k) {
      unsigned char cc = static_cast<unsigned char>(v[i + k]);
      valid = (cc & 0xC0) == 0x80;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8 either.
    static const uint32_t kMinForLength[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (valid && len > 1 &&
        (cp < kMinForLength[len] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)) {
      valid = false;
    }
    if (valid && len == 1 && (c < 0x20 || c == 0x7F)) valid = false;
    if (!valid) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
      ++i;
      continue;
    }
    out.append(v, i, len);
    i += len;
  }
  return out;
}

// Collects one response's families as plain prometheus-cpp data (MetricFamily), for the
// exposition text (SerializeExpositionText, the library's format). Families are created on
// first use, so a check that did not run leaves its metric absent instead of exporting a
// misleading zero. A label set written twice keeps the last value, as a registry would, so a
// response never holds a duplicate series (Prometheus would reject the whole scrape). No
// Registry: its per-series objects, locks and the copy made by Collect() cost more than the
// rest of rendering, once per probe.
class Writer {
 public:
  // `name` and `help` are string literals: the family index keys on them without copies.
  void Set(const char* name, const char* help, const Labels& labels, double value) {
    auto [at, new_family] = family_index_.try_emplace(std::string_view(name), families_.size());
    if (new_family) {
      families_.emplace_back();
      prometheus::MetricFamily& f = families_.back().family;
      f.name = name;
      f.help = help;
      f.type = prometheus::MetricType::Gauge;
    }
    Family& family = families_[at->second];
    std::string identity;
    size_t identity_size = 0;
    for (const auto& [k, v] : labels) identity_size += k.size() + v.size() + 2;
    identity.reserve(identity_size);
    for (const auto& [k, v] : labels) {
      identity.append(k).push_back('\0');
      identity.append(v).push_back('\0');
    }
    auto [series, new_series] =
        family.series_index.try_emplace(std::move(identity), family.family.metric.size());
    if (!new_series) {
      family.family.metric[series->second].gauge.value = value;
      return;
    }
    prometheus::ClientMetric m;
    m.label.reserve(labels.size());
    for (const auto& [k, v] : labels) m.label.push_back({k, SafeLabelValue(v)});
    m.gauge.value = value;
    family.family.metric.push_back(std::move(m));
  }
  std::vector<prometheus::MetricFamily> TakeFamilies() {
    std::vector<prometheus::MetricFamily> out;
    out.reserve(families_.size());
    for (Family& f : families_) out.push_back(std::move(f.family));
    return out;
  }

 private:
  struct Family {
    prometheus::MetricFamily family;
    std::unordered_map<std::string, size_t> series_index;  // label identity -> metric index
  };
  std::vector<Family> families_;  // in order of first use
  std::unordered_map<std::string_view, size_t> family_index_;  // name -> index in families_
};

Labels With(Labels base, const std::string& key, const std::string& value) {
  base[key] = value;
  return base;
}

const char* NameMatchWord(NameMatch m) {
  switch (m) {
    case NameMatch::kMatch: return "match";
    case NameMatch::kCnOnly: return "cn_only";
    case NameMatch::kMismatch: return "mismatch";
  }
  return "mismatch";
}

void WriteCertificate(Writer& w, const Labels& ep, const CertificateReport& c) {
  const CertFacts& leaf = c.leaf();
  w.Set("mxtls_cert_info",
        "Identity of the leaf certificate the endpoint presented (value 1).",
        With(With(With(With(With(With(ep, "fingerprint_sha256", leaf.fingerprint_sha256),
                                  "subject", leaf.subject),
                             "issuer", leaf.issuer),
                        "serial", leaf.serial),
                   "key_type", leaf.key_type),
              "signature_algorithm", leaf.signature_algorithm),
        1);
  w.Set("mxtls_cert_verified",
        "1 when the presented chain verifies to the trust store using only the presented "
        "intermediates (no AIA), regardless of the name.",
        ep, c.chain.verified ? 1 : 0);
  w.Set("mxtls_cert_verify_info",
        "The chain verification result as a fixed reason word (ok, expired, not_yet_valid, "
        "self_signed, untrusted, incomplete_chain, ...).",
        With(ep, "reason", c.chain.reason), 1);
  w.Set("mxtls_cert_chain_complete",
        "1 when every issuer needed was presented or is in the trust store.", ep,
        c.chain.chain_complete ? 1 : 0);
  w.Set("mxtls_cert_chain_root_included",
        "1 when the server also sent a self-signed root certificate.", ep,
        c.chain.root_included ? 1 : 0);
  w.Set("mxtls_cert_chain_order_ok",
        "1 when the presented certificates follow the issuing order, leaf first.", ep,
        c.chain.order_ok ? 1 : 0);
  w.Set("mxtls_cert_chain_certificates", "Number of certificates the server presented.", ep,
        static_cast<double>(c.presented.size()));
  w.Set("mxtls_cert_san_match",
        "1 when a DNS subjectAltName of the leaf matches the MX host name as published "
        "(RFC 6125: no CN fallback, wildcards cover exactly one label).",
        ep, c.name_match == NameMatch::kMatch ? 1 : 0);
  w.Set("mxtls_cert_name_match_info",
        "How the leaf matched the MX host name: match, cn_only (only the subject CN matches, "
        "no DNS SAN) or mismatch.",
        With(ep, "result", NameMatchWord(c.name_match)), 1);
  w.Set("mxtls_cert_not_after_timestamp_seconds", "Expiry time of the leaf certificate.", ep,
        static_cast<double>(leaf.not_after));
  w.Set("mxtls_cert_not_before_timestamp_seconds", "Start of validity of the leaf certificate.",
        ep, static_cast<double>(leaf.not_before));
  w.Set("mxtls_cert_days_to_expiry",
        "Days until the leaf certificate expires; fractional, negative once expired.", ep,
        c.days_to_expiry);
  if (c.chain.earliest_not_after) {
    w.Set("mxtls_chain_earliest_not_after_timestamp_seconds",
          "Earliest expiry on the verified path (leaf, intermediates, root); extra "
          "certificates the server sends that are not on the path do not count.",
          ep, static_cast<double>(*c.chain.earliest_not_after));
  }
  w.Set("mxtls_cert_key_size", "Size of the leaf's public key, in bits.", ep, leaf.key_bits);
  w.Set("mxtls_cert_weak_key", "1 when the leaf's key is weak (RSA < 2048, EC < 224 bits).", ep,
        leaf.weak_key ? 1 : 0);
  w.Set("mxtls_cert_sha1_signature", "1 when the leaf is signed with SHA-1 or older.", ep,
        leaf.sha1_signature ? 1 : 0);
}

void WriteNoSni(Writer& w, const Labels& ep, const NoSniReport& n) {
  w.Set("mxtls_nosni_check_age_seconds",
        "Age of the no-SNI observation of the endpoint (it is refreshed every "
        "no_sni_check_interval, not at every probe).",
        ep, n.age_seconds);
  w.Set("mxtls_nosni_tls_handshake_success",
        "1 when the TLS handshake without SNI succeeded (as Postfix and Exim send no SNI by "
        "default).",
        ep, n.handshake_ok ? 1 : 0);
  if (!n.cert) return;
  const CertificateReport& c = *n.cert;
  w.Set("mxtls_cert_sni_default_match",
        "1 when the certificate presented without SNI is the same as the one presented with "
        "SNI = the MX name.",
        ep, n.same_as_sni ? 1 : 0);
  w.Set("mxtls_nosni_cert_info", "Identity of the leaf presented without SNI (value 1).",
        With(With(With(ep, "fingerprint_sha256", c.leaf().fingerprint_sha256), "subject",
                  c.leaf().subject),
             "issuer", c.leaf().issuer),
        1);
  w.Set("mxtls_nosni_cert_verified",
        "1 when the chain presented without SNI verifies to the trust store.", ep,
        c.chain.verified ? 1 : 0);
  w.Set("mxtls_nosni_cert_verify_info",
        "Verification result of the chain presented without SNI, as a fixed reason word.",
        With(ep, "reason", c.chain.reason), 1);
  w.Set("mxtls_nosni_cert_san_match",
        "1 when the leaf presented without SNI matches the MX host name.", ep,
        c.name_match == NameMatch::kMatch ? 1 : 0);
  w.Set("mxtls_nosni_cert_not_after_timestamp_seconds",
        "Expiry time of the leaf presented without SNI.", ep,
        static_cast<double>(c.leaf().not_after));
  w.Set("mxtls_nosni_cert_days_to_expiry",
        "Days until the leaf presented without SNI expires; negative once expired.", ep,
        c.days_to_expiry);
}

void WriteMtaSts(Writer& w, const DomainReport& report) {
  const MtaStsReport& sts = report.mta_sts;
  const bool effective = sts.txt_valid && sts.policy_valid;
  // Domain-level MTA-STS facts are always present (0 when there is no record).
  w.Set("mxtls_mta_sts_txt_present", "1 when _mta-sts.<domain> has a v=STSv1 TXT record.", {},
        sts.txt_present ? 1 : 0);
  w.Set("mxtls_mta_sts_txt_valid",
        "1 when exactly one v=STSv1 TXT record exists and it is valid (RFC 8461 §3.1).", {},
        sts.txt_valid ? 1 : 0);
  w.Set("mxtls_mta_sts_policy_valid",
        "1 when the policy was fetched over verified HTTPS and is valid (RFC 8461 §3.2, §3.3).",
        {}, sts.policy_valid ? 1 : 0);
  w.Set("mxtls_mta_sts_policy_mode",
        "The MTA-STS mode senders apply (value 1): enforce, testing, or none (also when there "
        "is no valid record and policy).",
        {{"mode", effective ? sts.mode : "none"}}, 1);
  if (sts.policy_valid) {
    w.Set("mxtls_mta_sts_policy_info", "The fetched MTA-STS policy (value 1): mode and TXT id.",
          {{"mode", sts.mode}, {"id", sts.txt_id}}, 1);
    w.Set("mxtls_mta_sts_policy_max_age_seconds", "max_age of the MTA-STS policy.", {},
          static_cast<double>(sts.max_age));
  }
  if (!sts.failure_reason.empty()) {
    w.Set("mxtls_mta_sts_policy_failure_info",
          "Why no valid MTA-STS policy could be had (value 1), in the RFC 8460 vocabulary: "
          "sts-policy-fetch-error, sts-policy-invalid, sts-webpki-invalid; or sts-txt-invalid.",
          {{"reason", sts.failure_reason}}, 1);
  }
  w.Set("mxtls_mta_sts_id_not_bumped",
        "1 when the policy content changed while the TXT id stayed the same: senders that "
        "cached the old policy keep using it.",
        {}, sts.id_not_bumped ? 1 : 0);
  int covered = 0;
  for (const auto& host : report.mx_hosts) {
    if (!host.sts_covered) continue;
    covered += *host.sts_covered ? 1 : 0;
    w.Set("mxtls_mta_sts_mx_covered",
          "1 when the MX host (as published) matches an mx pattern of the policy (a wildcard "
          "covers exactly one label and never the bare name).",
          {{"mx", host.host}}, *host.sts_covered ? 1 : 0);
  }
  w.Set("mxtls_mta_sts_mx_coverage_ratio",
        "Share of MX hosts covered by the MTA-STS policy (0 without a valid policy).", {},
        effective && !report.mx_hosts.empty()
            ? static_cast<double>(covered) / static_cast<double>(report.mx_hosts.size())
            : 0);
  if (sts.host_cert) {
    const CertificateReport& c = *sts.host_cert;
    w.Set("mxtls_mta_sts_host_cert_not_after_timestamp_seconds",
          "Expiry of the certificate of mta-sts.<domain> (an expired one disables the policy).",
          {}, static_cast<double>(c.leaf().not_after));
    w.Set("mxtls_mta_sts_host_cert_days_to_expiry",
          "Days until the certificate of mta-sts.<domain> expires; negative once expired.", {},
          c.days_to_expiry);
    w.Set("mxtls_mta_sts_host_cert_verified",
          "1 when the certificate of mta-sts.<domain> verifies to the trust store.", {},
          c.chain.verified ? 1 : 0);
    w.Set("mxtls_mta_sts_host_cert_san_match",
          "1 when the certificate of mta-sts.<domain> covers that name.", {},
          c.name_match == NameMatch::kMatch ? 1 : 0);
    w.Set("mxtls_mta_sts_host_cert_info",
          "Identity of the certificate of mta-sts.<domain> (value 1).",
          {{"fingerprint_sha256", c.leaf().fingerprint_sha256},
           {"subject", c.leaf().subject},
           {"issuer", c.leaf().issuer},
           {"reason", c.chain.reason}},
          1);
  }
  if (sts.fetch_attempted) {
    w.Set("mxtls_phase_duration_seconds", "Duration of each probe phase, in seconds.",
          {{"phase", "mta_sts_fetch"}}, sts.fetch_seconds);
  }
  if (sts.policy_age_seconds) {
    w.Set("mxtls_mta_sts_policy_age_seconds",
          "Seconds since the MTA-STS policy and its host certificate were fetched (0: by this "
          "probe); refetched when the TXT id changes or after mta_sts.refetch_interval, "
          "judged again at every probe.",
          {}, *sts.policy_age_seconds);
  }
  const TlsRptReport& rpt = report.tlsrpt;
  w.Set("mxtls_tlsrpt_record_present", "1 when _smtp._tls.<domain> has a v=TLSRPTv1 record.", {},
        rpt.present ? 1 : 0);
  w.Set("mxtls_tlsrpt_record_valid",
        "1 when exactly one valid TLS-RPT record exists with valid rua URIs (RFC 8460).", {},
        rpt.valid ? 1 : 0);
}

// 1 accepted, 0 refused; nothing when the version session gave no verdict.
std::optional<double> VersionSupportedValue(VersionOutcome outcome) {
  if (outcome == VersionOutcome::kAccepted) return 1;
  if (outcome == VersionOutcome::kRefused) return 0;
  return std::nullopt;
}

void WriteDnssec(Writer& w, Labels labels, DnssecStatus status) {
  w.Set("mxtls_dnssec_status",
        "DNSSEC status (value 1) as the validating resolver reports it: secure, insecure, bogus "
        "(signatures fail: validating senders cannot resolve), unknown (resolver not "
        "validating, or the lookup failed). Without mx: the MX lookup; with mx: the host's "
        "address lookups.",
        With(std::move(labels), "status", DnssecStatusWord(status)), 1);
}

void WriteDaneHost(Writer& w, const MxHostReport& host) {
  const DaneHostReport& d = host.dane;
  Labels mx{{"mx", host.host}};
  if (!d.lookup_error.empty()) {
    w.Set("mxtls_dane_tlsa_lookup_failure_info",
          "The TLSA lookup of the MX host failed while its addresses are DNSSEC-secure (value "
          "1): DANE senders defer (RFC 7672 §2.1.1).",
          With(mx, "reason", d.lookup_error), 1);
    return;
  }
  if (!d.looked_up || d.tlsa_dnssec != DnssecStatus::kSecure) return;
  w.Set("mxtls_dane_tlsa_records",
        "Usable TLSA records of the MX host (DANE-TA or DANE-EE, known selector and matching "
        "type) in its DNSSEC-secure TLSA RRset.",
        mx, d.usable_records);
  w.Set("mxtls_dane_tlsa_unusable_records",
        "TLSA records of the MX host that SMTP senders cannot use (PKIX usages 0/1, unknown "
        "parameters): with only these, DANE senders require TLS but authenticate nothing.",
        mx, static_cast<double>(d.records.size()) - d.usable_records);
}

void WriteDaneEndpoint(Writer& w, const Labels& ep, const MxHostReport* host,
                       const DaneEndpointReport& d) {
  if (!d.evaluated) return;
  w.Set("mxtls_dane_verdict_info",
        "The DANE judgement of the endpoint as a fixed word (value 1): ok, no_match, "
        "stale_digest, name_mismatch, expired, ta_not_presented, chain, only_unusable, "
        "tlsa_lookup_failed, no_starttls, handshake.",
        With(ep, "reason", d.reason), 1);
  if (host == nullptr || host->dane.usable_records == 0 || d.reason == "tlsa_lookup_failed") {
    return;
  }
  w.Set("mxtls_dane_match",
        "1 when DANE senders authenticate every certificate the endpoint presents through a "
        "usable TLSA record (RFC 7672), digest agility applied.",
        ep, d.authenticated ? 1 : 0);
  w.Set("mxtls_dane_next_key_published",
        "1 when a usable TLSA record matches no certificate the endpoint presents while the "
        "endpoint is authenticated: a pre-published next key (RFC 7671 §8).",
        ep, d.next_key_published ? 1 : 0);
  for (const auto& r : d.records) {
    if (r.record_index >= host->dane.records.size()) continue;
    w.Set("mxtls_dane_record_match",
          "1 when this TLSA record, judged on its own, matches the certificate the endpoint "
          "presents to a DANE sender.",
          With(ep, "record", DescribeTlsaRecord(host->dane.records[r.record_index])),
          r.matches ? 1 : 0);
  }
}

void WriteHeldCertificates(Writer& w, const Labels& ep, const EndpointReport& e) {
  for (const auto& h : e.held_certs) {
    const CertFacts& leaf = h.cert.leaf();
    Labels fp = With(ep, "fingerprint_sha256", leaf.fingerprint_sha256);
    w.Set("mxtls_cert_held_info",
          "A distinct certificate the endpoint holds (value 1): with SNI, without, or to "
          "clients offering only RSA or only ECDSA signature algorithms (seen_by).",
          With(With(With(With(fp, "subject", leaf.subject), "issuer", leaf.issuer), "key_type",
                    leaf.key_type),
               "seen_by", SeenByLabel(h)),
          1);
    w.Set("mxtls_cert_held_not_after_timestamp_seconds",
          "Expiry time of a certificate the endpoint holds.", fp,
          static_cast<double>(leaf.not_after));
    w.Set("mxtls_cert_held_days_to_expiry",
          "Days until a certificate the endpoint holds expires; negative once expired.", fp,
          h.cert.days_to_expiry);
    w.Set("mxtls_cert_held_verified",
          "1 when the chain presented with a certificate the endpoint holds verifies.", fp,
          h.cert.chain.verified ? 1 : 0);
    w.Set("mxtls_cert_held_san_match",
          "1 when a certificate the endpoint holds matches the MX host name.", fp,
          h.cert.name_match == NameMatch::kMatch ? 1 : 0);
  }
}

void WriteEndpointExtras(Writer& w, const Labels& ep, const EndpointReport& e) {
  if (e.tls_versions) {
    for (const auto& v : e.tls_versions->versions) {
      std::optional<double> value = VersionSupportedValue(v.outcome);
      if (!value) continue;
      w.Set("mxtls_tls_version_supported",
            "1 when the endpoint completes a handshake at exactly this TLS version, 0 when it "
            "refuses it; absent when unknown (our client cannot offer it, or no answer). "
            "TLSv1.3 is the main session's: it offers every version and the server picks its "
            "highest.",
            With(ep, "version", v.version), *value);
    }
    w.Set("mxtls_tls_version_check_age_seconds",
          "Age of the TLS version observation of the endpoint (it is cached).", ep,
          e.tls_versions->age_seconds);
  }
  for (const auto& k : e.key_type_sessions) {
    w.Set("mxtls_key_type_handshake_success",
          "1 when a handshake offering only this family of signature algorithms (rsa, ecdsa) "
          "succeeded, or the main session (offering both) completed with a certificate of this "
          "type.",
          With(ep, "key_type", k.key_type), k.handshake_ok ? 1 : 0);
  }
  WriteHeldCertificates(w, ep, e);
  if (e.reverse_dns.checked) {
    const ReverseDnsReport& r = e.reverse_dns;
    w.Set("mxtls_ptr_match", "1 when a PTR name of the address equals the MX host name.", ep,
          r.matches_mx ? 1 : 0);
    w.Set("mxtls_fcrdns_valid",
          "1 when a PTR name of the address resolves back to the same address "
          "(forward-confirmed reverse DNS).",
          ep, r.forward_confirmed ? 1 : 0);
    for (const auto& name : r.ptr_names) {
      w.Set("mxtls_ptr_info", "A PTR name of the address (value 1).", With(ep, "ptr", name), 1);
    }
  }
  if (!e.greeting_host.empty()) {
    w.Set("mxtls_smtp_greeting_info",
          "The host name the endpoint's 220 greeting announces (value 1).",
          With(ep, "host", e.greeting_host), 1);
  }
  w.Set("mxtls_endpoint_smtp_sessions",
        "SMTP sessions this probe opened to the endpoint (cached observations not counted).", ep,
        e.sessions_opened);
  w.Set("mxtls_endpoint_session_reused",
        "1 when the endpoint's main session was shared with another domain's probe of the same "
        "endpoint (endpoint_reuse_window) instead of opened for this probe; its phase timings "
        "are then that session's.",
        ep, e.session_reused ? 1 : 0);
  w.Set("mxtls_endpoint_session_age_seconds",
        "Age of the endpoint's main session observation: 0 for a session of this probe, the "
        "time since the shared session ended when it was reused.",
        ep, e.session_age_seconds);
}

void WriteVerdict(Writer& w, const Labels& ep, const char* sender, const SenderVerdict& v) {
  if (!v.evaluated) return;
  Labels l = With(ep, "sender", sender);
  w.Set("mxtls_sender_delivers",
        "Whether a kind of sending MTA would deliver to the endpoint: opportunistic (encrypts "
        "when it can), mta_sts (applies the domain's policy in its mode), no_sni_strict "
        "(sends no SNI, verifies chain and name), dane (DANE where TLSA applies, else "
        "MTA-STS), modern and legacy (opportunistic on today's and old TLS stacks).",
        l, v.delivers ? 1 : 0);
  if (!v.reason.empty()) {
    w.Set("mxtls_sender_verdict_info",
          "Why a kind of sender would not deliver (or the caveat when it would, such as "
          "plaintext), as a fixed word (value 1).",
          With(l, "reason", v.reason), 1);
  }
}

}  // namespace

std::vector<prometheus::MetricFamily> ReportMetricFamilies(const DomainReport& report) {
  Writer w;
  w.Set("probe_success",
        "1 when DNS answered and every endpoint reached a verdict (good or bad) in time.", {},
        report.success ? 1 : 0);
  w.Set("probe_duration_seconds", "How long the probe took, in seconds.", {},
        report.duration_seconds);
  w.Set("probe_timeout_seconds", "The deadline the probe ran under, in seconds.", {},
        report.timeout_seconds);
  if (!report.success) {
    w.Set("mxtls_probe_failure_info",
          "Why the probe as a whole failed (value 1), as a short fixed reason.",
          {{"reason", report.failure_reason}}, 1);
  }
  if (report.mta_sts.checked) WriteMtaSts(w, report);
  WriteDnssec(w, {}, report.mx_dnssec);
  // Domain-level facts: always present.
  w.Set("mxtls_null_mx", "1 when the domain publishes a null MX (RFC 7505): it accepts no mail.",
        {}, report.null_mx ? 1 : 0);
  w.Set("mxtls_implicit_mx",
        "1 when the domain has no MX records and its own address is the mail host (RFC 5321).",
        {}, report.implicit_mx ? 1 : 0);
  w.Set("mxtls_mx_hosts", "Number of MX hosts probed.", {},
        static_cast<double>(report.mx_hosts.size()));
  w.Set("mxtls_mx_hosts_skipped", "MX hosts not probed because of max_mx_hosts.", {},
        report.mx_hosts_skipped);
  w.Set("mxtls_endpoints", "Number of (MX host, address) endpoints probed.", {},
        static_cast<double>(report.endpoints.size()));
  w.Set("mxtls_phase_duration_seconds", "Duration of each probe phase, in seconds.",
        {{"phase", "dns"}}, report.dns_seconds);

  for (const auto& host : report.mx_hosts) {
    w.Set("mxtls_mx_info",
          "An MX host of the domain (value 1): preference, and the CNAME target when the MX "
          "name is an alias (empty otherwise).",
          {{"mx", host.host},
           {"preference", std::to_string(host.preference)},
           {"cname", host.is_cname ? host.canonical_name : ""}},
          1);
    w.Set("mxtls_mx_addresses", "Addresses of the MX host probed, by family.",
          {{"mx", host.host}, {"family", "ipv4"}}, static_cast<double>(host.ipv4.size()));
    w.Set("mxtls_mx_addresses", "Addresses of the MX host probed, by family.",
          {{"mx", host.host}, {"family", "ipv6"}}, static_cast<double>(host.ipv6.size()));
    if (host.addresses_skipped > 0) {
      w.Set("mxtls_mx_addresses_skipped",
            "Addresses of the MX host not probed because of max_addresses_per_mx.",
            {{"mx", host.host}}, host.addresses_skipped);
    }
    if (host.cert_consistent) {
      w.Set("mxtls_mx_cert_consistent",
            "1 when every address of the MX host presents the same leaf certificate.",
            {{"mx", host.host}}, *host.cert_consistent ? 1 : 0);
    }
    if (!host.host.empty()) WriteDnssec(w, {{"mx", host.host}}, host.address_dnssec);
    WriteDaneHost(w, host);
    if (!host.ipv4_error.empty()) {
      w.Set("mxtls_mx_address_lookup_failure_info",
            "An address lookup of the MX host failed (value 1), with the reason.",
            {{"mx", host.host}, {"family", "ipv4"}, {"reason", host.ipv4_error}}, 1);
    }
    if (!host.ipv6_error.empty()) {
      w.Set("mxtls_mx_address_lookup_failure_info",
            "An address lookup of the MX host failed (value 1), with the reason.",
            {{"mx", host.host}, {"family", "ipv6"}, {"reason", host.ipv6_error}}, 1);
    }
  }

  std::optional<double> min_days;
  for (const auto& e : report.endpoints) {
    Labels ep{{"mx", e.mx}, {"address", e.address}, {"family", e.family}};
    w.Set("mxtls_endpoint_up", "1 when the endpoint answered with a 220 greeting.", ep,
          e.greeted ? 1 : 0);
    if (e.starttls_offered) {
      w.Set("mxtls_starttls_offered", "1 when the endpoint offers STARTTLS in its EHLO reply.",
            ep, *e.starttls_offered ? 1 : 0);
    }
    if (e.handshake_ok) {
      w.Set("mxtls_tls_handshake_success", "1 when the TLS handshake after STARTTLS succeeded.",
            ep, *e.handshake_ok ? 1 : 0);
    }
    if (!e.tls_version.empty()) {
      w.Set("mxtls_tls_version_info", "The negotiated TLS version (value 1).",
            With(ep, "version", e.tls_version), 1);
    }
    if (e.cert) {
      WriteCertificate(w, ep, *e.cert);
      min_days = min_days ? std::min(*min_days, e.cert->days_to_expiry) : e.cert->days_to_expiry;
    }
    if (!e.failure_reason.empty()) {
      w.Set("mxtls_endpoint_failure_info",
            "Where and why the endpoint's SMTP/TLS dialogue stopped (value 1).",
            With(With(ep, "stage", e.failure_stage), "reason", e.failure_reason), 1);
    }
    if (e.no_sni) WriteNoSni(w, ep, *e.no_sni);
    if (e.sts_compliance.evaluated) {
      w.Set("mxtls_mta_sts_endpoint_compliant",
            "1 when an MTA-STS-enforcing sender would deliver to the endpoint under the "
            "domain's policy (RFC 8461 §4.2), whatever the policy's mode.",
            ep, e.sts_compliance.delivers ? 1 : 0);
    }
    WriteVerdict(w, ep, "opportunistic", e.opportunistic);
    WriteVerdict(w, ep, "mta_sts", e.mta_sts);
    WriteVerdict(w, ep, "no_sni_strict", e.no_sni_strict);
    WriteVerdict(w, ep, "dane", e.dane);
    WriteVerdict(w, ep, "modern", e.modern);
    WriteVerdict(w, ep, "legacy", e.legacy);
    const MxHostReport* host = nullptr;
    for (const auto& h : report.mx_hosts) {
      if (h.host == e.mx) host = &h;
    }
    WriteDaneEndpoint(w, ep, host, e.dane_check);
    WriteEndpointExtras(w, ep, e);
    for (const auto& h : e.held_certs) {
      min_days = min_days ? std::min(*min_days, h.cert.days_to_expiry) : h.cert.days_to_expiry;
    }
    for (const auto& [phase, seconds] : e.phase_seconds) {
      w.Set("mxtls_phase_duration_seconds", "Duration of each probe phase, in seconds.",
            With(ep, "phase", phase), seconds);
    }
  }
  // Domain verdicts: would this kind of sender deliver to every endpoint?
  if (!report.endpoints.empty()) {
    static const std::pair<const char*, SenderVerdict EndpointReport::*> kSenders[] = {
        {"opportunistic", &EndpointReport::opportunistic},
        {"mta_sts", &EndpointReport::mta_sts},
        {"no_sni_strict", &EndpointReport::no_sni_strict},
        {"dane", &EndpointReport::dane},
        {"modern", &EndpointReport::modern},
        {"legacy", &EndpointReport::legacy}};
    for (const auto& [sender, verdict] : kSenders) {
      bool evaluated = false, all = true;
      for (const auto& e : report.endpoints) {
        const SenderVerdict& v = e.*verdict;
        if (!v.evaluated) continue;
        evaluated = true;
        all = all && v.delivers;
      }
      if (evaluated) {
        w.Set("mxtls_domain_sender_delivers",
              "1 when this kind of sender would deliver to every endpoint of the domain.",
              {{"sender", sender}}, all ? 1 : 0);
      }
    }
    bool any_cert = false, names_ok = true;
    for (const auto& e : report.endpoints) {
      if (!e.cert) continue;
      any_cert = true;
      names_ok = names_ok && e.cert->name_match == NameMatch::kMatch;
    }
    if (any_cert) {
      w.Set("mxtls_domain_mx_names_covered",
            "1 when every MX endpoint presents a certificate covering its own MX name.", {},
            names_ok ? 1 : 0);
    }
  }
  if (min_days) {
    w.Set("mxtls_domain_cert_days_to_expiry_min",
          "The smallest days-to-expiry of any certificate any endpoint of the domain holds.",
          {}, *min_days);
  }
  return w.TakeFamilies();
}

std::string RenderReportMetrics(const DomainReport& report) {
  return SerializeExpositionText(ReportMetricFamilies(report));
}

}  // namespace mxtls
