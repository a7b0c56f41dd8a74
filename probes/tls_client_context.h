// The client-side TLS setup a probe uses: an SSL_CTX that completes handshakes whatever the
// certificate (so bad certificates are captured and reported, not refused), accepts legacy
// protocol versions and weak keys as facts to report, never resumes sessions, and records the
// chain the server presented, during the handshake, for later judgement.
#pragma once

#include <openssl/ssl.h>

#include <vector>

#include "common/openssl_util.h"
#include "common/status.h"

namespace mxtls {

// What the verify callback saw during one handshake. Attach one to each SSL with
// AttachChainCapture before the handshake; it must outlive the SSL's handshake.
struct ChainCapture {
  std::vector<X509Ptr> presented;  // leaf first, exactly as sent
};

// Builds the shared client context. Thread-safe to use from many sessions at once after
// creation (it is never modified afterwards).
Result<SslCtxPtr> MakeProbeSslContext();

// A dedicated context offering exactly one protocol version (`version`: TLS1_VERSION ...
// TLS1_3_VERSION, min = max) at security level 0 with every cipher ("ALL:@SECLEVEL=0"), and
// otherwise like MakeProbeSslContext (chain capture, no resumption, legacy renegotiation).
// Legacy versions need their own context: at the default level OpenSSL refuses their
// signature algorithms, and a shared context cannot pin one version per session. Reason
// "client_unsupported" when this OpenSSL cannot offer that version at all (built without
// it, or no cipher left for it); "tls_setup" for other errors. Thread-safe to use like the
// shared context.
Result<SslCtxPtr> MakeVersionSslContext(int version);

// Like MakeVersionSslContext, for the versions [min_version, max_version] together.
Result<SslCtxPtr> MakeVersionRangeSslContext(int min_version, int max_version);

// How many ciphers a ClientHello from `ssl` would carry, given its version range, security
// level, cipher list and signature algorithms. 0: OpenSSL would refuse to start the handshake
// ("no protocols/ciphers available") before sending anything.
int OfferableCipherCount(SSL* ssl);

// Makes `capture` the destination of the chain `ssl` receives.
void AttachChainCapture(SSL* ssl, ChainCapture* capture);

}  // namespace mxtls
