#include "exporter/probe_endpoint.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "common/log.h"
#include "config/domain_name.h"
#include "exporter/check_text.h"
#include "exporter/report_metrics.h"

namespace mxtls {
namespace {

HttpReply BadRequest(const std::string& message) {
  return HttpReply{400, "text/plain; charset=utf-8", message + "\n"};
}

std::string Ms(config::Duration d) { return std::to_string(d.count()) + "ms"; }

}  // namespace

double ProbeTimeoutSeconds(const std::optional<std::string>& header, double offset,
                           double module_timeout_seconds) {
  if (!header) return module_timeout_seconds;
  char* end = nullptr;
  double scrape = std::strtod(header->c_str(), &end);
  if (end == header->c_str() || *end != '\0' || !(scrape > 0)) return module_timeout_seconds;
  // As blackbox_exporter does: leave `offset` for the HTTP round trip, unless that would
  // leave nothing, in which case use the whole scrape timeout.
  double budget = scrape - offset;
  if (budget <= 0) budget = scrape;
  return std::min(budget, module_timeout_seconds);
}

std::string DescribeModule(const config::ModuleConfig& m) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "smtp" << YAML::Value << YAML::BeginMap << YAML::Key << "port"
      << YAML::Value << m.smtp.port << YAML::Key << "ehlo_name" << YAML::Value << m.smtp.ehlo_name
      << YAML::EndMap;
  out << YAML::Key << "timeout" << YAML::Value << Ms(m.timeout);
  out << YAML::Key << "timeouts" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "connect" << YAML::Value << Ms(m.timeouts.connect);
  out << YAML::Key << "greeting" << YAML::Value << Ms(m.timeouts.greeting);
  out << YAML::Key << "ehlo" << YAML::Value << Ms(m.timeouts.ehlo);
  out << YAML::Key << "starttls" << YAML::Value << Ms(m.timeouts.starttls);
  out << YAML::Key << "handshake" << YAML::Value << Ms(m.timeouts.handshake);
  out << YAML::EndMap;
  out << YAML::Key << "ip_families" << YAML::Value << YAML::Flow << YAML::BeginSeq;
  if (m.ipv4) out << "ipv4";
  if (m.ipv6) out << "ipv6";
  out << YAML::EndSeq;
  out << YAML::Key << "tls" << YAML::Value << YAML::BeginMap << YAML::Key << "ca_file"
      << YAML::Value << (m.tls.ca_file.empty() ? "(system trust store)" : m.tls.ca_file)
      << YAML::EndMap;
  out << YAML::Key << "max_mx_hosts" << YAML::Value << m.max_mx_hosts;
  out << YAML::Key << "max_addresses_per_mx" << YAML::Value << m.max_addresses_per_mx;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

ProbeEndpoint::ProbeEndpoint(const ConfigStore* store, DomainProber* prober,
                             SelfMetrics* metrics, double timeout_offset_seconds,
                             ReportStore* reports)
    : store_(store),
      prober_(prober),
      metrics_(metrics),
      timeout_offset_(timeout_offset_seconds),
      reports_(reports) {}

HttpReply ProbeEndpoint::Handle(const ProbeParams& params) {
  std::shared_ptr<const config::Config> cfg = store_->Current();
  if (!cfg) return HttpReply{503, "text/plain; charset=utf-8", "no configuration loaded\n"};
  if (!params.target || params.target->empty()) {
    return BadRequest("target parameter is missing");
  }
  // U-labels arrive as UTF-8 (percent-decoded by the HTTP layer): the A-label is what is
  // looked up, probed and exported; the U-label is for the people reading logs and debug output.
  Result<config::DomainName> name = config::ParseDomainName(*params.target);
  if (!name.ok()) {
    return BadRequest("target parameter must be a domain name, got \"" +
                      log::LogfmtValue(*params.target) + "\": " + name.status().message());
  }
  const std::string& domain = name->ascii;
  const config::TargetConfig* target = cfg->FindTarget(domain);
  if (target == nullptr && !cfg->allow_unlisted_targets) {
    return BadRequest("target \"" + name->Display() +
                      "\" is not configured (set allow_unlisted_targets to probe any domain)");
  }
  std::string module_name =
      params.module && !params.module->empty() ? *params.module
                                               : (target ? target->module : "default");
  const config::ModuleConfig* module = cfg->FindModule(module_name);
  if (module == nullptr) {
    return BadRequest("unknown module \"" + log::LogfmtValue(module_name) + "\"");
  }

  double timeout = ProbeTimeoutSeconds(params.scrape_timeout_header, timeout_offset_,
                                       std::chrono::duration<double>(module->timeout).count());
  ProbeTask task;
  task.domain = domain;
  task.config = cfg;
  task.module = module;
  task.timeout_seconds = timeout;
  const auto now = std::chrono::steady_clock::now();
  const auto received_at = std::min(params.received_at.value_or(now), now);
  task.deadline = received_at + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                    std::chrono::duration<double>(timeout));
  const double waited_seconds = std::chrono::duration<double>(now - received_at).count();
  if (waited_seconds >= 0.1) {
    // Mostly a wait for a handler thread (all --web.handler-threads busy); also a slow TLS
    // handshake or request head. The probe gets what is left of the scrape's time.
    log::Debug("probe started late: its deadline counts from the request's arrival",
               {{"target", domain}, {"waited_seconds", std::to_string(waited_seconds)}});
  }
  metrics_->ProbeStarted();
  DomainReport report = prober_->Probe(task);
  report.timeout_seconds = timeout;
  metrics_->ProbeFinished(module_name, report.success, report.duration_seconds);
  log::Debug("probe finished", {{"target", domain},
                                {"target_unicode", name->unicode},
                                {"module", module_name},
                                {"success", report.success ? "true" : "false"},
                                {"duration_seconds", std::to_string(report.duration_seconds)}});

  std::string metrics_text = RenderReportMetrics(report);
  std::string log_text = params.debug ? report.log->Text() : std::string();
  // The diagnosis, as `check` prints it (same findings, same words), for the debug view.
  std::string findings_text;
  if (params.debug) {
    CheckedDomain checked;
    WallTime now = std::chrono::system_clock::now();
    checked.findings = Diagnose(report, now);
    checked.alerts = PredictAlerts(report, now);
    checked.domain_unicode = name->unicode;
    checked.report = report;
    findings_text = RenderCheckText(checked, TextStyle{});
  }
  // Kept after rendering, so the copy for the page can be moved in and stripped of its
  // chains; the status page only ever reads what a probe requested here left behind.
  if (reports_ != nullptr) reports_->Record(*cfg, std::move(report), std::chrono::system_clock::now());
  if (!params.debug) return HttpReply{200, kMetricsContentType, metrics_text};
  std::string body = "Diagnosis (as `mxtls_exporter check` prints it):\n" + findings_text +
                     "\n\nLogs for the probe:\n" + log_text +
                     "\n\nMetrics that would have been returned:\n" + metrics_text +
                     "\n\nModule configuration:\n" + DescribeModule(*module) +
                     "\n\nTarget (the A-label is what is probed and exported):\n" +
                     name->Display() + "\n";
  return HttpReply{200, "text/plain; charset=utf-8", body};
}

}  // namespace mxtls
