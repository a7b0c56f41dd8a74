// What `mxtls_exporter check` knows about one domain once it is probed: the report and what
// the judgement layer makes of it. The text and JSON views render this and nothing else.
#pragma once

#include <vector>

#include "probes/judgement/domain_report.h"
#include "probes/judgement/findings.h"

namespace mxtls {

struct CheckedDomain {
  DomainReport report;
  std::string domain_unicode;  // the U-label form given (equal to report.domain without IDN)
  std::vector<Finding> findings;       // Diagnose(report, now): worst first
  std::vector<PredictedAlert> alerts;  // PredictAlerts(report, now)
};

// The facts about the prober's own situation, over every domain of one run.
struct CheckRun {
  std::vector<CheckedDomain> domains;  // in the order given on the command line
  // Every connection to every endpoint of every domain failed at connect with a timeout or
  // an unreachable network (see Port25LooksBlocked): the result says nothing about the
  // domains.
  bool port25_blocked = false;
};

}  // namespace mxtls
