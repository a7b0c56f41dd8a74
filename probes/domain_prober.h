// The seam between the HTTP front and the probe engine: a handler hands a task over and
// waits, with the task's deadline, for the report.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "config/config.h"
#include "probes/judgement/domain_report.h"

namespace mxtls {

struct ProbeTask {
  std::string domain;  // normalized
  std::shared_ptr<const config::Config> config;  // keeps the module alive during the probe
  const config::ModuleConfig* module = nullptr;  // points into *config
  std::chrono::steady_clock::time_point deadline;
  double timeout_seconds = 0;
};

class DomainProber {
 public:
  virtual ~DomainProber() = default;
  // Blocks the calling thread until the report is ready; returns by the task's deadline
  // (plus scheduling slack) whatever the network does. Thread-safe.
  virtual DomainReport Probe(const ProbeTask& task) = 0;
};

}  // namespace mxtls
