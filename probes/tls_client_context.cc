#include "probes/tls_client_context.h"

#include <openssl/err.h>

#include <mutex>

namespace mxtls {
namespace {

int CaptureIndex() {
  static int index = [] { return SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr); }();
  return index;
}

// Replaces OpenSSL's verification during the handshake: record the chain as presented and
// accept it. The chain is judged afterwards against the module's trust store, so a bad
// certificate becomes a reported fact instead of an aborted handshake. Recording it here,
// rather than reading it after the handshake, keeps it even when the handshake fails later.
int CaptureChainCallback(X509_STORE_CTX* store_ctx, void* /*arg*/) {
  SSL* ssl = static_cast<SSL*>(
      X509_STORE_CTX_get_ex_data(store_ctx, SSL_get_ex_data_X509_STORE_CTX_idx()));
  if (ssl == nullptr) return 1;
  auto* capture = static_cast<ChainCapture*>(SSL_get_ex_data(ssl, CaptureIndex()));
  if (capture == nullptr) return 1;
  capture->presented.clear();
  STACK_OF(X509)* sent = X509_STORE_CTX_get0_untrusted(store_ctx);
  X509* leaf = X509_STORE_CTX_get0_cert(store_ctx);
  if (sent != nullptr && sk_X509_num(sent) > 0) {
    for (int i = 0; i < sk_X509_num(sent); ++i) {
      capture->presented.push_back(RetainX509(sk_X509_value(sent, i)));
    }
  } else if (leaf != nullptr) {
    capture->presented.push_back(RetainX509(leaf));
  }
  return 1;
}

// The context both factories share, for versions [min_version, max_version] (0: no limit).
Result<SslCtxPtr> MakeClientContext(int min_version, int max_version) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return Status::Error("tls_setup", "SSL_CTX_new: " + DrainOpenSslErrors());
  // Security level 0: a server stuck on TLS 1.1 or using a 1024-bit key must still be seen,
  // so that we can report it instead of failing blind. (Set before the cipher list, whose
  // @SECLEVEL says the same.)
  SSL_CTX_set_security_level(ctx.get(), 0);
  // A version this OpenSSL was built without is refused here.
  if (SSL_CTX_set_min_proto_version(ctx.get(), min_version) != 1 ||
      SSL_CTX_set_max_proto_version(ctx.get(), max_version) != 1) {
    return Status::Error("client_unsupported",
                         "protocol version not available: " + DrainOpenSslErrors());
  }
  if (SSL_CTX_set_cipher_list(ctx.get(), "ALL:@SECLEVEL=0") != 1) {
    return Status::Error("tls_setup", "cipher list: " + DrainOpenSslErrors());
  }
  // Servers without secure renegotiation are still reachable for MTAs.
  SSL_CTX_set_options(ctx.get(), SSL_OP_LEGACY_SERVER_CONNECT | SSL_OP_NO_TICKET |
                                     SSL_OP_NO_COMPRESSION);
  // A resumed session shows no fresh certificate: never cache or resume.
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  // A session spends nearly all its TLS time waiting for the server, with no record half
  // read or half written; OpenSSL would hold its read and write buffers (about 34 KiB)
  // through those waits. Released, they exist only while a record is in transit, which,
  // with a thousand sessions in flight, is what keeps the exporter's peak memory down.
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_cert_verify_callback(ctx.get(), CaptureChainCallback, nullptr);
  ERR_clear_error();
  return ctx;
}

}  // namespace

Result<SslCtxPtr> MakeProbeSslContext() {
  // Every version from TLS 1.0 up.
  return MakeClientContext(TLS1_VERSION, 0);
}

Result<SslCtxPtr> MakeVersionSslContext(int version) {
  return MakeVersionRangeSslContext(version, version);
}

Result<SslCtxPtr> MakeVersionRangeSslContext(int min_version, int max_version) {
  Result<SslCtxPtr> ctx = MakeClientContext(min_version, max_version);
  if (!ctx.ok()) return ctx;
  // Whether a ClientHello at this version would carry any cipher (at level 0 this fails only
  // for an OpenSSL built or configured without the version's ciphers).
  SslPtr probe(SSL_new(ctx->get()));
  if (!probe) return Status::Error("tls_setup", "SSL_new: " + DrainOpenSslErrors());
  if (OfferableCipherCount(probe.get()) == 0) {
    return Status::Error("client_unsupported",
                         "no cipher this OpenSSL can offer at protocol version " +
                             std::to_string(max_version >> 8) + "." +
                             std::to_string(max_version & 0xff));
  }
  return ctx;
}

int OfferableCipherCount(SSL* ssl) {
  STACK_OF(SSL_CIPHER)* offered = SSL_get1_supported_ciphers(ssl);
  int count = offered == nullptr ? 0 : sk_SSL_CIPHER_num(offered);
  sk_SSL_CIPHER_free(offered);
  ERR_clear_error();  // a failed lookup queues the reason; the count says it all
  return count;
}

void AttachChainCapture(SSL* ssl, ChainCapture* capture) {
  SSL_set_ex_data(ssl, CaptureIndex(), capture);
}

}  // namespace mxtls
