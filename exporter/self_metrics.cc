#include "exporter/self_metrics.h"

#include <prometheus/text_serializer.h>
#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "common/build_info.h"
#include "exporter/elastic_task_queue.h"

namespace mxtls {
namespace {

// A counter family with one series per result, "hit" and "miss".
prometheus::MetricFamily HitMissFamily(const std::string& name, const std::string& help,
                                       uint64_t hits, uint64_t misses) {
  prometheus::MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = prometheus::MetricType::Counter;
  for (const auto& [result, value] :
       {std::pair<const char*, uint64_t>{"hit", hits}, {"miss", misses}}) {
    prometheus::ClientMetric m;
    m.label.push_back({"result", result});
    m.counter.value = static_cast<double>(value);
    f.metric.push_back(m);
  }
  return f;
}

prometheus::MetricFamily GaugeFamily(const std::string& name, const std::string& help,
                                     double value, prometheus::MetricType type =
                                                       prometheus::MetricType::Gauge) {
  prometheus::MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  prometheus::ClientMetric m;
  if (type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f.metric.push_back(m);
  return f;
}

int CountOpenFds() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') ++n;
    }
    closedir(d);
  }
  return n - 1;  // the directory handle itself
}

// The standard process_* metrics that client libraries of other languages export,
// read from /proc as the Go client does.
std::vector<prometheus::MetricFamily> ProcessMetrics() {
  std::vector<prometheus::MetricFamily> out;
  std::ifstream stat_file("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return out;
  std::istringstream fields(stat.substr(paren + 2));
  std::vector<std::string> f;
  std::string w;
  while (fields >> w) f.push_back(w);
  // Fields after the command name, 0-based from "state": utime=11 stime=12 starttime=19
  // vsize=20 rss=21.
  if (f.size() < 22) return out;
  double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  double cpu = (std::stod(f[11]) + std::stod(f[12])) / ticks;
  double start_ticks = std::stod(f[19]);
  double boot_time = 0;
  std::ifstream proc_stat("/proc/stat");
  std::string line;
  while (std::getline(proc_stat, line)) {
    if (line.rfind("btime ", 0) == 0) boot_time = std::stod(line.substr(6));
  }
  out.push_back(GaugeFamily("process_cpu_seconds_total",
                            "Total user and system CPU time spent in seconds.", cpu,
                            prometheus::MetricType::Counter));
  out.push_back(GaugeFamily("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                            std::stod(f[20])));
  out.push_back(GaugeFamily("process_resident_memory_bytes", "Resident memory size in bytes.",
                            std::stod(f[21]) * page));
  out.push_back(GaugeFamily("process_start_time_seconds",
                            "Start time of the process since unix epoch in seconds.",
                            boot_time + start_ticks / ticks));
  out.push_back(GaugeFamily("process_open_fds", "Number of open file descriptors.",
                            CountOpenFds()));
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0) {
    out.push_back(GaugeFamily("process_max_fds", "Maximum number of open file descriptors.",
                              static_cast<double>(lim.rlim_cur)));
  }
  return out;
}

}  // namespace

SelfMetrics::SelfMetrics(const ConfigStore* store)
    : store_(store), registry_(std::make_shared<prometheus::Registry>()) {
  prometheus::BuildGauge()
      .Name("mxtls_exporter_build_info")
      .Help("A metric with a constant '1' value labeled by version and revision of the build.")
      .Register(*registry_)
      .Add({{"version", kVersion}, {"revision", kRevision}, {"cppstd", "20"}})
      .Set(1);
  reload_ok_ = &prometheus::BuildGauge()
                    .Name("mxtls_exporter_config_last_reload_successful")
                    .Help("Whether the last configuration reload attempt was successful.")
                    .Register(*registry_)
                    .Add({});
  reload_ts_ = &prometheus::BuildGauge()
                    .Name("mxtls_exporter_config_last_reload_success_timestamp_seconds")
                    .Help("Timestamp of the last successful configuration reload.")
                    .Register(*registry_)
                    .Add({});
  in_flight_ = &prometheus::BuildGauge()
                    .Name("mxtls_exporter_probes_in_flight")
                    .Help("Domain probes currently running.")
                    .Register(*registry_)
                    .Add({});
  // Registered now, set once a check ran: a gauge that reads 0 before any check would page.
  resolver_validating_ = &prometheus::BuildGauge()
                              .Name("mxtls_exporter_dnssec_resolver_validating")
                              .Help("1 when the configured resolvers validate DNSSEC (they set "
                                    "AD for dns.dnssec_check_name); checked at start and on "
                                    "reload. Without it no DANE result is shown as fine.")
                              .Register(*registry_);
  probes_total_ = &prometheus::BuildCounter()
                       .Name("mxtls_exporter_probes_total")
                       .Help("Domain probes run, by module and result (success or failure).")
                       .Register(*registry_);
  probe_duration_ = &prometheus::BuildHistogram()
                         .Name("mxtls_exporter_probe_duration_seconds")
                         .Help("Duration of domain probes, by module.")
                         .Register(*registry_);
  http_requests_ = &prometheus::BuildCounter()
                        .Name("mxtls_exporter_http_requests_total")
                        .Help("HTTP requests served, by handler and status code.")
                        .Register(*registry_);
}

void SelfMetrics::ProbeStarted() { in_flight_->Increment(); }

void SelfMetrics::ProbeFinished(const std::string& module, bool success, double seconds) {
  in_flight_->Decrement();
  probes_total_->Add({{"module", module}, {"result", success ? "success" : "failure"}})
      .Increment();
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60};
  probe_duration_->Add({{"module", module}}, kBuckets).Observe(seconds);
}

