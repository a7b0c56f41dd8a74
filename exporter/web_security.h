// The live web security settings of the HTTP front: the loaded --web.config.file, the TLS
// context built from it and the basic-auth verifier, swapped as one snapshot.
//
// The file and the certificate, key and CA files it names are checked for changes (mtime and
// size) at most once a second, when a connection arrives, and on Reload() (SIGHUP): a renewed
// certificate is served to the next connection without a restart. A new file that does not
// parse or whose certificates do not load is logged and the previous snapshot stays in use.
//
// Thread-safe: Current() may be called from any connection thread.
#pragma once

#include <sys/stat.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/openssl_util.h"
#include "common/status.h"
#include "exporter/basic_auth.h"
#include "exporter/web_config.h"

namespace mxtls {

struct WebSecuritySnapshot {
  WebConfig config;
  std::shared_ptr<SSL_CTX> tls;       // null: plain HTTP
  std::shared_ptr<BasicAuth> auth;    // never null (open() when no users)
};

// Builds the TLS server context for `tls` (reads the certificate, key and CA files).
Result<std::shared_ptr<SSL_CTX>> BuildServerTlsContext(const WebTlsConfig& tls,
                                                       const std::string& file_name);

// True when the verified client certificate of `ssl` carries one of `allowed` among its
// subject alternative names (DNS, IP, e-mail or URI), as exporter-toolkit checks them.
bool ClientCertificateAllowed(SSL* ssl, const std::vector<std::string>& allowed);

class WebSecurity {
 public:
  // `path` empty: plain HTTP without authentication, for ever.
  explicit WebSecurity(std::string path);

  // Loads the file for the first time; an error here should stop the exporter.
  Status Load();
  // Re-reads the file if it or a file it names changed (or always, with `force`). Errors are
  // logged and returned; the previous snapshot stays.
  Status Reload(bool force = true);
  // The snapshot to serve a new connection with; checks for changes at most once a second.
  std::shared_ptr<const WebSecuritySnapshot> Current();

 private:
  struct FileStamp {
    std::string path;
    time_t mtime_sec = 0;
    long mtime_nsec = 0;
    off_t size = -1;
    bool operator==(const FileStamp&) const = default;
  };
  static FileStamp Stamp(const std::string& path);
  std::vector<FileStamp> Stamps(const WebConfig* cfg) const;

  const std::string path_;
  std::mutex mu_;
  std::shared_ptr<const WebSecuritySnapshot> current_;  // guarded by mu_
  std::vector<FileStamp> stamps_;                       // guarded by mu_
  std::chrono::steady_clock::time_point last_check_;    // guarded by mu_
};

}  // namespace mxtls
