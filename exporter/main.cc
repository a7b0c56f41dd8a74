// mxtls_exporter entry point: flags -> config -> HTTP front and probe engine, then waits for
// signals (SIGHUP reloads the config, SIGINT/SIGTERM shut down cleanly).
#include <signal.h>

#include <cstdio>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/build_info.h"
#include "common/log.h"
#include "config/config.h"
#include "exporter/bounded_http_server.h"
#include "exporter/check_command.h"
#include "exporter/config_store.h"
#include "exporter/flags.h"
#include "exporter/http_front.h"
#include "exporter/open_file_limit.h"
#include "exporter/probe_endpoint.h"
#include "exporter/report_store.h"
#include "exporter/self_metrics.h"
#include "exporter/tlsrpt_receiver.h"
#include "probes/judgement/chain_judgement_cache.h"
#include "probes/probe_engine.h"

namespace mxtls {
namespace {

int RealMain(int argc, char** argv) {
  // Subcommands come first, before the server's flags are parsed.
  if (argc > 1 && std::string_view(argv[1]) == "check") return RunCheck(argc, argv);
  Result<Flags> parsed = ParseFlags(argc, argv);
  if (!parsed.ok()) {
    std::fprintf(stderr, "mxtls_exporter: %s\n\n%s", parsed.status().message().c_str(),
                 FlagsUsage().c_str());
    return 2;
  }
  const Flags& flags = parsed.value();
  if (flags.help) {
    std::fputs(FlagsUsage().c_str(), stdout);
    return 0;
  }
  if (flags.version) {
    std::printf("mxtls_exporter, version %s (revision: %s)\n", kVersion, kRevision);
    return 0;
  }
  log::Level level;
  log::Format format;
  log::ParseLevel(flags.log_level, &level);
  log::ParseFormat(flags.log_format, &format);
  log::SetLevel(level);
  log::SetFormat(format);

  if (flags.config_check) {
    Result<config::Config> cfg = config::LoadConfigFile(flags.config_file);
    if (!cfg.ok()) {
      std::fprintf(stderr, "%s\n", cfg.status().message().c_str());
      return 1;
    }
    std::printf("%s: config is valid (%zu targets, %zu modules)\n", flags.config_file.c_str(),
                cfg->targets.size(), cfg->modules.size());
    return 0;
  }

  // Block the signals we handle before any thread starts, so that every thread inherits the
  // mask and only the signal thread below receives them (via sigwait).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // A peer closing a socket mid-write must produce EPIPE, not kill the process.
  signal(SIGPIPE, SIG_IGN);

  log::Info("starting mxtls_exporter", {{"version", kVersion}, {"revision", kRevision}});
  // Every session and connection is a descriptor: take the whole hard limit (the kernel's
  // soft default of 1024 is for select() users), then say if even that is too few.
  const OpenFileLimit files = RaiseOpenFileLimit();
  if (!files.error.empty()) {
    log::Warn("cannot raise the open file limit", {{"limit", OpenFileLimitText(files.soft)},
                                                   {"hard_limit", OpenFileLimitText(files.hard)},
                                                   {"err", files.error}});
  } else if (files.soft != files.soft_before) {
    log::Info("raised the open file limit to the hard limit",
              {{"from", OpenFileLimitText(files.soft_before)},
               {"limit", OpenFileLimitText(files.soft)}});
  }
  ConfigStore store(flags.config_file,
                    [](const std::string& path) { return config::LoadConfigFile(path); });
  Status first = store.Reload();
  if (!first.ok()) {
    std::fprintf(stderr, "%s\n", first.message().c_str());
    return 1;
  }

  auto descriptor_demand = [&store, &flags] {
    DescriptorDemand d;
    d.max_sessions = store.Current()->engine.max_sessions;
    d.handler_threads = flags.handler_threads;
    d.listeners = static_cast<int>(flags.listen_addresses.size());
    d.idle_connections_per_listener = HttpLimits{}.max_idle_connections;
    return d;
  };
  WarnIfOpenFileLimitLow(files.soft, descriptor_demand());

  SelfMetrics metrics(&store);
  Result<std::unique_ptr<ProbeEngine>> engine = ProbeEngine::Create(EngineOptions{});
  if (!engine.ok()) {
    log::Error("cannot start the probe engine", {{"err", engine.status().message()}});
    return 1;
  }
  // Only resolvers that validate DNSSEC are believed about it: check at start (in the
  // background, so that an unreachable resolver does not delay serving) and after every
  // good reload, and say so on /metrics and in the log.
  ProbeEngine* probe_engine = engine.value().get();
  metrics.SetEngineStatsSource([probe_engine] {
    SelfMetrics::EngineStats stats;
    stats.endpoint_cache_hits = probe_engine->endpoint_cache_hits();
    stats.endpoint_cache_misses = probe_engine->endpoint_cache_misses();
    stats.chain_cache_hits = ChainJudgementCache::TotalHits();
    stats.chain_cache_misses = ChainJudgementCache::TotalMisses();
    stats.sessions_in_flight = probe_engine->sessions_in_flight();
    stats.sessions_waiting = probe_engine->sessions_waiting();
    return stats;
  });
  metrics.SetResolverValidationSource([&store, probe_engine] {
    return probe_engine->LastResolverValidation(store.Current()->dns);
  });
  auto check_dnssec = [&store, probe_engine] {
    std::shared_ptr<const config::Config> config = store.Current();
    ValidationCheck check = probe_engine->CheckResolverValidation(config->dns);
    if (check.validates) {
      log::Info("resolvers validate DNSSEC", {{"check", check.message}});
    } else {
      log::Warn("resolvers do not validate DNSSEC: DANE is not judged", {{"check", check.message}});
    }
  };
  // The TLS-RPT receiver's settings are read at start only (the receiver itself is started
  // below).
  const config::TlsRptConfig tlsrpt_settings = store.Current()->tlsrpt;
  auto reload = [&store, &check_dnssec, &files, &descriptor_demand, &tlsrpt_settings] {
    Status status = store.Reload();
    if (status.ok()) {
      check_dnssec();
      // engine.max_sessions may have grown past what the limit allows.
      WarnIfOpenFileLimitLow(files.soft, descriptor_demand());
      // Say so rather than let an operator believe a changed tlsrpt: section is in force.
      std::vector<std::string> changed =
          TlsRptSettingsChanged(tlsrpt_settings, store.Current()->tlsrpt);
      if (!changed.empty()) {
        std::string fields;
        for (const std::string& f : changed) fields += (fields.empty() ? "" : ",") + f;
        log::Warn("tlsrpt settings changed in the reloaded config; they take effect at the "
                  "next restart, the receiver keeps running with the old ones",
                  {{"fields", fields}});
      }
    }
    return status;
  };
  // The TLS-RPT receiver (optional). Stopped by its destructor at return, before the store it
  // writes to.
  std::unique_ptr<TlsRptStore> tlsrpt_store;
  std::unique_ptr<TlsRptReceiver> tlsrpt;
  if (tlsrpt_settings.enabled()) {
    Result<std::unique_ptr<TlsRptStore>> opened = TlsRptStore::Open(
        tlsrpt_settings.data_directory,
        std::chrono::duration_cast<std::chrono::seconds>(tlsrpt_settings.retention));
    if (!opened.ok()) {
      log::Error("cannot open the tlsrpt data directory", {{"err", opened.status().message()}});
      return 1;
    }
    tlsrpt_store = std::move(opened.value());
    metrics.AddFamiliesSource([db = tlsrpt_store.get()] { return db->Families(); });
    tlsrpt = std::make_unique<TlsRptReceiver>(&store, tlsrpt_settings, tlsrpt_store.get());
    if (Status s = tlsrpt->Start(); !s.ok()) {
      log::Error("cannot start the tlsrpt receiver", {{"err", s.message()}});
      return 1;
    }
  }
  std::thread first_dnssec_check(check_dnssec);
  ReportStore reports;  // for /status: written by /probe, read by the page
  ProbeEndpoint probe(&store, probe_engine, &metrics, flags.timeout_offset_seconds, &reports);
  HttpFront front(&store, &probe, &metrics, reload, &reports);
  Status started = front.Start({flags.listen_addresses, flags.handler_threads, flags.web_config_file});
  if (!started.ok()) {
    log::Error("cannot start HTTP server", {{"err", started.message()}});
    first_dnssec_check.join();
    return 1;
  }

  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      log::Info("reloading config on SIGHUP");
      reload();
      front.ReloadWebConfig();
      continue;
    }
    log::Info("shutting down", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
    break;
  }
  front.Stop();
  front.Wait();
  first_dnssec_check.join();
  log::Info("stopped");
  return 0;
}

}  // namespace
}  // namespace mxtls

int main(int argc, char** argv) { return mxtls::RealMain(argc, argv); }