void SelfMetrics::HttpRequest(const std::string& handler, int status) {
  http_requests_->Add({{"handler", handler}, {"code", std::to_string(status)}}).Increment();
}

void SelfMetrics::SetResolverValidationSource(std::function<std::optional<bool>()> source) {
  std::lock_guard<std::mutex> lock(source_mu_);
  resolver_validation_source_ = std::move(source);
}

void SelfMetrics::SetEngineStatsSource(std::function<EngineStats()> source) {
  std::lock_guard<std::mutex> lock(source_mu_);
  engine_stats_source_ = std::move(source);
}

void SelfMetrics::AddFamiliesSource(
    std::function<std::vector<prometheus::MetricFamily>()> source) {
  std::lock_guard<std::mutex> lock(source_mu_);
  family_sources_.push_back(std::move(source));
}

std::string SelfMetrics::Render() {
  std::vector<prometheus::MetricFamily> engine_families;
  {
    std::lock_guard<std::mutex> lock(source_mu_);
    std::optional<bool> validates;
    if (resolver_validation_source_) validates = resolver_validation_source_();
    if (validates) resolver_validating_->Add({}).Set(*validates ? 1 : 0);
    if (engine_stats_source_) {
      const EngineStats stats = engine_stats_source_();
      // The engine owns the counts; they are rendered as they stand, not mirrored into the
      // registry, so they can never drift from the engine's.
      engine_families.push_back(HitMissFamily(
          "mxtls_exporter_endpoint_cache_requests_total",
          "Main endpoint sessions asked for by domain probes, by result: hit (shared with "
          "another domain's probe of the same endpoint, kept within endpoint_reuse_window or "
          "still running) or miss (opened for this probe).",
          stats.endpoint_cache_hits, stats.endpoint_cache_misses));
      engine_families.push_back(HitMissFamily(
          "mxtls_exporter_chain_judgement_cache_requests_total",
          "Certificate chain judgements (certificate facts and verification against the trust "
          "store), by result: hit (the same chain judged before against the same store, no "
          "validity boundary since, at most 1 h ago) or miss (verified now). Expiry is judged "
          "at every probe either way.",
          stats.chain_cache_hits, stats.chain_cache_misses));
      engine_families.push_back(GaugeFamily(
          "mxtls_exporter_smtp_sessions_in_flight",
          "SMTP sessions holding a slot under engine.max_sessions and "
          "engine.max_sessions_per_address.",
          stats.sessions_in_flight));
      engine_families.push_back(GaugeFamily(
          "mxtls_exporter_smtp_sessions_waiting",
          "SMTP sessions waiting for a slot under the engine's session limits.",
          static_cast<double>(stats.sessions_waiting)));
    }
    for (const auto& source : family_sources_) {
      for (auto& f : source()) engine_families.push_back(std::move(f));
    }
  }
  reload_ok_->Set(store_->last_reload_successful() ? 1 : 0);
  reload_ts_->Set(store_->last_success_timestamp_seconds());
  // The HTTP front's threads (elastic_task_queue.h): a request waits only when
  // --web.handler-threads requests are being served; that count says when it is too low.
  const ElasticTaskQueue::Counters& http = ElasticTaskQueue::GlobalCounters();
  engine_families.push_back(GaugeFamily(
      "mxtls_exporter_http_handler_threads",
      "Threads serving HTTP requests (started on demand, stopped after 60 s idle).",
      static_cast<double>(http.threads.load(std::memory_order_relaxed))));
  engine_families.push_back(GaugeFamily(
      "mxtls_exporter_http_requests_in_flight", "HTTP requests being served now.",
      static_cast<double>(http.busy.load(std::memory_order_relaxed))));
  engine_families.push_back(GaugeFamily(
      "mxtls_exporter_http_requests_waited_total",
      "HTTP requests that had to wait because --web.handler-threads requests were already "
      "being served.",
      static_cast<double>(http.waited_total.load(std::memory_order_relaxed)),
      prometheus::MetricType::Counter));
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  for (auto& f : engine_families) families.push_back(std::move(f));
  for (auto& f : ProcessMetrics()) families.push_back(std::move(f));
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace mxtls
