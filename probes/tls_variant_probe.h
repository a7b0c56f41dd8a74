// The extra, short SMTP/STARTTLS sessions an endpoint probe may open besides its main one:
// for the TLS versions the server accepts, and for the key type the main session did not show
// (which certificates it holds, when it serves an RSA and an ECDSA one by the client's
// signature algorithms). Each is a RunSmtpTlsSession with its own SessionOptions, ending with
// QUIT and close_notify (one segment) right after the handshake. What the main session
// already shows is taken from it, not asked again.
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
// The version sessions' contexts.
struct TlsVersionContexts {
  // TLSv1, TLSv1.1, TLSv1.2, TLSv1.3 in that order, each offering exactly that version.
  std::vector<VersionContext> exact;
  // Offers TLS 1.0 and 1.1 together (one session answers for both versions as long as the
  // server refuses them, which is the common case); null when either is not offerable.
  SslCtxPtr legacy_range;
};

// Makes the dedicated contexts (MakeVersionSslContext). Never fails as a whole: a version
// this OpenSSL cannot offer keeps a null ctx and the reason. Make them once (they cost a
// cipher-list parse each) and share them: they are only read afterwards, from any thread.
TlsVersionContexts MakeTlsVersionContexts();

// Finds out which of TLS 1.0, 1.1 and 1.2 the endpoint accepts, with as few sessions as the
// answers allow, and leaves TLS 1.3 to the main session (JudgeTls13FromMainSession):
//   - one session offering exactly TLS 1.2 (a 1.3-only server refuses it);
//   - at the same time, one session offering TLS 1.0 and 1.1 together. A server picks the
//     highest version both sides offer, so: refused -> both refused; TLSv1 chosen -> 1.0
//     accepted and 1.1 refused; TLSv1.1 chosen -> 1.1 accepted, and only then a session
//     offering exactly TLS 1.0 follows.
// The main session offers every version and the server picks its highest, so the version it
// negotiated says whether TLS 1.3 is accepted; a session of its own for 1.3 would repeat the
// main session's handshake. The two first sessions run at once: one after the other, behind a
// postscreen-style greeting delay (6 s is common) they could outlast a scrape. Together with
// the main and no-SNI sessions an endpoint sees at most four connections at once, once per
// check interval, far below the per-client limits of Postfix
// (smtpd_client_connection_count_limit, postscreen: 50) and Exim. Each phase is bounded by
// spec.timeouts and spec.deadline. A version whose context is null is kClientUnsupported
// without any connection (without legacy_range, 1.0 and 1.1 get a session each). The report
// lists TLSv1, TLSv1.1, TLSv1.2, TLSv1.3 in that order, TLSv1.3 kNotChecked. `contexts` must
// outlive the coroutine. TlsVersionsReport::sessions counts the connections attempted.
asio::awaitable<TlsVersionsReport> ProbeTlsVersions(EndpointSpec spec,
                                                    const TlsVersionContexts* contexts,
                                                    std::shared_ptr<ProbeLog> log);

// Fills the TLSv1.3 entry of `versions` from the endpoint's main session (pure), which
// offered TLS 1.0 to 1.3:
//   handshake completed at TLSv1.3                  -> kAccepted
//   handshake completed at a lower version          -> kRefused (the server picked lower)
//   handshake refused (alert, close)                -> kRefused
//   no handshake, or a timeout in it                -> kFailed (no verdict)
void JudgeTls13FromMainSession(TlsVersionsReport& versions, const EndpointReport& main);

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

// "rsa" (RSA and RSA-PSS keys) or "ecdsa" for the key of the chain's leaf, "" for another key
// type or no chain (pure).
std::string KeyTypeOfLeaf(const std::vector<X509Ptr>* chain);

// Runs one session that offers only `key_type`'s ("rsa" or "ecdsa") signature algorithms and
// certificate-type ciphers, from `ctx` (the probe's shared context: every version, level 0),
// with SNI = spec.sni. `ctx` must outlive the coroutine. The engine runs it only for the key
// type the main session did not show: the main session offers both families, so the server's
// choice there is the certificate it would show a session offering only that family.
asio::awaitable<KeyTypeProbeResult> ProbeKeyType(EndpointSpec spec, std::string key_type,
                                                 SSL_CTX* ctx, std::shared_ptr<ProbeLog> log);

}  // namespace mxtls
