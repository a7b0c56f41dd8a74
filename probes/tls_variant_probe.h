// The extra, short SMTP/STARTTLS sessions an endpoint probe may open besides its main one:
// one per TLS version (which versions the server accepts) and one per key type (which
// certificates it holds, when it serves an RSA and an ECDSA one by the client's signature
// algorithms). Each is a RunSmtpTlsSession with its own SessionOptions, ending with
// close_notify right after the handshake.
#pragma once

#include <openssl/ssl.h>

#include <asio/awaitable.hpp>
#include <memory>
#include <string>
#include <vector>

#include "common/openssl_util.h"
#include "probes/judgement/domain_report.h"
#include "probes/judgement/probe_log.h"
#include "probes/smtp_tls_session.h"

namespace mxtls {

// The client context of one version session.
struct VersionContext {
  std::string name;  // "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"
  int version = 0;   // TLS1_VERSION ...
  SslCtxPtr ctx;     // null when this OpenSSL cannot offer the version
  std::string unsupported;  // why ctx is null
};
// TLSv1, TLSv1.1, TLSv1.2, TLSv1.3 in that order.
using TlsVersionContexts = std::vector<VersionContext>;

// Makes the four dedicated contexts (MakeVersionSslContext). Never fails as a whole: a version
// this OpenSSL cannot offer keeps a null ctx and the reason. Make them once (they cost a
// cipher-list parse each) and share them: they are only read afterwards, from any thread.
TlsVersionContexts MakeTlsVersionContexts();

// Runs one session per version, all at once, each offering exactly that version, and reports
// every version in the order of `contexts`. Concurrent on purpose: run one after another, four
// sessions behind a postscreen-style greeting delay (6 s is common) would outlast a scrape;
// together with the main, no-SNI and key-type sessions an endpoint sees at most eight
// connections at once, once per check interval, far below the per-client limits of Postfix
// (smtpd_client_connection_count_limit, postscreen: 50) and Exim. Each phase is bounded by
// spec.timeouts and spec.deadline. A version whose context is null is kClientUnsupported
// without any connection. `contexts` must outlive the coroutine. TlsVersionsReport::sessions
// counts the connections attempted.
asio::awaitable<TlsVersionsReport> ProbeTlsVersions(EndpointSpec spec,
                                                    const TlsVersionContexts* contexts,
                                                    std::shared_ptr<ProbeLog> log);

// The verdict on one version from its session (pure):
//   handshake completed                         -> kAccepted
//   our OpenSSL could not offer it              -> kClientUnsupported
//   handshake failed: alert, close, a lower
//     version answered, no common cipher        -> kRefused
//   timeout in the handshake, non-TLS bytes,
//     or no handshake (connect, greeting, EHLO,
//     STARTTLS failed)                           -> kFailed (no verdict)
VersionSupport JudgeVersionSession(const std::string& version, const SessionOutcome& session);

// The signature algorithms and TLS <= 1.2 cipher lists a key-type session offers. RSA covers
// PKCS#1 (TLS 1.2) and RSA-PSS with rsaEncryption keys (rsa_pss_rsae_*, which TLS 1.3 needs)
// and with RSA-PSS keys; ECDSA covers the three curves' TLS 1.3 schemes (which are the
// ECDSA+SHA-2 pairs of TLS 1.2). SHA-1 is offered too, so that old servers still answer.
inline constexpr const char* kRsaSigalgs =
    "RSA+SHA256:RSA+SHA384:RSA+SHA512:rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:"
    "rsa_pss_rsae_sha512:rsa_pss_pss_sha256:rsa_pss_pss_sha384:rsa_pss_pss_sha512:RSA+SHA1";
inline constexpr const char* kEcdsaSigalgs =
    "ECDSA+SHA256:ECDSA+SHA384:ECDSA+SHA512:ECDSA+SHA1";

// One key-type session's result.
struct KeyTypeProbeResult {
  KeyTypeSession session;  // key_type, handshake_ok, failure_reason ("handshake" when the
                           // server holds no certificate of that type)
  std::shared_ptr<const std::vector<X509Ptr>> chain;  // leaf first; null when none was seen
  bool session_opened = false;  // a connection was attempted
};

// Runs one session that offers only `key_type`'s ("rsa" or "ecdsa") signature algorithms and
// certificate-type ciphers, from `ctx` (the probe's shared context: every version, level 0),
// with SNI = spec.sni. `ctx` must outlive the coroutine.
asio::awaitable<KeyTypeProbeResult> ProbeKeyType(EndpointSpec spec, std::string key_type,
                                                 SSL_CTX* ctx, std::shared_ptr<ProbeLog> log);

}  // namespace mxtls
