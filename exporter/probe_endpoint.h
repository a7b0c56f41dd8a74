// The /probe handler without the HTTP library: validates target and module against the
// config in force, derives the deadline from Prometheus' scrape timeout, runs the probe and
// renders metrics (or the debug view), and keeps the report for the status page. Kept free of
// cpp-httplib so tests can call it directly.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "exporter/config_store.h"
#include "exporter/report_store.h"
#include "exporter/self_metrics.h"
#include "probes/domain_prober.h"

namespace mxtls {

struct ProbeParams {
  std::optional<std::string> target;
  std::optional<std::string> module;
  bool debug = false;
  std::optional<std::string> scrape_timeout_header;  // X-Prometheus-Scrape-Timeout-Seconds
  // When the request arrived (empty: now). The probe's deadline counts from here, so time
  // spent waiting for a handler thread is not given to the probe a second time: Prometheus'
  // scrape timeout started before that wait.
  std::optional<std::chrono::steady_clock::time_point> received_at;
};

struct HttpReply {
  int status = 200;
  std::string content_type;
  std::string body;
};

// Content type of the text exposition format, exactly as Prometheus expects it.
inline constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

// Thread-safe; the pointers must outlive it. `reports` (may be null) receives every report
// of a configured target, for the status page.
class ProbeEndpoint {
 public:
  ProbeEndpoint(const ConfigStore* store, DomainProber* prober, SelfMetrics* metrics,
                double timeout_offset_seconds, ReportStore* reports = nullptr);

  HttpReply Handle(const ProbeParams& params);

 private:
  const ConfigStore* store_;
  DomainProber* prober_;
  SelfMetrics* metrics_;
  double timeout_offset_;
  ReportStore* reports_;
};

// The probe's time budget in seconds: the scrape timeout header minus the offset, capped by
// the module timeout. A missing or unparsable header means the module timeout.
double ProbeTimeoutSeconds(const std::optional<std::string>& header, double offset,
                           double module_timeout_seconds);

// The module's settings as YAML text, for the debug view.
std::string DescribeModule(const config::ModuleConfig& m);

}  // namespace mxtls
