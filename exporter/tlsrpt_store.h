// The TLS-RPT counts and the reports behind them, kept durably in a data directory:
//
//   <data_directory>/totals.json      the cumulative counters, the latest report end per
//                                     domain and the de-duplication ids with the time each
//                                     report arrived; rewritten atomically (temp file, fsync,
//                                     rename, fsync of the directory) on every change
//   <data_directory>/reports/*.json   each accepted report as received (after gzip), named
//                                     <arrival unix time>_<sha256 of its dedup key>.json
//
// totals.json is the one source of truth for counts and de-duplication: a report is counted
// exactly when the totals holding it (and its id) are on disk, so a crash or restart neither
// loses nor double-counts it. Pruning (Prune) deletes stored reports and forgets ids older than
// the retention; counters are never reduced.
//
// Label cardinality is bounded whatever the reports say (anyone can post): policy_domain only
// for configured targets (the caller decides), policy_type and result_type from fixed lists
// (tlsrpt_report.h), organization normalized (lower case, [a-z0-9.-], at most 64 characters)
// and at most kMaxOrganizationsPerDomain per domain, receiving_mx only when it matches the
// policy's mx-host patterns (or any host name when the policy lists none), at most
// kMaxMxPerDomain per domain; the rest is "other", an empty value is "unknown".
//
// Thread-safe: every method takes the store's mutex.
#pragma once

#include <prometheus/metric_family.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "exporter/tlsrpt_report.h"

namespace mxtls {

class TlsRptStore {
 public:
  static constexpr size_t kMaxOrganizationsPerDomain = 20;
  static constexpr size_t kMaxMxPerDomain = 16;

  // Creates the directory (and reports/) when missing and loads totals.json. A totals file
  // that exists but cannot be read is an error: starting from zero would count again.
  static Result<std::unique_ptr<TlsRptStore>> Open(const std::string& data_directory,
                                                   std::chrono::seconds retention);

  enum class Outcome { kAccepted, kDuplicate, kRejected };
  struct Recorded {
    Outcome outcome = Outcome::kRejected;
    Status error;  // when rejected: reason "foreign_domain" or "storage"
  };

  // Counts `report` (whose JSON text is `json_text`) once, from `source` ("http" or
  // "spool"). Only policies whose domain `is_target` accepts are counted; a report with none
  // is rejected as foreign_domain and stored nowhere. `now_seconds` is the arrival time.
  Recorded Record(const TlsRptReceivedReport& report, const std::string& json_text,
                  const std::function<bool(const std::string&)>& is_target,
                  const std::string& source, int64_t now_seconds);

  // Counts a report refused before it could be recorded, by reason (tlsrpt_report.h and the
  // receiver's reasons). Refusals are saved with the next accepted report, at Prune, at
  // destruction, or when the last save is kRejectedSaveInterval old: anyone can post garbage,
  // and a flood of it must not cost an fsync each. A crash may lose the refusals of the
  // last seconds, never an accepted report.
  void CountRejected(const std::string& reason);
  static constexpr std::chrono::seconds kRejectedSaveInterval{10};

  ~TlsRptStore();

  // Deletes stored reports and forgets de-duplication ids that arrived more than the
  // retention before `now_seconds`.
  void Prune(int64_t now_seconds);

  // The mxtls_tlsrpt_* families for /metrics.
  std::vector<prometheus::MetricFamily> Families() const;

  const std::string& data_directory() const { return dir_; }

 private:
  TlsRptStore(std::string dir, std::chrono::seconds retention);
  Status Load();
  // Writes the totals as they would be with `next`; on success adopts them.
  struct Totals {
    // metric name -> label values (in the metric's label order) -> value
    std::map<std::string, std::map<std::vector<std::string>, uint64_t>> counters;
    std::map<std::string, int64_t> last_end;  // policy_domain -> end of latest report window
    std::map<std::string, int64_t> seen;      // dedup key -> arrival time
  };
  Status Persist(const Totals& next);
  // Saves the refusals counted since the last save when that is due (or `force`).
  void SaveRejectedLocked(bool force);
  std::string OrganizationLabel(const Totals& t, const std::string& domain,
                                const std::string& organization) const;
  std::string MxLabel(const Totals& t, const std::string& domain,
                      const TlsRptPolicyResult& policy, const std::string& mx) const;

  const std::string dir_;
  const std::chrono::seconds retention_;
  mutable std::mutex mu_;
  Totals totals_;  // guarded by mu_
  bool unsaved_ = false;  // guarded by mu_: totals_ holds refusals not yet on disk
  std::chrono::steady_clock::time_point last_save_{};  // guarded by mu_
};

// Writes `data` to `path` so that a reader (or a crash) sees the old file or the new one,
// never part of one: a temp file beside it, fsync, rename, fsync of the directory.
Status WriteFileAtomically(const std::string& path, const std::string& data);

// The label value for a reporter's organization-name (see the cardinality rules above,
// before the per-domain cap).
std::string NormalizedOrganization(const std::string& organization);

// Whether `host` matches an MTA-STS mx pattern ("mail.example.com" or "*.example.com",
// RFC 8461 §4.1: the wildcard covers exactly one leftmost label).
bool MxPatternMatches(const std::string& pattern, const std::string& host);

}  // namespace mxtls
