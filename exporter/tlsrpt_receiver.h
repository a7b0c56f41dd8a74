// The TLS-RPT report receiver (RFC 8460 §5): reports posted over HTTP and reports delivered
// by mail into a spool directory, both counted once into a TlsRptStore.
//
// HTTP: its own BoundedHttpServer on `tlsrpt.listen_address`, apart from /metrics and /probe
// so that it alone may face the internet, with the same bounds on request lines, headers and
// slow clients as the exporter's endpoints (bounded_http_server.h) and no authentication.
// TLS from `tlsrpt.web_config_file` (exporter-toolkit format, no basic_auth_users), or plain
// HTTP behind a TLS reverse proxy (reporters post to https:// URIs). Only
// `POST /tlsrpt` with Content-Type application/tlsrpt+gzip or application/tlsrpt+json and a
// Content-Length of at most max_body_bytes is read, within kBodyTimeout; chunked bodies (411)
// and Content-Encoding (415) are refused before the body is read. Answers: 200 accepted or duplicate;
// 400 malformed or bad gzip; 403 no policy domain is a target; 411; 413 body or decompressed
// report too large; 415 other media types; 500 the data directory cannot be written.
//
// Spool: every spool_interval (and at start) each regular file directly in spool_directory
// whose name does not start with "." or end in ".tmp" is read once: "*.json" as JSON,
// "*.json.gz" / "*.gz" as gzip, anything else as a mail message (mime_report.h). It is then
// moved to spool_directory/processed/ (accepted or duplicate) or spool_directory/rejected/,
// so it is never read twice; a file that cannot be stored for a storage error stays and is
// tried again. Mail delivery must create files atomically (Maildir-style: write elsewhere on
// the same file system, then rename into the spool).
//
// Policy domains are judged against the targets of the config in force when a report
// arrives (ConfigStore); the listener and spool settings are read at start only.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/status.h"
#include "config/config.h"
#include "exporter/bounded_http_server.h"
#include "exporter/config_store.h"
#include "exporter/tlsrpt_store.h"
#include "exporter/web_security.h"

namespace httplib {
class Server;
}

namespace mxtls {

class TlsRptReceiver {
 public:
  // `store` and `db` must outlive the receiver.
  TlsRptReceiver(const ConfigStore* store, config::TlsRptConfig settings, TlsRptStore* db);
  ~TlsRptReceiver();

  // Binds the listener (when configured; logs "tlsrpt receiver listening" with its address)
  // and starts the spool thread (when configured). Binds or fails as a whole.
  Status Start();
  void Stop();  // returns once the listener and spool thread have stopped

  // What became of one report body.
  struct Outcome {
    int http_status = 200;
    std::string message;
    bool retry_later = false;  // storage failure: a spool file stays where it is
  };
  enum class Encoding { kJson, kGzip };
  // Decompresses (bounded), parses and records one report; counts refusals by reason.
  Outcome Submit(std::string_view body, Encoding encoding, const std::string& source);

  // Reads every pending spool file once (the spool thread calls it; tests may too).
  void ScanSpool();

 private:
  void SpoolLoop();
  void ProcessSpoolFile(const std::string& name);

  const ConfigStore* store_;
  const config::TlsRptConfig settings_;
  TlsRptStore* db_;
  std::unique_ptr<WebSecurity> web_;  // TLS or plain; never authentication
  std::unique_ptr<BoundedHttpServer> server_;
  std::thread server_thread_;
  std::thread spool_thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
};

// The `tlsrpt:` fields (by their config names) whose values differ between the settings the
// receiver runs with and a newly loaded config's. The receiver reads them at start only, so
// a reload that changes any of them is logged with this list, as needing a restart.
std::vector<std::string> TlsRptSettingsChanged(const config::TlsRptConfig& running,
                                               const config::TlsRptConfig& loaded);

}  // namespace mxtls
