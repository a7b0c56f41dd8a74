// The last report of every configured target and module, kept for the status page: /probe
// records each report it produced, and the page only reads them (a page load never probes).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "config/config.h"
#include "probes/judgement/domain_report.h"

namespace mxtls {

// One kept report and when it was made.
struct StoredReport {
  DomainReport report;   // with the captured chains and the probe log released (see .cc)
  WallTime finished_at;  // when the probe ended
};

// Thread-safe. Bounded by the configuration: only reports of targets listed in the config in
// force are kept, one per (domain, module), so the store holds at most
// |targets| x |modules| entries. Domains probed through allow_unlisted_targets are never
// kept (anyone can name any domain; an LRU would let them push out the configured ones),
// and entries of targets that a reload removed are dropped at the next Record or Snapshot.
class ReportStore {
 public:
  using Key = std::pair<std::string, std::string>;  // (domain, module)

  // Keeps `report` as the latest for (report.domain, report.module) when that domain is a
  // target of `config`; returns whether it was kept.
  bool Record(const config::Config& config, DomainReport report, WallTime finished_at);

  // The kept reports of targets still in `config` (others are dropped). Shared and
  // immutable: a reader keeps them alive while a newer report replaces them.
  std::map<Key, std::shared_ptr<const StoredReport>> Snapshot(const config::Config& config);

  size_t size() const;

 private:
  void DropUnconfigured(const config::Config& config);  // mu_ held

  mutable std::mutex mu_;
  std::map<Key, std::shared_ptr<const StoredReport>> reports_;
  // The config (Config::generation) the reports were last pruned against; mu_ held.
  uint64_t pruned_for_generation_ = 0;
};

// `report` without what the status page does not need and that dominates its size: the
// captured X509 chains (the judged CertFacts stay) and the probe log.
DomainReport ReleaseBulk(DomainReport report);

}  // namespace mxtls
