#include "exporter/check_json.h"

#include <ctime>

namespace mxtls {
namespace {

using nlohmann::json;

std::string Rfc3339(WallTime t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// An optional<bool> as true/false/null: "not known" is not "no".
json Tristate(const std::optional<bool>& v) { return v ? json(*v) : json(nullptr); }

json CertificateJson(const CertificateReport& c) {
  const CertFacts& leaf = c.leaf();
  const char* name_match = c.name_match == NameMatch::kMatch    ? "match"
                           : c.name_match == NameMatch::kCnOnly ? "cn_only"
                                                                : "mismatch";
  return json{
      {"subject", leaf.subject},
      {"issuer", leaf.issuer},
      {"dns_names", leaf.dns_sans},
      {"fingerprint_sha256", leaf.fingerprint_sha256},
      {"not_after", leaf.not_after},
      {"days_to_expiry", c.days_to_expiry},
      {"verified", c.chain.verified},
      {"verify_reason", c.chain.reason},
      {"chain_complete", c.chain.chain_complete},
      {"presented_certificates", c.presented.size()},
      {"checked_name", c.checked_name},
      {"name_match", name_match},
  };
}

json VerdictJson(const SenderVerdict& v) {
  if (!v.evaluated) return nullptr;
  return json{{"delivers", v.delivers}, {"reason", v.reason}};
}

json EndpointJson(const EndpointReport& e) {
  json j{
      {"mx", e.mx},
      {"address", e.address},
      {"family", e.family},
      {"connected", e.connected},
      {"greeted", e.greeted},
      {"starttls_offered", Tristate(e.starttls_offered)},
      {"handshake_ok", Tristate(e.handshake_ok)},
      {"tls_version", e.tls_version},
      {"tls_cipher", e.tls_cipher},
      {"greeting_host", e.greeting_host},
      {"failure_stage", e.failure_stage},
      {"failure_reason", e.failure_reason},
      {"failure_message", e.failure_message},
      {"certificate", e.cert ? CertificateJson(*e.cert) : json(nullptr)},
  };
  j["senders"] = json{
      {"opportunistic", VerdictJson(e.opportunistic)}, {"mta_sts", VerdictJson(e.mta_sts)},
      {"no_sni_strict", VerdictJson(e.no_sni_strict)}, {"dane", VerdictJson(e.dane)},
      {"modern", VerdictJson(e.modern)},               {"legacy", VerdictJson(e.legacy)},
  };
  return j;
}

json MxHostJson(const MxHostReport& mx) {
  json addresses = json::array();
  for (const std::string& a : mx.ipv4) addresses.push_back({{"address", a}, {"family", "ipv4"}});
  for (const std::string& a : mx.ipv6) addresses.push_back({{"address", a}, {"family", "ipv6"}});
  return json{
      {"host", mx.host},
      {"preference", mx.preference},
      {"cname", mx.is_cname ? json(mx.canonical_name) : json(nullptr)},
      {"addresses", addresses},
      {"ipv4_error", mx.ipv4_error},
      {"ipv6_error", mx.ipv6_error},
      {"mta_sts_covered", Tristate(mx.sts_covered)},
  };
}

json AlertJson(const PredictedAlert& a) {
  return json{{"name", a.name}, {"severity", a.severity}, {"labels", a.labels}};
}

json FindingJson(const DomainReport& r, const Finding& f) {
  json alerts = json::array();
  for (const PredictedAlert& a : f.alerts) alerts.push_back(AlertJson(a));
  json diagnosis = nullptr;
  if (f.diagnosis != nullptr) {
    const Diagnosis& d = *f.diagnosis;
    diagnosis = json{{"symptom", FillDiagnosisText(d.symptom, r, f)},
                     {"affected", FillDiagnosisText(d.affected, r, f)},
                     {"cause", FillDiagnosisText(d.cause, r, f)},
                     {"fix", FillDiagnosisText(d.fix, r, f)}};
  }
  return json{{"level", std::string(FindingLevelWord(f.level))},
              {"check", f.check},
              {"reason", f.reason},
              {"mx", f.mx},
              {"address", f.address},
              {"family", f.family},
              {"detail", f.detail},
              {"diagnosis", diagnosis},
              {"alerts", alerts}};
}

}  // namespace

json CheckDomainJson(const CheckedDomain& d) {
  const DomainReport& r = d.report;
  json mx_hosts = json::array();
  for (const MxHostReport& mx : r.mx_hosts) mx_hosts.push_back(MxHostJson(mx));
  json endpoints = json::array();
  for (const EndpointReport& e : r.endpoints) endpoints.push_back(EndpointJson(e));
  json findings = json::array();
  for (const Finding& f : d.findings) findings.push_back(FindingJson(r, f));
  json alerts = json::array();
  for (const PredictedAlert& a : d.alerts) alerts.push_back(AlertJson(a));
  json mta_sts{{"checked", r.mta_sts.checked},
               {"txt_present", r.mta_sts.txt_present},
               {"policy_valid", r.mta_sts.policy_valid},
               {"mode", r.mta_sts.mode},
               {"mx_patterns", r.mta_sts.mx_patterns},
               {"failure_reason", r.mta_sts.failure_reason}};
  json tlsrpt{{"checked", r.tlsrpt.checked},
              {"present", r.tlsrpt.present},
              {"valid", r.tlsrpt.valid},
              {"rua", r.tlsrpt.rua}};
  return json{
      {"domain", r.domain},
      {"domain_unicode", d.domain_unicode.empty() ? r.domain : d.domain_unicode},
      {"module", r.module},
      {"probe_success", r.success},
      {"failure_reason", r.failure_reason},
      {"failure_message", r.failure_message},
      {"duration_seconds", r.duration_seconds},
      {"mx_lookup_error", r.mx_lookup_error},
      {"null_mx", r.null_mx},
      {"implicit_mx", r.implicit_mx},
      {"mx_hosts", mx_hosts},
      {"endpoints", endpoints},
      {"mta_sts", mta_sts},
      {"tlsrpt", tlsrpt},
      {"findings", findings},
      {"alerts", alerts},
      {"would_alert", !d.alerts.empty()},
  };
}

json CheckRunJson(const CheckRun& run, WallTime generated_at) {
  json domains = json::array();
  for (const CheckedDomain& d : run.domains) domains.push_back(CheckDomainJson(d));
  return json{{"schema_version", kCheckJsonSchemaVersion},
              {"generated_at", Rfc3339(generated_at)},
              {"outbound_port25_blocked", run.port25_blocked},
              {"domains", domains}};
}

std::string RenderCheckJson(const CheckRun& run, WallTime generated_at) {
  return CheckRunJson(run, generated_at).dump(2, ' ', false, json::error_handler_t::replace) +
         "\n";
}

}  // namespace mxtls
