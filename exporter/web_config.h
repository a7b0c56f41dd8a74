// The web configuration file (--web.config.file) in the Prometheus exporter-toolkit format:
// TLS for the exporter's own listeners, basic-auth users with bcrypt hashes, and extra
// response headers. ParseWebConfig() is pure: text in, a validated WebConfig or an error
// naming the file and the field out. It does not open the certificate files (the listener
// does, when it builds its TLS context, and reports their errors the same way).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace mxtls {

enum class ClientAuthType {
  kNoClientCert,
  kRequestClientCert,
  kRequireAnyClientCert,
  kVerifyClientCertIfGiven,
  kRequireAndVerifyClientCert,
};

struct WebTlsConfig {
  std::string cert_file;
  std::string key_file;
  ClientAuthType client_auth_type = ClientAuthType::kNoClientCert;
  std::string client_ca_file;
  std::vector<std::string> client_allowed_sans;  // empty: any verified client certificate
  int min_version = 0x0303;  // TLS1_2_VERSION, exporter-toolkit's default
  int max_version = 0;       // 0: the highest OpenSSL supports (TLS 1.3)
  // OpenSSL names of the TLS 1.2 ciphers, translated from Go's names; empty: OpenSSL's default.
  std::vector<std::string> cipher_suites;
  // OpenSSL group names (P-256, X25519, ...), translated from Go's; empty: OpenSSL's default.
  std::vector<std::string> curve_preferences;
};

struct WebConfig {
  bool tls_enabled = false;  // tls_server_config present with a certificate
  WebTlsConfig tls;
  std::map<std::string, std::string> basic_auth_users;  // user -> bcrypt hash
  std::vector<std::pair<std::string, std::string>> headers;  // extra response headers
};

// Parses and validates `yaml_text`, read from `file_name` (used in messages only). Every
// key of the exporter-toolkit format is either supported or refused with a message naming
// the file and the field ("web config /etc/x.yml: tls_server_config.min_version: ...").
// Refused: unknown keys, `cert`/`key`/`client_ca` inline PEM, `http2: true`... see the .cc.
Result<WebConfig> ParseWebConfig(const std::string& yaml_text, const std::string& file_name);

// Reads and parses the file at `path`.
Result<WebConfig> LoadWebConfigFile(const std::string& path);

}  // namespace mxtls
