#include "exporter/tlsrpt_receiver.h"

#include <dirent.h>
#include <httplib.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <vector>

#include "common/log.h"
#include "config/domain_name.h"
#include "exporter/elastic_task_queue.h"
#include "exporter/flags.h"
#include "exporter/mime_report.h"
#include "exporter/tlsrpt_report.h"

namespace mxtls {
namespace {

constexpr char kTextPlain[] = "text/plain; charset=utf-8";
// A handful of reporters post once a day per domain: a few threads are plenty, and a flood
// waits in the listen queue rather than taking the exporter's threads.
constexpr size_t kReceiverThreads = 8;
// A report of max_body_bytes (1 MiB by default) over a slow link takes well under this; a
// client that trickles it longer loses its thread and gets 408.
constexpr std::chrono::seconds kBodyTimeout{30};

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int StatusFor(const std::string& reason) {
  if (reason == "too_large" || reason == "decompressed_too_large") return 413;
  if (reason == "foreign_domain") return 403;
  if (reason == "unsupported_media_type") return 415;
  if (reason == "length_required") return 411;
  if (reason == "storage") return 500;
  return 400;  // malformed, bad_gzip, bad_mime
}

std::string MediaType(const std::string& content_type) {
  std::string t = content_type.substr(0, content_type.find(';'));
  t.erase(std::remove_if(t.begin(), t.end(), [](unsigned char c) { return std::isspace(c); }),
          t.end());
  std::transform(t.begin(), t.end(), t.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return t;
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Moves `from` into directory `dir` under its own name, or name.1, name.2, ... when taken.
bool MoveAside(const std::string& from, const std::string& dir, const std::string& name) {
  mkdir(dir.c_str(), 0750);
  for (int i = 0; i < 1000; ++i) {
    std::string to = dir + "/" + name + (i == 0 ? "" : "." + std::to_string(i));
    struct stat st;
    if (stat(to.c_str(), &st) == 0) continue;
    return rename(from.c_str(), to.c_str()) == 0;
  }
  return false;
}

}  // namespace

TlsRptReceiver::TlsRptReceiver(const ConfigStore* store, config::TlsRptConfig settings,
                               TlsRptStore* db)
    : store_(store), settings_(std::move(settings)), db_(db) {}

TlsRptReceiver::~TlsRptReceiver() { Stop(); }

TlsRptReceiver::Outcome TlsRptReceiver::Submit(std::string_view body, Encoding encoding,
                                               const std::string& source) {
  auto refuse = [&](const Status& s) {
    db_->CountRejected(s.reason());
    log::Info("tlsrpt report refused",
              {{"source", source}, {"reason", s.reason()}, {"err", s.message()}});
    return Outcome{StatusFor(s.reason()), s.reason() + ": " + s.message() + "\n"};
  };
  const size_t max_report = static_cast<size_t>(settings_.max_report_bytes);
  std::string text;
  // Some reporters label gzip as JSON: the magic number decides.
  if (encoding == Encoding::kGzip || LooksGzipped(body)) {
    Result<std::string> plain = GunzipBounded(body, max_report);
    if (!plain.ok()) return refuse(plain.status());
    text = std::move(plain.value());
  } else {
    if (body.size() > max_report) {
      return refuse(Status::Error("too_large", "report larger than max_report_bytes"));
    }
    text = std::string(body);
  }
  Result<TlsRptReceivedReport> report = ParseTlsRptReport(text);
  if (!report.ok()) return refuse(report.status());
  std::shared_ptr<const config::Config> cfg = store_->Current();
  auto is_target = [&cfg](const std::string& domain) {
    // Targets are A-labels; reports name domains as their policies do (A-labels too).
    Result<config::DomainName> name = config::ParseDomainName(domain);
    return name.ok() && cfg->HasTarget(name->ascii);
  };
  TlsRptStore::Recorded r = db_->Record(*report, text, is_target, source, NowSeconds());
  switch (r.outcome) {
    case TlsRptStore::Outcome::kAccepted:
      log::Info("tlsrpt report accepted", {{"source", source},
                                           {"organization", report->organization_name},
                                           {"report_id", report->report_id}});
      return Outcome{200, "accepted\n"};
    case TlsRptStore::Outcome::kDuplicate:
      log::Info("tlsrpt report already counted", {{"source", source},
                                                  {"organization", report->organization_name},
                                                  {"report_id", report->report_id}});
      return Outcome{200, "duplicate: already counted\n"};
    case TlsRptStore::Outcome::kRejected:
      break;
  }
  // Record counted the refusal itself.
  log::Info("tlsrpt report refused",
            {{"source", source}, {"reason", r.error.reason()}, {"err", r.error.message()}});
  Outcome out{StatusFor(r.error.reason()), r.error.reason() + ": " + r.error.message() + "\n"};
  out.retry_later = r.error.reason() == "storage";
  return out;
}

Status TlsRptReceiver::Start() {
  if (!settings_.listen_address.empty()) {
    std::string host;
    int port = 0;
    if (!SplitListenAddress(settings_.listen_address, &host, &port)) {
      return Status::Error("bad_listen_address",
                           "cannot parse tlsrpt.listen_address " + settings_.listen_address);
    }
    // The same bounded server as the exporter's own endpoints (bounded_http_server.h): request
    // line and headers limited, a slow head or body cut off, keep-alive without a thread; no
    // authentication (reporters cannot log in); TLS from tlsrpt.web_config_file, or from a
    // reverse proxy in front.
    web_ = std::make_unique<WebSecurity>(settings_.web_config_file);
    if (!settings_.web_config_file.empty()) {
      Status loaded = web_->Load();
      if (!loaded.ok()) return loaded;
      if (!web_->Current()->auth->open()) {
        return Status::Error("tlsrpt_web_config",
                             "tlsrpt.web_config_file " + settings_.web_config_file +
                                 ": basic_auth_users would lock the reporters out (they do "
                                 "not log in); use a file with TLS settings only");
      }
    }
    server_ = std::make_unique<BoundedHttpServer>(web_.get(), HttpLimits{});
    BoundedHttpServer& s = *server_;
    s.new_task_queue = [] { return new ElasticTaskQueue(kReceiverThreads); };
    const size_t max_body = static_cast<size_t>(settings_.max_body_bytes);
    // Everything that decides whether a body is read at all happens here, before it is read.
    auto admit = [this, max_body](const httplib::Request& req, httplib::Response& res) {
      auto refuse = [&](const std::string& reason, const std::string& why) {
        db_->CountRejected(reason);
        res.status = StatusFor(reason);
        res.set_content(reason + ": " + why + "\n", kTextPlain);
        return false;
      };
      if (req.has_header("Content-Encoding")) {
        return refuse("unsupported_media_type",
                      "use Content-Type application/tlsrpt+gzip, not Content-Encoding");
      }
      const std::string type = MediaType(req.get_header_value("Content-Type"));
      if (type != "application/tlsrpt+gzip" && type != "application/tlsrpt+json") {
        return refuse("unsupported_media_type",
                      "Content-Type must be application/tlsrpt+gzip or application/tlsrpt+json");
      }
      if (!req.has_header("Content-Length")) {
        return refuse("length_required", "send the report with a Content-Length");
      }
      const std::string length = req.get_header_value("Content-Length");
      if (length.empty() || length.size() > 19 ||
          !std::all_of(length.begin(), length.end(), ::isdigit)) {
        return refuse("malformed", "bad Content-Length");
      }
      if (std::stoull(length) > max_body) {
        return refuse("too_large", "body larger than " + std::to_string(max_body) + " bytes");
      }
      return true;
    };
    s.RouteWithBody("POST", "/tlsrpt", max_body, kBodyTimeout, admit,
                    [this](const httplib::Request& req, httplib::Response& res) {
                      const std::string type = MediaType(req.get_header_value("Content-Type"));
                      Outcome o = Submit(req.body,
                                         type == "application/tlsrpt+gzip" ? Encoding::kGzip
                                                                           : Encoding::kJson,
                                         "http");
                      res.status = o.http_status;
                      res.set_content(o.message, kTextPlain);
                    });
    std::vector<std::string> hosts = host.empty() ? std::vector<std::string>{"::", "0.0.0.0"}
                                                  : std::vector<std::string>{host};
    int bound = -1;
    std::string bound_host;
    for (const auto& h : hosts) {
      bound = port == 0 ? s.bind_to_any_port(h) : (s.bind_to_port(h, port) ? port : -1);
      if (bound > 0) {
        bound_host = h;
        break;
      }
    }
    if (bound <= 0) {
      server_.reset();
      return Status::Error("listen_failed",
                           "cannot listen on tlsrpt.listen_address " + settings_.listen_address);
    }
    std::string shown = bound_host.find(':') != std::string::npos
                            ? "[" + bound_host + "]:" + std::to_string(bound)
                            : bound_host + ":" + std::to_string(bound);
    log::Info("tlsrpt receiver listening", {{"address", shown}});
    server_thread_ = std::thread([&s] { s.listen_after_bind(); });
  }
  if (!settings_.spool_directory.empty()) {
    spool_thread_ = std::thread([this] { SpoolLoop(); });
  }
  return Status();
}

void TlsRptReceiver::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (server_) {
    for (int i = 0; i < 1000 && !server_->is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    server_->BeginStop();
    server_->stop();
  }
  if (server_thread_.joinable()) server_thread_.join();
  if (spool_thread_.joinable()) spool_thread_.join();
}

void TlsRptReceiver::SpoolLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    lock.unlock();
    db_->Prune(NowSeconds());
    ScanSpool();
    lock.lock();
    cv_.wait_for(lock, settings_.spool_interval, [this] { return stopping_; });
  }
}

void TlsRptReceiver::ScanSpool() {
  DIR* d = opendir(settings_.spool_directory.c_str());
  if (d == nullptr) {
    log::Warn("tlsrpt: cannot read the spool directory",
              {{"directory", settings_.spool_directory}});
    return;
  }
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name.empty() || name[0] == '.' || EndsWith(name, ".tmp")) continue;
    struct stat st;
    std::string path = settings_.spool_directory + "/" + name;
    if (lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    names.push_back(name);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
    }
    ProcessSpoolFile(name);
  }
}

