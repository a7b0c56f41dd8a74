// The HTTP front (cpp-httplib): routes /probe, /metrics, /status, /sd, /, /-/healthy and
// /-/reload, and
// guards the library's known weaknesses before any route runs (no request bodies or content
// encodings are accepted; see STACK.md). Handlers only validate, hand work over and wait.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "exporter/config_store.h"
#include "exporter/probe_endpoint.h"
#include "exporter/report_store.h"
#include "exporter/self_metrics.h"
#include "exporter/web_security.h"

namespace httplib {
struct Response;
}

namespace mxtls {

struct HttpFrontOptions {
  std::vector<std::string> listen_addresses;  // "host:port", "[v6]:port", ":port"
  int handler_threads = 1024;
  std::string web_config_file;  // --web.config.file; empty: plain HTTP, no authentication
};

class BoundedHttpServer;

// Owns one BoundedHttpServer per listen address, all sharing one WebSecurity (TLS, basic
// auth and headers from --web.config.file). Start() binds all or none; Stop() makes every
// listener return, and the destructor joins their threads.
class HttpFront {
 public:
  // `reports` (may be null: /status then shows every target as not probed) is what /probe
  // recorded; /status only reads it.
  HttpFront(ConfigStore* store, ProbeEndpoint* probe, SelfMetrics* metrics,
            std::function<Status()> reload, ReportStore* reports = nullptr);
  ~HttpFront();

  // Binds every address and starts serving on background threads. Logs each bound address
  // (port 0 binds an ephemeral port; bound_addresses() tells which).
  Status Start(const HttpFrontOptions& options);
  void Stop();
  // Blocks until every listener has stopped.
  void Wait();
  // Re-reads the web config file now (SIGHUP); a bad file is logged and the old one stays.
  Status ReloadWebConfig();
  const std::vector<std::string>& bound_addresses() const { return bound_; }

 private:
  void Configure(BoundedHttpServer& server, int handler_threads);
  void HandleReload(httplib::Response& res);
  std::map<ReportStore::Key, std::shared_ptr<const StoredReport>> Reports(
      const config::Config& cfg);

  ConfigStore* store_;
  ProbeEndpoint* probe_;
  SelfMetrics* metrics_;
  std::function<Status()> reload_;
  ReportStore* reports_;
  std::unique_ptr<WebSecurity> web_;
  std::vector<std::unique_ptr<BoundedHttpServer>> servers_;
  std::vector<std::thread> threads_;
  std::vector<std::string> bound_;
  std::atomic<bool> stopping_{false};
};

// The landing page: links to the endpoints and one probe link per configured target.
std::string LandingPage(const config::Config* cfg);

}  // namespace mxtls
