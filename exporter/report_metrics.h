// The /probe view of a DomainReport: renders it into a fresh Prometheus registry and its
// exposition text. One registry per request, holding only that target's series.
#pragma once

#include <string>

#include "probes/judgement/domain_report.h"

namespace mxtls {

// Exposition text (text/plain; version=0.0.4) of the report's metrics.
std::string RenderReportMetrics(const DomainReport& report);

}  // namespace mxtls
