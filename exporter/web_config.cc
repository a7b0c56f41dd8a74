#include "exporter/web_config.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <set>
#include <sstream>

namespace mxtls {
namespace {

// Thrown inside the parser only, turned into a Status at its border: the YAML walk is deep
// and every failure ends the parse the same way.
struct FieldError {
  std::string field;
  std::string message;
};

void RefuseUnknownKeys(const YAML::Node& map, const std::string& where,
                       const std::set<std::string>& known) {
  if (!map.IsMap()) throw FieldError{where, "must be a mapping"};
  for (const auto& kv : map) {
    std::string key = kv.first.as<std::string>();
    if (known.count(key) == 0) {
      throw FieldError{where.empty() ? key : where + "." + key, "unknown field"};
    }
  }
}

std::string Str(const YAML::Node& n, const std::string& field) {
  if (!n.IsScalar()) throw FieldError{field, "must be a string"};
  return n.as<std::string>();
}

std::vector<std::string> StrList(const YAML::Node& n, const std::string& field) {
  if (n.IsNull()) return {};
  if (!n.IsSequence()) throw FieldError{field, "must be a list"};
  std::vector<std::string> out;
  for (const auto& e : n) out.push_back(Str(e, field));
  return out;
}

bool Bool(const YAML::Node& n, const std::string& field) {
  bool b = false;
  if (!n.IsScalar() || !YAML::convert<bool>::decode(n, b)) {
    throw FieldError{field, "must be true or false"};
  }
  return b;
}

// Relative paths are relative to the web config file's directory, as in exporter-toolkit.
std::string Resolve(const std::string& path, const std::string& file_name) {
  if (path.empty() || path[0] == '/') return path;
  auto slash = file_name.rfind('/');
  return slash == std::string::npos ? path : file_name.substr(0, slash + 1) + path;
}

int TlsVersion(const std::string& v, const std::string& field) {
  if (v == "TLS10") return 0x0301;
  if (v == "TLS11") return 0x0302;
  if (v == "TLS12") return 0x0303;
  if (v == "TLS13") return 0x0304;
  throw FieldError{field, "unknown TLS version \"" + v + "\" (TLS10, TLS11, TLS12 or TLS13)"};
}

ClientAuthType ClientAuth(const std::string& v, const std::string& field) {
  if (v == "" || v == "NoClientCert") return ClientAuthType::kNoClientCert;
  if (v == "RequestClientCert") return ClientAuthType::kRequestClientCert;
  if (v == "RequireAnyClientCert" || v == "RequireClientCert") {
    return ClientAuthType::kRequireAnyClientCert;
  }
  if (v == "VerifyClientCertIfGiven") return ClientAuthType::kVerifyClientCertIfGiven;
  if (v == "RequireAndVerifyClientCert") return ClientAuthType::kRequireAndVerifyClientCert;
  throw FieldError{field, "unknown client_auth_type \"" + v + "\""};
}

// Go's names of the TLS 1.2 cipher suites (the ones exporter-toolkit accepts) and OpenSSL's.
// TLS 1.3 suites are not configurable in Go, so not here either.
std::string CipherSuite(const std::string& go, const std::string& field) {
  static const std::map<std::string, std::string> kNames = {
      {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256"},
      {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256"},
      {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384"},
      {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384"},
      {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "ECDHE-ECDSA-CHACHA20-POLY1305"},
      {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"},
      {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", "ECDHE-RSA-CHACHA20-POLY1305"},
      {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA-CHACHA20-POLY1305"},
      {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA-AES128-SHA"},
      {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA-AES128-SHA"},
      {"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA-AES256-SHA"},
      {"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA-AES256-SHA"},
      {"TLS_RSA_WITH_AES_128_GCM_SHA256", "AES128-GCM-SHA256"},
      {"TLS_RSA_WITH_AES_256_GCM_SHA384", "AES256-GCM-SHA384"},
      {"TLS_RSA_WITH_AES_128_CBC_SHA", "AES128-SHA"},
      {"TLS_RSA_WITH_AES_256_CBC_SHA", "AES256-SHA"},
  };
  auto it = kNames.find(go);
  if (it == kNames.end()) {
    throw FieldError{field, "unsupported cipher suite \"" + go +
                                "\" (Go names of TLS 1.2 suites; TLS 1.3 suites are fixed)"};
  }
  return it->second;
}

std::string Curve(const std::string& go, const std::string& field) {
  if (go == "CurveP256") return "P-256";
  if (go == "CurveP384") return "P-384";
  if (go == "CurveP521") return "P-521";
  if (go == "X25519") return "X25519";
  throw FieldError{field, "unsupported curve \"" + go +
                              "\" (CurveP256, CurveP384, CurveP521 or X25519)"};
}

// exporter-toolkit lets only these security headers be set, some with fixed values; every
// other header (Authorization, Content-Type, Set-Cookie, ...) is refused.
void CheckHeader(const std::string& name, const std::string& value, const std::string& field) {
  static const std::map<std::string, std::vector<std::string>> kAllowed = {
      {"Strict-Transport-Security", {}},
      {"X-Content-Type-Options", {"nosniff"}},
      {"X-Frame-Options", {"deny", "sameorigin"}},
      {"X-XSS-Protection", {}},
      {"Content-Security-Policy", {}},
  };
  auto it = kAllowed.find(name);
  if (it == kAllowed.end()) throw FieldError{field, "HTTP header \"" + name + "\" can not be configured"};
  if (value.find_first_of("\r\n") != std::string::npos) {
    throw FieldError{field, "header value must be a single line"};
  }
  if (!it->second.empty()) {
    std::string lower;
    for (char c : value) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    bool ok = false;
    for (const auto& v : it->second) ok = ok || lower == v;
    if (!ok) throw FieldError{field, "invalid value \"" + value + "\" for header \"" + name + "\""};
  }
}

bool IsBcryptHash(const std::string& h) {
  if (h.size() != 60 || h[0] != '$' || h[1] != '2' || h[3] != '$' || h[6] != '$') return false;
  if (h[2] != 'a' && h[2] != 'b' && h[2] != 'y') return false;
  if (!std::isdigit(static_cast<unsigned char>(h[4])) ||
      !std::isdigit(static_cast<unsigned char>(h[5]))) {
    return false;
  }
  int cost = (h[4] - '0') * 10 + (h[5] - '0');
  return cost >= 4 && cost <= 31;
}

WebTlsConfig ParseTls(const YAML::Node& n, const std::string& file_name, bool* enabled) {
  const std::string w = "tls_server_config";
  WebTlsConfig tls;
  if (n.IsNull()) return tls;
  RefuseUnknownKeys(n, w,
                    {"cert_file", "key_file", "cert", "key", "client_auth_type", "client_ca_file",
                     "client_ca", "client_allowed_sans", "cipher_suites", "curve_preferences",
                     "min_version", "max_version", "prefer_server_cipher_suites"});
  for (const char* inline_pem : {"cert", "key", "client_ca"}) {
    if (n[inline_pem]) {
      throw FieldError{w + "." + inline_pem, "inline PEM is not supported, use the _file field"};
    }
  }
  if (n["cert_file"]) tls.cert_file = Resolve(Str(n["cert_file"], w + ".cert_file"), file_name);
  if (n["key_file"]) tls.key_file = Resolve(Str(n["key_file"], w + ".key_file"), file_name);
  if (n["client_auth_type"]) {
    tls.client_auth_type = ClientAuth(Str(n["client_auth_type"], w + ".client_auth_type"),
                                      w + ".client_auth_type");
  }
  if (n["client_ca_file"]) {
    tls.client_ca_file = Resolve(Str(n["client_ca_file"], w + ".client_ca_file"), file_name);
  }
  if (n["client_allowed_sans"]) {
    tls.client_allowed_sans = StrList(n["client_allowed_sans"], w + ".client_allowed_sans");
  }
  if (n["cipher_suites"]) {
    for (const auto& c : StrList(n["cipher_suites"], w + ".cipher_suites")) {
      tls.cipher_suites.push_back(CipherSuite(c, w + ".cipher_suites"));
    }
  }
  if (n["curve_preferences"]) {
    for (const auto& c : StrList(n["curve_preferences"], w + ".curve_preferences")) {
      tls.curve_preferences.push_back(Curve(c, w + ".curve_preferences"));
    }
  }
  if (n["min_version"]) {
    tls.min_version = TlsVersion(Str(n["min_version"], w + ".min_version"), w + ".min_version");
  }
  if (n["max_version"]) {
    tls.max_version = TlsVersion(Str(n["max_version"], w + ".max_version"), w + ".max_version");
  }
  if (n["prefer_server_cipher_suites"]) {
    Bool(n["prefer_server_cipher_suites"], w + ".prefer_server_cipher_suites");
  }
  if (tls.max_version != 0 && tls.max_version < tls.min_version) {
    throw FieldError{w + ".max_version", "is lower than min_version"};
  }
  bool verifies = tls.client_auth_type == ClientAuthType::kVerifyClientCertIfGiven ||
                  tls.client_auth_type == ClientAuthType::kRequireAndVerifyClientCert;
  if (verifies && tls.client_ca_file.empty()) {
    throw FieldError{w + ".client_ca_file", "is required to verify client certificates"};
  }
  if (!tls.client_ca_file.empty() && !verifies) {
    throw FieldError{w + ".client_auth_type",
                     "must be VerifyClientCertIfGiven or RequireAndVerifyClientCert when "
                     "client_ca_file is set"};
  }
  if (!tls.client_allowed_sans.empty() &&
      tls.client_auth_type != ClientAuthType::kRequireAndVerifyClientCert) {
    throw FieldError{w + ".client_allowed_sans",
                     "needs client_auth_type RequireAndVerifyClientCert"};
  }
  bool any = !tls.cert_file.empty() || !tls.key_file.empty() || n.size() > 0;
  if (any) {
    if (tls.cert_file.empty()) throw FieldError{w + ".cert_file", "is required"};
    if (tls.key_file.empty()) throw FieldError{w + ".key_file", "is required"};
  }
  *enabled = any;
  return tls;
}

}  // namespace

Result<WebConfig> ParseWebConfig(const std::string& yaml_text, const std::string& file_name) {
  const std::string prefix = "web config " + file_name + ": ";
  try {
    YAML::Node root = YAML::Load(yaml_text);
    WebConfig cfg;
    if (root.IsNull()) return cfg;  // an empty file: plain HTTP, no auth
    RefuseUnknownKeys(root, "", {"tls_server_config", "http_server_config", "basic_auth_users"});
    if (root["tls_server_config"]) {
      cfg.tls = ParseTls(root["tls_server_config"], file_name, &cfg.tls_enabled);
    }
    if (YAML::Node h = root["http_server_config"]; h && !h.IsNull()) {
      RefuseUnknownKeys(h, "http_server_config", {"http2", "headers"});
      // HTTP/2 is never offered (HTTP/1.1 with keep-alive only); `http2: true`, the
      // toolkit's default, only allows it, so both values are accepted.
      if (h["http2"]) Bool(h["http2"], "http_server_config.http2");
      if (YAML::Node hs = h["headers"]; hs && !hs.IsNull()) {
        if (!hs.IsMap()) throw FieldError{"http_server_config.headers", "must be a mapping"};
        for (const auto& kv : hs) {
          std::string name = kv.first.as<std::string>();
          std::string field = "http_server_config.headers." + name;
          std::string value = Str(kv.second, field);
          CheckHeader(name, value, field);
          cfg.headers.emplace_back(name, value);
        }
      }
    }
    if (YAML::Node u = root["basic_auth_users"]; u && !u.IsNull()) {
      if (!u.IsMap()) throw FieldError{"basic_auth_users", "must be a mapping"};
      for (const auto& kv : u) {
        std::string user = kv.first.as<std::string>();
        std::string field = "basic_auth_users." + user;
        if (user.empty() || user.find(':') != std::string::npos) {
          throw FieldError{field, "a user name must be non-empty and contain no ':'"};
        }
        std::string hash = Str(kv.second, field);
        if (!IsBcryptHash(hash)) {
          throw FieldError{field, "must be a bcrypt hash ($2y$, $2a$ or $2b$, 60 characters)"};
        }
        cfg.basic_auth_users[user] = hash;
      }
    }
    return cfg;
  } catch (const FieldError& e) {
    return Status::Error("bad_web_config", prefix + e.field + ": " + e.message);
  } catch (const YAML::Exception& e) {
    return Status::Error("bad_web_config", prefix + e.what());
  }
}

Result<WebConfig> LoadWebConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Error("bad_web_config", "web config " + path + ": cannot be read");
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseWebConfig(ss.str(), path);
}

}  // namespace mxtls
