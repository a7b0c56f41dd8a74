// The engine's client TLS context for tests that run sessions directly (RunSmtpTlsSession,
// ProbeKeyType) instead of through the engine.
#pragma once

#include <openssl/ssl.h>

namespace mxtls::testing {

// MakeProbeSslContext's context, made once per test binary and kept until it exits (like the
// engine's, it is only read after creation, so sessions on any thread may share it). Fails the
// calling test when it cannot be made.
SSL_CTX* SharedProbeSslContext();

}  // namespace mxtls::testing
