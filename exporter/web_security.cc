#include "exporter/web_security.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/log.h"

namespace mxtls {
namespace {

std::string OpenSslError() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  return buf;
}

// RequestClientCert and RequireAnyClientCert ask for a certificate but do not verify it.
int AcceptAnyCertificate(int, X509_STORE_CTX*) { return 1; }

}  // namespace

Result<std::shared_ptr<SSL_CTX>> BuildServerTlsContext(const WebTlsConfig& tls,
                                                       const std::string& file_name) {
  auto fail = [&](const std::string& field, const std::string& what) {
    return Status::Error("bad_web_config",
                         "web config " + file_name + ": tls_server_config." + field + ": " + what);
  };
  std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
  if (!ctx) return fail("cert_file", "cannot create a TLS context: " + OpenSslError());
  SSL_CTX_set_min_proto_version(ctx.get(), tls.min_version);
  SSL_CTX_set_max_proto_version(ctx.get(), tls.max_version);
  // TLS 1.0 and 1.1 need OpenSSL 3's security level 0 (SHA-1 in the handshake); an operator
  // who asked for them gets them, as with Go.
  if (tls.min_version < 0x0303) SSL_CTX_set_security_level(ctx.get(), 0);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Keep-alive connections wait idle in their thousands: free their record buffers meanwhile.
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), tls.cert_file.c_str()) != 1) {
    return fail("cert_file", tls.cert_file + ": " + OpenSslError());
  }
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), tls.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return fail("key_file", tls.key_file + ": " + OpenSslError());
  }
  if (SSL_CTX_check_private_key(ctx.get()) != 1) {
    return fail("key_file", "does not match cert_file: " + OpenSslError());
  }
  if (!tls.cipher_suites.empty()) {
    std::string list;
    for (const auto& c : tls.cipher_suites) list += (list.empty() ? "" : ":") + c;
    if (SSL_CTX_set_cipher_list(ctx.get(), list.c_str()) != 1) {
      return fail("cipher_suites", OpenSslError());
    }
  }
  if (!tls.curve_preferences.empty()) {
    std::string list;
    for (const auto& c : tls.curve_preferences) list += (list.empty() ? "" : ":") + c;
    if (SSL_CTX_set1_groups_list(ctx.get(), list.c_str()) != 1) {
      return fail("curve_preferences", OpenSslError());
    }
  }
  static const unsigned char kSessionContext[] = "mxtls_exporter";
  SSL_CTX_set_session_id_context(ctx.get(), kSessionContext, sizeof(kSessionContext) - 1);
  switch (tls.client_auth_type) {
    case ClientAuthType::kNoClientCert:
      SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
      break;
    case ClientAuthType::kRequestClientCert:
      SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, AcceptAnyCertificate);
      break;
    case ClientAuthType::kRequireAnyClientCert:
      SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                         AcceptAnyCertificate);
      break;
    case ClientAuthType::kVerifyClientCertIfGiven:
      SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
      break;
    case ClientAuthType::kRequireAndVerifyClientCert:
      SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
      break;
  }
  if (!tls.client_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx.get(), tls.client_ca_file.c_str(), nullptr) != 1) {
      return fail("client_ca_file", tls.client_ca_file + ": " + OpenSslError());
    }
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(tls.client_ca_file.c_str());
    if (names == nullptr) return fail("client_ca_file", tls.client_ca_file + ": no certificates");
    SSL_CTX_set_client_CA_list(ctx.get(), names);
  }
  return ctx;
}

