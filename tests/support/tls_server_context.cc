#include "tests/support/tls_server_context.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <sys/socket.h>

#include <cctype>
#include <stdexcept>
#include <utility>

namespace mxtls::testing {
namespace {

[[noreturn]] void Fail(std::string_view who, const std::string& what) {
  std::string ssl_errors = DrainOpenSslErrors();
  throw std::runtime_error(std::string(who) + ": " + what +
                           (ssl_errors.empty() ? "" : ": " + ssl_errors));
}

}  // namespace

std::string NormalizeName(std::string name) {
  if (!name.empty() && name.back() == '.') name.pop_back();
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

std::string PeerName(int fd) {
  sockaddr_storage addr;
  socklen_t len = sizeof(addr);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return "";
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &v4->sin_addr, text, sizeof(text));
    return std::string(text) + ":" + std::to_string(ntohs(v4->sin_port));
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof(text));
  return "[" + std::string(text) + "]:" + std::to_string(ntohs(v6->sin6_port));
}

EvpPkeyPtr ParsePrivateKey(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return nullptr;
  return EvpPkeyPtr(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

void AddServerCertificate(SSL_CTX* ctx, const std::string& chain_pem, const std::string& key_pem,
                          std::string_view who) {
  EvpPkeyPtr key = ParsePrivateKey(key_pem);
  if (!key) Fail(who, "unreadable key_pem");
  std::vector<X509Ptr> certs = ParsePemCertificates(chain_pem);
  if (certs.empty()) Fail(who, "no certificate in chain_pem");
  auto leaf = std::find_if(certs.begin(), certs.end(), [&](const X509Ptr& cert) {
    return X509_check_private_key(cert.get(), key.get()) == 1;
  });
  ERR_clear_error();  // each mismatch above queued an error
  if (leaf == certs.end()) Fail(who, "no certificate in chain_pem matches key_pem");
  if (SSL_CTX_use_certificate(ctx, leaf->get()) != 1 ||
      SSL_CTX_use_PrivateKey(ctx, key.get()) != 1) {
    Fail(who, "loading the certificate and key");
  }
  for (auto it = certs.begin(); it != certs.end(); ++it) {
    if (it != leaf && SSL_CTX_add1_chain_cert(ctx, it->get()) != 1) {
      Fail(who, "adding a chain certificate");
    }
  }
}

SslCtxPtr BuildServerContext(const std::string& chain_pem, const std::string& key_pem,
                             const ServerTlsSettings& settings, std::string_view who) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) Fail(who, "SSL_CTX_new");
  // Level 0 lets legacy versions, weak keys and SHA-1 signatures through: the server presents
  // whatever the test configured. It goes first: a cipher list with its own @SECLEVEL may
  // still raise it.
  SSL_CTX_set_security_level(ctx.get(), 0);
  if (settings.cipher_list &&
      SSL_CTX_set_cipher_list(ctx.get(), settings.cipher_list->c_str()) != 1) {
    Fail(who, "cipher list \"" + *settings.cipher_list + "\"");
  }
  if (settings.min_version != 0 &&
      SSL_CTX_set_min_proto_version(ctx.get(), settings.min_version) != 1) {
    Fail(who, "tls_min_version " + std::to_string(settings.min_version));
  }
  if (settings.max_version != 0 &&
      SSL_CTX_set_max_proto_version(ctx.get(), settings.max_version) != 1) {
    Fail(who, "tls_max_version " + std::to_string(settings.max_version));
  }
  // Send exactly the configured chain: never complete it from a store.
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_NO_AUTO_CHAIN);
  // No resumption, so every connection shows the full certificate exchange.
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_TICKET);
  SSL_CTX_set_num_tickets(ctx.get(), 0);

  AddServerCertificate(ctx.get(), chain_pem, key_pem, who);
  if (settings.servername_callback != nullptr) {
    SSL_CTX_set_tlsext_servername_callback(ctx.get(), settings.servername_callback);
    SSL_CTX_set_tlsext_servername_arg(ctx.get(), settings.servername_arg);
  }
  return ctx;
}

}  // namespace mxtls::testing
