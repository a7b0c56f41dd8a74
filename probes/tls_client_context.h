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

// Makes `capture` the destination of the chain `ssl` receives.
void AttachChainCapture(SSL* ssl, ChainCapture* capture);

}  // namespace mxtls
