#include "tests/support/probe_client_context.h"

#include <catch2/catch.hpp>

#include "common/openssl_util.h"
#include "probes/tls_client_context.h"

namespace mxtls::testing {

SSL_CTX* SharedProbeSslContext() {
  // A function-local static: made on first use, inside a test, where REQUIRE can report.
  static const SslCtxPtr ctx = [] {
    Result<SslCtxPtr> made = MakeProbeSslContext();
    REQUIRE(made.ok());
    return std::move(made).value();
  }();
  return ctx.get();
}

}  // namespace mxtls::testing
