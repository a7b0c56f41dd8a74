// The exporter's own metrics for /metrics: build info, config reload status, probes by
// result and their durations, and process metrics. Probe targets' metrics never appear here.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>
#include <vector>

#include "exporter/config_store.h"

namespace mxtls {

// Thread-safe (prometheus-cpp metrics are atomic; families are guarded internally).
class SelfMetrics {
 public:
  explicit SelfMetrics(const ConfigStore* store);

  void ProbeStarted();
  void ProbeFinished(const std::string& module, bool success, double seconds);
  void HttpRequest(const std::string& handler, int status);
  // Where /metrics reads whether the configured resolvers validate DNSSEC (the latest check:
  // at start, on reload, and when probes re-check); nullopt leaves the gauge out.
  void SetResolverValidationSource(std::function<std::optional<bool>()> source);

  // What the probe engine counts, read at every /metrics render.
  struct EngineStats {
    uint64_t endpoint_cache_hits = 0;    // main sessions shared with another domain's probe
    uint64_t endpoint_cache_misses = 0;  // main sessions opened
    uint64_t chain_cache_hits = 0;       // chain judgements reused (chain_judgement_cache.h)
    uint64_t chain_cache_misses = 0;     // chain judgements computed
    int sessions_in_flight = 0;          // SMTP sessions holding a slot under engine limits
    size_t sessions_waiting = 0;         // SMTP sessions waiting for a slot
  };
  void SetEngineStatsSource(std::function<EngineStats()> source);
  // Families owned elsewhere and rendered as they stand at every /metrics render (the
  // TLS-RPT counts, exporter/tlsrpt_store.h).
  void AddFamiliesSource(std::function<std::vector<prometheus::MetricFamily>()> source);

  // The exposition text for /metrics.
  std::string Render();

 private:
  const ConfigStore* store_;
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Gauge* reload_ok_;
  prometheus::Gauge* reload_ts_;
  prometheus::Gauge* in_flight_;
  prometheus::Family<prometheus::Gauge>* resolver_validating_;
  std::mutex source_mu_;
  std::function<std::optional<bool>()> resolver_validation_source_;
  std::function<EngineStats()> engine_stats_source_;
  std::vector<std::function<std::vector<prometheus::MetricFamily>()>> family_sources_;
  prometheus::Family<prometheus::Counter>* probes_total_;
  prometheus::Family<prometheus::Histogram>* probe_duration_;
  prometheus::Family<prometheus::Counter>* http_requests_;
};

}  // namespace mxtls
