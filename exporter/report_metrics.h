// The /probe view of a DomainReport: its metric families (prometheus-cpp's data model, no
// registry: one set per request, holding only that target's series) and their exposition text.
#pragma once

#include <prometheus/metric_family.h>

#include <string>
#include <vector>

#include "probes/judgement/domain_report.h"

namespace mxtls {

// The report's metric families, in order of first use; a check that did not run has no series.
std::vector<prometheus::MetricFamily> ReportMetricFamilies(const DomainReport& report);

// Exposition text (text/plain; version=0.0.4) of ReportMetricFamilies(report).
std::string RenderReportMetrics(const DomainReport& report);

}  // namespace mxtls
