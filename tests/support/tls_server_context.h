// The server side of TLS for the loopback fixture servers (SmtpFixtureServer,
// HttpsFixtureServer): building an SSL_CTX that presents exactly a configured chain, switching
// an SSL to another context by the SNI name a client sent, and the small helpers around them.
#pragma once

#include <openssl/ssl.h>

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/openssl_util.h"

namespace mxtls::testing {

// Lower case, without a trailing dot: the form SNI names are compared in.
std::string NormalizeName(std::string name);

// The peer of connected socket `fd` as "127.0.0.1:port" or "[::1]:port"; "" if unknown.
std::string PeerName(int fd);

// The private key in `pem`, or nullptr when there is none.
EvpPkeyPtr ParsePrivateKey(const std::string& pem);

// How a fixture's contexts differ; the defaults suit a plain HTTPS server.
struct ServerTlsSettings {
  std::optional<std::string> cipher_list;  // TLS <= 1.2 cipher list; unset keeps the default
  int min_version = 0;                     // TLS1_VERSION ... TLS1_3_VERSION; 0 = no limit
  int max_version = 0;
  // Set on the context when not null, with `servername_arg`. Every context of a fixture needs
  // it: OpenSSL asks the context the SSL was created from.
  int (*servername_callback)(SSL* ssl, int* alert, void* arg) = nullptr;
  void* servername_arg = nullptr;
};

// A server context presenting `chain_pem` (PEM certificates; the one matching `key_pem` is the
// leaf, the others follow in the order given) at security level 0, never completing the chain
// from a store and never resuming a session, so every handshake shows the full certificate
// exchange. Throws std::runtime_error("<who>: ...") with OpenSSL's errors on a setup error.
SslCtxPtr BuildServerContext(const std::string& chain_pem, const std::string& key_pem,
                             const ServerTlsSettings& settings, std::string_view who);

// Adds one more certificate (leaf and key, chain after it as in BuildServerContext) to `ctx`.
// OpenSSL keeps one certificate per key type: a second one of another type (an ECDSA leaf
// beside an RSA one) is served to clients whose signature algorithms (and, below TLS 1.3,
// cipher suites) call for it; one of the same type replaces the first. Throws like
// BuildServerContext.
void AddServerCertificate(SSL_CTX* ctx, const std::string& chain_pem, const std::string& key_pem,
                          std::string_view who);

// For a servername callback: switches `ssl` to the first of `contexts` whose names include
// `sni` (normalized); otherwise the context `ssl` was created from stays. `Context` is a
// fixture's {std::vector<std::string> names (normalized); SslCtxPtr ctx;}; `contexts` must
// outlive the SSL.
template <typename Context>
void SwitchContextForName(SSL* ssl, std::string_view sni, const std::vector<Context>& contexts) {
  const std::string wanted = NormalizeName(std::string(sni));
  for (const Context& context : contexts) {
    if (std::find(context.names.begin(), context.names.end(), wanted) != context.names.end()) {
      SSL_set_SSL_CTX(ssl, context.ctx.get());
      return;
    }
  }
}

}  // namespace mxtls::testing
