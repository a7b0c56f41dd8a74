#include "exporter/http_front.h"

#include <dirent.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "common/build_info.h"
#include "common/log.h"
#include "exporter/bounded_http_server.h"
#include "exporter/elastic_task_queue.h"
#include "exporter/flags.h"
#include "exporter/html_text.h"
#include "exporter/service_discovery.h"
#include "exporter/status_page.h"

namespace mxtls {
namespace {

constexpr const char* kTextPlain = "text/plain; charset=utf-8";
constexpr const char* kTextHtml = "text/html; charset=utf-8";

// A domain as typed into a URL: lower case, without the root's trailing dot.
std::string NormalizeDomainParam(std::string d) {
  for (char& c : d) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!d.empty() && d.back() == '.') d.pop_back();
  return d;
}

// Fixed handler names for the request counter: never raw paths, which a client controls.
std::string HandlerName(const std::string& path) {
  if (path == "/probe") return "probe";
  if (path == "/metrics") return "metrics";
  if (path == "/") return "landing";
  if (path == "/-/healthy") return "healthy";
  if (path == "/-/reload") return "reload";
  if (path == "/status" || path.rfind("/status/", 0) == 0) return "status";
  if (path == "/sd") return "sd";
  return "other";
}

// cpp-httplib 0.11 listens with a backlog of 5, which drops connections when hundreds of
// scrapes arrive at once. The library does not expose its socket, so find the listening
// socket bound to `port` among our descriptors and listen() again: on Linux that only
// raises the backlog of the already-listening socket.
void RaiseListenBacklog(int port) {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return;
  while (dirent* e = readdir(dir)) {
    int fd = std::atoi(e->d_name);
    if (fd <= 2) continue;
    int accepting = 0;
    socklen_t len = sizeof(accepting);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) != 0 || !accepting) continue;
    sockaddr_storage addr{};
    socklen_t alen = sizeof(addr);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &alen) != 0) continue;
    int bound = addr.ss_family == AF_INET6
                    ? ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port)
                    : ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
    if (bound == port) ::listen(fd, SOMAXCONN);
  }
  closedir(dir);
}

}  // namespace

std::string LandingPage(const config::Config* cfg) {
  std::string html =
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>mxtls_exporter</title>"
      "</head><body>\n<h1>mxtls_exporter</h1>\n<p>Watches the TLS of domains' inbound mail "
      "servers the way a strict sending MTA sees it. Version " +
      HtmlEscape(kVersion) + " (" + HtmlEscape(kRevision) +
      ").</p>\n<ul>\n<li><a href=\"metrics\">Exporter metrics</a></li>\n"
      "<li><a href=\"-/healthy\">Health</a></li>\n"
      "<li><a href=\"status\">Status: the last probe of every target, worst first, with "
      "diagnoses</a></li>\n"
      "<li><a href=\"sd\">Service discovery</a> (Prometheus http_sd_configs)</li>\n</ul>\n";
  if (cfg != nullptr) {
    html += "<h2>Targets</h2>\n<table>\n<tr><th>Domain</th><th>Module</th><th>Probe</th></tr>\n";
    for (const auto& t : cfg->targets) {
      std::string q = "target=" + UrlEncode(t.domain) + "&module=" + UrlEncode(t.module);
      html += "<tr><td>" + HtmlEscape(t.Display()) + "</td><td>" + HtmlEscape(t.module) +
              "</td><td><a href=\"status/" + HtmlEscape(UrlEncode(t.domain)) +
              "\">status</a> <a href=\"probe?" + HtmlEscape(q) + "\">metrics</a> <a href=\"probe?" +
              HtmlEscape(q) + "&amp;debug=true\">debug</a></td></tr>\n";
    }
    html += "</table>\n";
  }
  html += "</body></html>\n";
  return html;
}

HttpFront::HttpFront(ConfigStore* store, ProbeEndpoint* probe, SelfMetrics* metrics,
                     std::function<Status()> reload, ReportStore* reports)
    : store_(store),
      probe_(probe),
      metrics_(metrics),
      reload_(std::move(reload)),
      reports_(reports) {}

HttpFront::~HttpFront() {
  Stop();
  Wait();
}

