// The web config file parser (exporter-toolkit format) and the basic-auth verifier, without
// a running exporter: every refusal names the file and the field.
#include <crypt.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "exporter/basic_auth.h"
#include "exporter/flags.h"
#include "exporter/web_config.h"

namespace mxtls {
namespace {

std::string Hash(const std::string& password, int cost) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  REQUIRE(crypt_gensalt_rn("$2b$", cost, nullptr, 0, salt, sizeof(salt)) != nullptr);
  crypt_data data{};
  return crypt_r(password.c_str(), salt, &data);
}

std::string ParseError(const std::string& yaml) {
  Result<WebConfig> r = ParseWebConfig(yaml, "/etc/web.yml");
  REQUIRE_FALSE(r.ok());
  return r.status().message();
}

std::string Basic(const std::string& user_pass) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < user_pass.size(); i += 3) {
    unsigned n = (unsigned char)user_pass[i] << 16 | (unsigned char)user_pass[i + 1] << 8 |
                 (unsigned char)user_pass[i + 2];
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(n >> s) & 63];
  }
  if (i + 1 == user_pass.size()) {
    unsigned n = (unsigned char)user_pass[i] << 16;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == user_pass.size()) {
    unsigned n = (unsigned char)user_pass[i] << 16 | (unsigned char)user_pass[i + 1] << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += "=";
  }
  return "Basic " + out;
}

TEST_CASE("--web.config.file is a flag, empty by default", "[web_config][flags]") {
  std::vector<const char*> none = {"mxtls_exporter"};
  Result<Flags> d = ParseFlags(static_cast<int>(none.size()), none.data());
  REQUIRE(d.ok());
  CHECK(d->web_config_file.empty());
  std::vector<const char*> args = {"mxtls_exporter", "--web.config.file=/etc/web.yml"};
  Result<Flags> f = ParseFlags(static_cast<int>(args.size()), args.data());
  REQUIRE(f.ok());
  CHECK(f->web_config_file == "/etc/web.yml");
  std::vector<const char*> bare = {"mxtls_exporter", "--web.config.file"};
  CHECK_FALSE(ParseFlags(static_cast<int>(bare.size()), bare.data()).ok());
}

TEST_CASE("a full exporter-toolkit web config is parsed", "[web_config]") {
  std::string hash = Hash("secret", 4);
  Result<WebConfig> r = ParseWebConfig(R"(
tls_server_config:
  cert_file: server.crt
  key_file: /abs/server.key
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: ca.crt
  client_allowed_sans: [prometheus.example, 10.0.0.1]
  min_version: TLS13
  max_version: TLS13
  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]
  curve_preferences: [X25519, CurveP256]
  prefer_server_cipher_suites: true
http_server_config:
  http2: false
  headers:
    X-Frame-Options: deny
    Strict-Transport-Security: max-age=31536000
basic_auth_users:
  prometheus: ')" + hash + "'\n",
                                       "/etc/mx/web.yml");
  REQUIRE(r.ok());
  const WebConfig& c = r.value();
  CHECK(c.tls_enabled);
  CHECK(c.tls.cert_file == "/etc/mx/server.crt");  // relative to the file, as in the toolkit
  CHECK(c.tls.key_file == "/abs/server.key");
  CHECK(c.tls.client_ca_file == "/etc/mx/ca.crt");
  CHECK(c.tls.client_auth_type == ClientAuthType::kRequireAndVerifyClientCert);
  CHECK(c.tls.client_allowed_sans == std::vector<std::string>{"prometheus.example", "10.0.0.1"});
  CHECK(c.tls.min_version == 0x0304);
  CHECK(c.tls.cipher_suites == std::vector<std::string>{"ECDHE-RSA-AES128-GCM-SHA256"});
  CHECK(c.tls.curve_preferences == std::vector<std::string>{"X25519", "P-256"});
  CHECK(c.headers.size() == 2);
  CHECK(c.basic_auth_users.at("prometheus") == hash);
}

TEST_CASE("an empty web config and the defaults", "[web_config]") {
  Result<WebConfig> empty = ParseWebConfig("", "w.yml");
  REQUIRE(empty.ok());
  CHECK_FALSE(empty->tls_enabled);
  Result<WebConfig> tls = ParseWebConfig("tls_server_config:\n  cert_file: a\n  key_file: b\n", "w.yml");
  REQUIRE(tls.ok());
  CHECK(tls->tls.min_version == 0x0303);  // TLS12 by default
  CHECK(tls->tls.max_version == 0);
  CHECK(tls->tls.client_auth_type == ClientAuthType::kNoClientCert);
}