bool ClientCertificateAllowed(SSL* ssl, const std::vector<std::string>& allowed) {
  if (allowed.empty()) return true;
  X509Ptr cert(SSL_get1_peer_certificate(ssl));
  if (!cert || SSL_get_verify_result(ssl) != X509_V_OK) return false;
  auto* sans = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr));
  if (sans == nullptr) return false;
  bool found = false;
  for (int i = 0; i < sk_GENERAL_NAME_num(sans) && !found; ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans, i);
    std::string value;
    if (name->type == GEN_DNS || name->type == GEN_EMAIL || name->type == GEN_URI) {
      const ASN1_IA5STRING* s = name->d.ia5;
      value.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                   static_cast<size_t>(ASN1_STRING_length(s)));
    } else if (name->type == GEN_IPADD) {
      char buf[INET6_ADDRSTRLEN] = {};
      int len = ASN1_STRING_length(name->d.ip);
      const unsigned char* p = ASN1_STRING_get0_data(name->d.ip);
      if (len == 4) inet_ntop(AF_INET, p, buf, sizeof(buf));
      if (len == 16) inet_ntop(AF_INET6, p, buf, sizeof(buf));
      value = buf;
    }
    for (const auto& a : allowed) found = found || (!value.empty() && a == value);
  }
  GENERAL_NAMES_free(sans);
  return found;
}

WebSecurity::WebSecurity(std::string path) : path_(std::move(path)) {
  auto open = std::make_shared<WebSecuritySnapshot>();
  open->auth = std::make_shared<BasicAuth>(std::map<std::string, std::string>{});
  current_ = std::move(open);
}

WebSecurity::FileStamp WebSecurity::Stamp(const std::string& path) {
  FileStamp s;
  s.path = path;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    s.mtime_sec = st.st_mtim.tv_sec;
    s.mtime_nsec = st.st_mtim.tv_nsec;
    s.size = st.st_size;
  }
  return s;
}

std::vector<WebSecurity::FileStamp> WebSecurity::Stamps(const WebConfig* cfg) const {
  std::vector<FileStamp> out{Stamp(path_)};
  if (cfg != nullptr && cfg->tls_enabled) {
    out.push_back(Stamp(cfg->tls.cert_file));
    out.push_back(Stamp(cfg->tls.key_file));
    if (!cfg->tls.client_ca_file.empty()) out.push_back(Stamp(cfg->tls.client_ca_file));
  }
  return out;
}

Status WebSecurity::Load() { return Reload(true); }

Status WebSecurity::Reload(bool force) {
  if (path_.empty()) return Status();
  std::lock_guard<std::mutex> lock(mu_);
  last_check_ = std::chrono::steady_clock::now();
  if (!force && !stamps_.empty() && Stamps(&current_->config) == stamps_) return Status();
  // Stamped before reading: a file replaced while it is read is read again next time.
  std::vector<FileStamp> before = Stamps(nullptr);
  Result<WebConfig> cfg = LoadWebConfigFile(path_);
  Status error;
  auto snap = std::make_shared<WebSecuritySnapshot>();
  if (!cfg.ok()) {
    error = cfg.status();
  } else {
    snap->config = cfg.value();
    if (snap->config.tls_enabled) {
      auto ctx = BuildServerTlsContext(snap->config.tls, path_);
      if (ctx.ok()) {
        snap->tls = ctx.value();
      } else {
        error = ctx.status();
      }
    }
  }
  if (!error.ok()) {
    // Remember what failed, so that the same bad file is not re-read (and logged) on every
    // connection; a further change is read again.
    stamps_ = Stamps(&current_->config);
    stamps_[0] = before[0];
    log::Error("web config not loaded, the previous one stays in use",
               {{"file", path_}, {"error", error.message()}});
    return error;
  }
  // Unchanged users keep their cache of verified credentials.
  if (current_->auth && current_->config.basic_auth_users == snap->config.basic_auth_users) {
    snap->auth = current_->auth;
  } else {
    snap->auth = std::make_shared<BasicAuth>(snap->config.basic_auth_users);
  }
  stamps_ = Stamps(&snap->config);
  stamps_[0] = before[0];
  log::Info("web config loaded", {{"file", path_},
                                  {"tls", snap->tls ? "true" : "false"},
                                  {"basic_auth_users",
                                   std::to_string(snap->config.basic_auth_users.size())}});
  current_ = std::move(snap);
  return Status();
}

std::shared_ptr<const WebSecuritySnapshot> WebSecurity::Current() {
  if (!path_.empty()) {
    bool due;
    {
      std::lock_guard<std::mutex> lock(mu_);
      due = std::chrono::steady_clock::now() - last_check_ >= std::chrono::seconds(1);
    }
    if (due) Reload(false);
  }
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

}  // namespace mxtls
