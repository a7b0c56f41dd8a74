// What a probed domain means for the people who run it: every check the probe made, as a
// verdict with the expert's diagnosis of each failure, and the shipped alert rules
// (alerts/mxtls.rules.yml) that the same facts raise. Pure: a DomainReport and a time in,
// plain values out. The `check` command, the status page and /probe?debug=true render these;
// nothing else decides what is wrong.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "probes/judgement/domain_report.h"

namespace mxtls {

// How bad a finding is, worst first. Ordering matters: findings are sorted by it.
enum class FindingLevel {
  kCritical,  // mail is refused or deferred by some senders now (or a certificate expires in
              // under 7 days)
  kWarning,   // a fault that degrades delivery or soon will
  kInfo,      // worth knowing, nothing breaks (testing-mode findings, TLS 1.3 only, PTR facts)
  kOk,        // the check ran and passed
};
// "critical", "warning", "info", "ok".
std::string_view FindingLevelWord(FindingLevel level);

// The expert's words for one reason, shared by every view. `symptom`, `affected` and `fix`
// may hold the placeholders {domain}, {mx}, {address}, {detail}, filled in per finding.
struct Diagnosis {
  std::string_view check;     // the check it belongs to (see Finding::check)
  std::string_view reason;    // the fixed reason word, as in metrics labels
  std::string_view symptom;   // what is wrong, concretely
  std::string_view affected;  // which senders defer, fall back to clear text, or refuse
  std::string_view cause;     // the likely cause
  std::string_view fix;       // what to do
};

// The closed registry: every (check, reason) the probes can report has exactly one entry.
const std::vector<Diagnosis>& AllDiagnoses();
// nullptr when (check, reason) is not registered.
const Diagnosis* FindDiagnosis(std::string_view check, std::string_view reason);

// An alert the shipped rules would raise for these facts (after its `for:`), with the labels
// that identify it (mx, fingerprint_sha256, reason, mta_sts_mode, tier, required_by, ... as
// the rule sets them; job and instance left out).
struct PredictedAlert {
  std::string name;      // e.g. "MxTlsCertificateExpiring"
  std::string severity;  // "critical", "warning", "info"
  std::map<std::string, std::string> labels;

  bool operator==(const PredictedAlert&) const = default;
};

// One check's result on one scope (the domain, an MX host, or an endpoint).
struct Finding {
  FindingLevel level = FindingLevel::kOk;
  // The check: "probe" (the probe as a whole), "dns", "dnssec", "mx", "connect", "greeting",
  // "ehlo", "starttls", "handshake", "certificate", "chain", "name", "expiry", "consistency",
  // "no_sni", "tls_versions", "key_types", "dane", "mta_sts", "tlsrpt", "reverse_dns",
  // "sender" (the caveats of senders that deliver anyway), "prober" (our own situation).
  std::string check;
  std::string reason;  // fixed word; "ok" when it passed
  std::string mx;      // empty for domain-level findings
  std::string address;
  std::string family;
  // The facts behind it, for people: "expires in 3.2 days (2026-12-04)", "covers
  // mail.example.com", "TLS 1.1 only". Built from the report; attacker-controlled text
  // (names from DNS and certificates) is passed through as is: views escape it.
  std::string detail;
  const Diagnosis* diagnosis = nullptr;  // for every level but kOk
  std::vector<PredictedAlert> alerts;    // the shipped alerts this finding raises
};

// Every finding for `report`, worst first (then domain, MX preference order, address).
// `now` judges expiry. Certificates are the report's own judgements (held certificates
// included); nothing is re-verified here.
std::vector<Finding> Diagnose(const DomainReport& report, WallTime now);

// Exactly the alerts alerts/mxtls.rules.yml raises for this domain's /probe series held
// steady past every `for:` (the exporter's own alerts, which need /metrics, excluded), in a
// stable order. The same alerts as the union of Diagnose(...)[i].alerts.
std::vector<PredictedAlert> PredictAlerts(const DomainReport& report, WallTime now);

// Fills a diagnosis text's placeholders for one finding.
std::string FillDiagnosisText(std::string_view text, const DomainReport& report,
                              const Finding& finding);

}  // namespace mxtls