TEST_CASE("bad web configs are refused naming the file and the field", "[web_config]") {
  CHECK(ParseError("tls_server_configg: {}\n") ==
        "web config /etc/web.yml: tls_server_configg: unknown field");
  CHECK(ParseError("tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS14\n") ==
        "web config /etc/web.yml: tls_server_config.min_version: unknown TLS version \"TLS14\" "
        "(TLS10, TLS11, TLS12 or TLS13)");
  CHECK(ParseError("tls_server_config:\n  cert_file: a\n") ==
        "web config /etc/web.yml: tls_server_config.key_file: is required");
  CHECK(ParseError("tls_server_config:\n  cert_file: a\n  key_file: b\n  keyfile: c\n") ==
        "web config /etc/web.yml: tls_server_config.keyfile: unknown field");
  CHECK(ParseError("tls_server_config:\n  cert: PEM\n  key_file: b\n") ==
        "web config /etc/web.yml: tls_server_config.cert: inline PEM is not supported, use the "
        "_file field");
  CHECK(ParseError("tls_server_config:\n  cert_file: a\n  key_file: b\n"
                   "  client_auth_type: RequireAndVerifyClientCert\n") ==
        "web config /etc/web.yml: tls_server_config.client_ca_file: is required to verify "
        "client certificates");
  CHECK(ParseError("tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: Maybe\n") ==
        "web config /etc/web.yml: tls_server_config.client_auth_type: unknown client_auth_type "
        "\"Maybe\"");
  CHECK(ParseError("tls_server_config:\n  cert_file: a\n  key_file: b\n"
                   "  cipher_suites: [TLS_AES_128_GCM_SHA256]\n") ==
        "web config /etc/web.yml: tls_server_config.cipher_suites: unsupported cipher suite "
        "\"TLS_AES_128_GCM_SHA256\" (Go names of TLS 1.2 suites; TLS 1.3 suites are fixed)");
  CHECK(ParseError("tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS13\n"
                   "  max_version: TLS12\n") ==
        "web config /etc/web.yml: tls_server_config.max_version: is lower than min_version");
  CHECK(ParseError("tls_server_config:\n  cert_file: a\n  key_file: b\n"
                   "  client_allowed_sans: [x]\n") ==
        "web config /etc/web.yml: tls_server_config.client_allowed_sans: needs client_auth_type "
        "RequireAndVerifyClientCert");
  CHECK(ParseError("http_server_config:\n  headers:\n    Authorization: x\n") ==
        "web config /etc/web.yml: http_server_config.headers.Authorization: HTTP header "
        "\"Authorization\" can not be configured");
  CHECK(ParseError("http_server_config:\n  headers:\n    X-Content-Type-Options: sniff\n") ==
        "web config /etc/web.yml: http_server_config.headers.X-Content-Type-Options: invalid "
        "value \"sniff\" for header \"X-Content-Type-Options\"");
  CHECK(ParseError("http_server_config:\n  http3: true\n") ==
        "web config /etc/web.yml: http_server_config.http3: unknown field");
  CHECK(ParseError("basic_auth_users:\n  prom: plaintext\n") ==
        "web config /etc/web.yml: basic_auth_users.prom: must be a bcrypt hash ($2y$, $2a$ or "
        "$2b$, 60 characters)");
  CHECK(ParseError("basic_auth_users: [a]\n") ==
        "web config /etc/web.yml: basic_auth_users: must be a mapping");
  CHECK(ParseError("tls_server_config: [\n").rfind("web config /etc/web.yml: ", 0) == 0);
}

TEST_CASE("basic auth: right, wrong and missing credentials", "[web_config][basic_auth]") {
  BasicAuth auth({{"prom", Hash("s3cret:with colon", 4)}});
  CHECK(auth.Check(Basic("prom:s3cret:with colon")) == BasicAuth::Verdict::kAllowed);
  CHECK(auth.Check(Basic("prom:s3cret")) == BasicAuth::Verdict::kDenied);
  CHECK(auth.Check(Basic("other:s3cret:with colon")) == BasicAuth::Verdict::kDenied);
  CHECK(auth.Check("") == BasicAuth::Verdict::kMissing);
  CHECK(auth.Check("Bearer abc") == BasicAuth::Verdict::kDenied);
  CHECK(auth.Check("Basic !!!!") == BasicAuth::Verdict::kDenied);
  CHECK(auth.Check("basic " + Basic("prom:s3cret:with colon").substr(6)) ==
        BasicAuth::Verdict::kAllowed);
  CHECK(BasicAuth({}).Check("") == BasicAuth::Verdict::kAllowed);
}

TEST_CASE("basic auth caches verdicts: repeated checks cost no bcrypt", "[web_config][basic_auth]") {
  BasicAuth auth({{"prom", Hash("secret", 4)}});
  for (int i = 0; i < 1000; ++i) REQUIRE(auth.Check(Basic("prom:secret")) == BasicAuth::Verdict::kAllowed);
  for (int i = 0; i < 1000; ++i) REQUIRE(auth.Check(Basic("prom:wrong")) == BasicAuth::Verdict::kDenied);
  CHECK(auth.bcrypt_runs() == 2);
}

TEST_CASE("basic auth rate-limits bcrypt runs for unknown credentials", "[web_config][basic_auth]") {
  BasicAuth::Options o;
  o.bcrypt_runs_per_second = 0.001;
  o.bcrypt_burst = 3;
  BasicAuth auth({{"prom", Hash("secret", 4)}}, o);
  int limited = 0;
  for (int i = 0; i < 50; ++i) {
    if (auth.Check(Basic("prom:guess" + std::to_string(i))) == BasicAuth::Verdict::kRateLimited) {
      ++limited;
    }
  }
  CHECK(auth.bcrypt_runs() == 3);
  CHECK(limited == 47);
}

TEST_CASE("bcrypt at cost 10: uncached and cached cost per request", "[web_config][basic_auth][.bench]") {
  BasicAuth auth({{"prom", Hash("secret", 10)}});
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(auth.Check(Basic("prom:secret")) == BasicAuth::Verdict::kAllowed);
  auto t1 = std::chrono::steady_clock::now();
  for (int i = 0; i < 10000; ++i) auth.Check(Basic("prom:secret"));
  auto t2 = std::chrono::steady_clock::now();
  using Ms = std::chrono::duration<double, std::milli>;
  using Us = std::chrono::duration<double, std::micro>;
  double uncached_ms = Ms(t1 - t0).count();
  double cached_us = Us(t2 - t1).count() / 10000;
  WARN("uncached: " << uncached_ms << " ms; cached: " << cached_us << " us per check");
}

}  // namespace
}  // namespace mxtls