void TlsRptReceiver::ProcessSpoolFile(const std::string& name) {
  const std::string path = settings_.spool_directory + "/" + name;
  const size_t max_body = static_cast<size_t>(settings_.max_body_bytes);
  // A mail message carries the report base64-encoded (4/3 larger) plus headers.
  const bool is_json = EndsWith(name, ".json");
  const bool is_gzip = EndsWith(name, ".gz");
  // base64 with line breaks is about 1.37 times the data.
  const size_t max_file = is_json || is_gzip ? max_body : max_body / 2 * 3 + (64 << 10);
  Outcome o;
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return;
  if (static_cast<size_t>(st.st_size) > max_file) {
    db_->CountRejected("too_large");
    o = Outcome{413, "file larger than the limit\n"};
    log::Info("tlsrpt report refused", {{"source", "spool"}, {"reason", "too_large"},
                                        {"file", name}});
  } else {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string bytes = ss.str();
    if (is_json) {
      o = Submit(bytes, Encoding::kJson, "spool");
    } else if (is_gzip) {
      o = Submit(bytes, Encoding::kGzip, "spool");
    } else {
      Result<MimeReportPart> part = ExtractTlsRptPart(bytes, max_body);
      if (!part.ok()) {
        db_->CountRejected(part.status().reason());
        log::Info("tlsrpt report refused", {{"source", "spool"},
                                            {"reason", part.status().reason()},
                                            {"file", name},
                                            {"err", part.status().message()}});
        o = Outcome{StatusFor(part.status().reason()), part.status().message()};
      } else {
        o = Submit(part->body, part->gzip ? Encoding::kGzip : Encoding::kJson, "spool");
      }
    }
  }
  if (o.retry_later) return;
  const bool ok = o.http_status / 100 == 2;
  const std::string dir = settings_.spool_directory + (ok ? "/processed" : "/rejected");
  if (!MoveAside(path, dir, name)) {
    // Not moved means read again at the next scan: de-duplication keeps the counts right,
    // but say so, since a refused file would be counted as refused again.
    log::Error("tlsrpt: cannot move a spool file aside", {{"file", path}, {"to", dir}});
  }
}

std::vector<std::string> TlsRptSettingsChanged(const config::TlsRptConfig& running,
                                               const config::TlsRptConfig& loaded) {
  std::vector<std::string> changed;
  auto check = [&](bool differs, const char* field) {
    if (differs) changed.emplace_back(field);
  };
  check(running.listen_address != loaded.listen_address, "listen_address");
  check(running.spool_directory != loaded.spool_directory, "spool_directory");
  check(running.spool_interval != loaded.spool_interval, "spool_interval");
  check(running.data_directory != loaded.data_directory, "data_directory");
  check(running.web_config_file != loaded.web_config_file, "web_config_file");
  check(running.max_body_bytes != loaded.max_body_bytes, "max_body_bytes");
  check(running.max_report_bytes != loaded.max_report_bytes, "max_report_bytes");
  check(running.retention != loaded.retention, "retention");
  return changed;
}

}  // namespace mxtls