void HttpFront::Configure(BoundedHttpServer& server, int handler_threads) {
  // Threads on demand, up to handler_threads connections being served at once
  // (elastic_task_queue.h): a scrape waits for a thread only when that many are being served.
  // A keep-alive connection between requests holds no thread (bounded_http_server.h).
  server.new_task_queue = [handler_threads] {
    return new ElasticTaskQueue(static_cast<size_t>(handler_threads));
  };
  // Request bodies, content encodings, oversized or slow heads and authentication are all
  // dealt with by BoundedHttpServer before any route runs (bounded_http_server.h).
  server.SetRequestLogger([this](const httplib::Request& req, const httplib::Response& res) {
    metrics_->HttpRequest(HandlerName(req.path), res.status);
    log::Debug("http request", {{"method", req.method},
                                {"path", req.path},
                                {"status", std::to_string(res.status)},
                                {"remote", req.remote_addr}});
  });
  // Bodiless, so `curl -X POST` (no Content-Length) reloads too.
  server.Route("POST", "/-/reload", [this](const httplib::Request&, httplib::Response& res) {
    HandleReload(res);
  });

  server.Route("GET", "/", [this](const httplib::Request&, httplib::Response& res) {
    auto cfg = store_->Current();
    res.set_content(LandingPage(cfg.get()), kTextHtml);
  });
  server.Route("GET", "/-/healthy", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("Healthy\n", kTextPlain);
  });
  server.Route("GET", "/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_->Render(), kMetricsContentType);
  });
  server.Route("GET", "/probe", [this](const httplib::Request& req, httplib::Response& res) {
    ProbeParams p;
    if (req.has_param("target")) p.target = req.get_param_value("target");
    if (req.has_param("module")) p.module = req.get_param_value("module");
    p.debug = req.has_param("debug") && req.get_param_value("debug") == "true";
    if (req.has_header("X-Prometheus-Scrape-Timeout-Seconds")) {
      p.scrape_timeout_header = req.get_header_value("X-Prometheus-Scrape-Timeout-Seconds");
    }
    p.received_at = BoundedHttpServer::RequestArrival();
    HttpReply reply = probe_->Handle(p);
    res.status = reply.status;
    res.set_content(reply.body, reply.content_type.c_str());
  });
  server.Route("GET", "/sd", [this](const httplib::Request&, httplib::Response& res) {
    auto cfg = store_->Current();
    res.set_content(RenderServiceDiscovery(*cfg), kServiceDiscoveryContentType);
  });
  server.Route("GET", "/status", [this](const httplib::Request& req, httplib::Response& res) {
    // One address per domain page: /status?domain=X (a form or a habit) moves to /status/X,
    // whose relative links then resolve the same way.
    if (req.has_param("domain")) {
      res.status = 302;
      res.set_header("Location", "status/" + UrlEncode(NormalizeDomainParam(req.get_param_value("domain"))));
      return;
    }
    auto cfg = store_->Current();
    res.set_header("Cache-Control", "no-store");
    res.set_content(RenderStatusOverview(*cfg, Reports(*cfg), std::chrono::system_clock::now()),
                    kTextHtml);
  });
  server.Route("GET", R"(/status/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
    auto cfg = store_->Current();
    StatusPageReply page = RenderStatusDomain(*cfg, Reports(*cfg), NormalizeDomainParam(req.matches[1]),
                                              std::chrono::system_clock::now());
    res.status = page.status;
    res.set_header("Cache-Control", "no-store");
    res.set_content(page.html, kTextHtml);
  });
  auto method_not_allowed = [](const httplib::Request&, httplib::Response& res) {
    res.status = 405;
    res.set_header("Allow", "POST");
    res.set_content("This endpoint requires a POST request.\n", kTextPlain);
  };
  server.Route("GET", "/-/reload", method_not_allowed);
  server.Route("PUT", "/-/reload", method_not_allowed);
  server.Route("DELETE", "/-/reload", method_not_allowed);
}

StoredReports HttpFront::Reports(const config::Config& cfg) {
  return reports_ != nullptr ? reports_->Snapshot(cfg) : StoredReports{};
}

void HttpFront::HandleReload(httplib::Response& res) {
  Status s = reload_();
  if (s.ok()) {
    res.set_content("configuration reloaded\n", kTextPlain);
  } else {
    res.status = 500;
    res.set_content("failed to reload config: " + s.message() + "\n", kTextPlain);
  }
}

Status HttpFront::ReloadWebConfig() { return web_ ? web_->Reload(true) : Status(); }

Status HttpFront::Start(const HttpFrontOptions& options) {
  web_ = std::make_unique<WebSecurity>(options.web_config_file);
  if (Status s = web_->Load(); !s.ok()) return s;
  for (const std::string& address : options.listen_addresses) {
    std::string host;
    int port = 0;
    if (!SplitListenAddress(address, &host, &port)) {
      return Status::Error("bad_listen_address", "cannot parse listen address " + address);
    }
    auto server = std::make_unique<BoundedHttpServer>(web_.get(), HttpLimits{});
    Configure(*server, options.handler_threads);
    // ":port" means every interface: dual-stack when the machine has IPv6, IPv4 otherwise
    // (containers often have no IPv6 at all).
    std::vector<std::string> hosts = host.empty() ? std::vector<std::string>{"::", "0.0.0.0"}
                                                  : std::vector<std::string>{host};
    int bound_port = -1;
    std::string bound_host;
    for (const auto& h : hosts) {
      if (port == 0) {
        bound_port = server->bind_to_any_port(h);
      } else {
        bound_port = server->bind_to_port(h, port) ? port : -1;
      }
      if (bound_port > 0) {
        bound_host = h;
        break;
      }
    }
    if (bound_port <= 0) {
      Stop();
      Wait();
      return Status::Error("listen_failed", "cannot listen on " + address);
    }
    std::string shown = bound_host.find(':') != std::string::npos
                            ? "[" + bound_host + "]:" + std::to_string(bound_port)
                            : bound_host + ":" + std::to_string(bound_port);
    RaiseListenBacklog(bound_port);
    bound_.push_back(shown);
    log::Info("listening", {{"address", shown}});
    httplib::Server* raw = server.get();
    servers_.push_back(std::move(server));
    threads_.emplace_back([raw] { raw->listen_after_bind(); });
  }
  return Status();
}

void HttpFront::Stop() {
  if (stopping_.exchange(true)) return;
  for (auto& s : servers_) {
    // stop() is a no-op on a server whose listener thread has not started running yet, so
    // give a freshly started one a moment to come up (a SIGTERM right after start).
    for (int i = 0; i < 1000 && !s->is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    s->BeginStop();
    s->stop();
  }
}

void HttpFront::Wait() {
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

}  // namespace mxtls
