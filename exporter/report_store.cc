#include "exporter/report_store.h"


namespace mxtls {

// Measured on the fixture report of tests/exporter/status_page_test.cc (one MX, one address,
// leaf + intermediate, both EC P-256): about 1 KB of chain DER and 3 KB of probe log are
// released per endpoint. Parsed X509 objects take several times their DER size in OpenSSL's
// memory, each session can hold its own chain (main, no-SNI, key types, DANE SNI, held
// certificates), and RSA chains are 3-4 KB of DER, so a domain with a few MX hosts drops tens
// of KB. The page renders facts that are already judged (CertFacts, verdicts, reasons), so
// nothing needs the chains again.
DomainReport ReleaseBulk(DomainReport report) {
  for (EndpointReport& e : report.endpoints) {
    e.chain.reset();
    for (HeldCertificate& held : e.held_certs) held.chain.reset();
  }
  // A fresh empty log rather than none: views may read it without checking.
  report.log = std::make_shared<ProbeLog>();
  return report;
}

bool ReportStore::Record(const config::Config& config, DomainReport report,
                         WallTime finished_at) {
  if (config.FindTarget(report.domain) == nullptr) return false;
  Key key{report.domain, report.module};
  auto stored = std::make_shared<StoredReport>();
  stored->report = ReleaseBulk(std::move(report));
  stored->finished_at = finished_at;
  std::lock_guard<std::mutex> lock(mu_);
  DropUnconfigured(config);
  reports_[std::move(key)] = std::move(stored);
  return true;
}

std::map<ReportStore::Key, std::shared_ptr<const StoredReport>> ReportStore::Snapshot(
    const config::Config& config) {
  std::lock_guard<std::mutex> lock(mu_);
  DropUnconfigured(config);
  return reports_;
}

size_t ReportStore::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return reports_.size();
}

// A domain that stays a target keeps its reports under every module it was probed with (a
// module is only accepted when configured, so this is bounded by the module count); a
// module removed by a reload is dropped with it. The walk over every report runs once per
// loaded config, not at every probe: a fleet of 10,000 domains records ~170 reports a
// second, and walking them all each time was most of the exporter's CPU.
void ReportStore::DropUnconfigured(const config::Config& config) {
  if (config.generation != 0 && config.generation == pruned_for_generation_) return;
  for (auto it = reports_.begin(); it != reports_.end();) {
    bool keep = config.HasTarget(it->first.first) && config.FindModule(it->first.second);
    it = keep ? std::next(it) : reports_.erase(it);
  }
  pruned_for_generation_ = config.generation;
}

}  // namespace mxtls
