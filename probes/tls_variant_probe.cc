#include "probes/tls_variant_probe.h"

#include <chrono>
#include <utility>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <asio/co_spawn.hpp>
#include <asio/this_coro.hpp>

#include "probes/join.h"
#include "probes/tls_client_context.h"

namespace mxtls {
namespace {

struct VersionName {
  const char* name;
  int version;
};
constexpr VersionName kVersions[] = {{"TLSv1", TLS1_VERSION},
                                     {"TLSv1.1", TLS1_1_VERSION},
                                     {"TLSv1.2", TLS1_2_VERSION},
                                     {"TLSv1.3", TLS1_3_VERSION}};

std::string Detail(const EndpointReport& facts) {
  return facts.failure_stage + ": " + facts.failure_reason +
         (facts.failure_message.empty() ? "" : ": " + facts.failure_message);
}

}  // namespace

TlsVersionContexts MakeTlsVersionContexts() {
  TlsVersionContexts contexts;
  for (const VersionName& v : kVersions) {
    VersionContext c;
    c.name = v.name;
    c.version = v.version;
    Result<SslCtxPtr> ctx = MakeVersionSslContext(v.version);
    if (ctx.ok()) {
      c.ctx = std::move(ctx).value();
    } else {
      c.unsupported = ctx.status().message();
    }
    contexts.exact.push_back(std::move(c));
  }
  if (contexts.exact[0].ctx && contexts.exact[1].ctx) {
    Result<SslCtxPtr> range = MakeVersionRangeSslContext(TLS1_VERSION, TLS1_1_VERSION);
    if (range.ok()) contexts.legacy_range = std::move(range).value();
  }
  return contexts;
}

VersionSupport JudgeVersionSession(const std::string& version, const SessionOutcome& session) {
  VersionSupport v;
  v.version = version;
  const EndpointReport& facts = session.facts;
  if (session.client_unsupported) {
    v.outcome = VersionOutcome::kClientUnsupported;
    v.detail = "our OpenSSL cannot offer it: " + facts.failure_message;
  } else if (facts.handshake_ok.value_or(false)) {
    v.outcome = VersionOutcome::kAccepted;
    v.detail = "negotiated " + facts.tls_version + " " + facts.tls_cipher;
  } else if (facts.handshake_ok.has_value() && facts.failure_stage == "handshake" &&
             facts.failure_reason == "handshake") {
    // The server answered the ClientHello with an alert, a close, a ServerHello for another
    // version (OpenSSL aborts: min = max) or no common cipher: it does not accept this
    // version from us. A timeout is "timeout" and non-TLS bytes are stage "starttls".
    v.outcome = VersionOutcome::kRefused;
    v.detail = facts.failure_message;
  } else {
    v.outcome = VersionOutcome::kFailed;
    v.detail = Detail(facts);
  }
  return v;
}

namespace {

// One session at the version(s) `ctx` offers, labelled `label` in the log; counts the
// connection in `report`.
asio::awaitable<SessionOutcome> RunVersionSession(EndpointSpec spec, SSL_CTX* ctx,
                                                  std::string label,
                                                  std::shared_ptr<ProbeLog> log,
                                                  std::shared_ptr<TlsVersionsReport> report) {
  SessionOptions options;
  options.ctx = ctx;
  options.smtp_after_tls = false;
  options.label = label;
  SessionOutcome session = co_await RunSmtpTlsSession(spec, options, log);
  if (session.connect_attempted) ++report->sessions;
  co_return session;
}

// The version entries at `index` from one exact-version session (kClientUnsupported without
// a context).
asio::awaitable<void> ProbeExactVersion(EndpointSpec spec, const VersionContext* c,
                                        size_t index, std::shared_ptr<ProbeLog> log,
                                        std::shared_ptr<TlsVersionsReport> report) {
  if (!c->ctx) {
    VersionSupport& v = report->versions[index];
    v.outcome = VersionOutcome::kClientUnsupported;
    v.detail = "our OpenSSL cannot offer it: " + c->unsupported;
    co_return;
  }
  std::string label = c->name;
  SessionOutcome session = co_await RunVersionSession(spec, c->ctx.get(), label, log, report);
  report->versions[index] = JudgeVersionSession(c->name, session);
}

// TLS 1.0 and 1.1 (entries 0 and 1) from one session offering both, and a second one offering
// exactly 1.0 only when the server chose 1.1 (which says nothing about 1.0).
asio::awaitable<void> ProbeLegacyVersions(EndpointSpec spec, const TlsVersionContexts* contexts,
                                          std::shared_ptr<ProbeLog> log,
                                          std::shared_ptr<TlsVersionsReport> report) {
  // Named, not temporaries in the co_await expression (GCC 12 coroutine bugs).
  std::string label = "TLSv1-TLSv1.1";
  SessionOutcome session =
      co_await RunVersionSession(spec, contexts->legacy_range.get(), label, log, report);
  VersionSupport both = JudgeVersionSession("TLSv1-TLSv1.1", session);
  VersionSupport& v10 = report->versions[0];
  VersionSupport& v11 = report->versions[1];
  if (both.outcome != VersionOutcome::kAccepted) {
    // Refused: neither is accepted (the server would have picked one it accepts). No answer:
    // no verdict on either.
    const std::string detail = "offered TLS 1.0 and 1.1 in one session: " + both.detail;
    v10.outcome = v11.outcome = both.outcome;
    v10.detail = v11.detail = detail;
    co_return;
  }
  const std::string chosen = session.facts.tls_version;
  if (chosen == "TLSv1") {
    v10 = JudgeVersionSession("TLSv1", session);
    v11.outcome = VersionOutcome::kRefused;
    v11.detail = "offered TLS 1.0 and 1.1 in one session, the server chose TLSv1";
    co_return;
  }
  if (chosen != "TLSv1.1") {  // cannot happen with min = 1.0, max = 1.1; no verdict then
    v10.outcome = v11.outcome = VersionOutcome::kFailed;
    v10.detail = v11.detail = "offered TLS 1.0 and 1.1, the server chose " + chosen;
    co_return;
  }
  v11 = JudgeVersionSession("TLSv1.1", session);
  co_await ProbeExactVersion(spec, &contexts->exact[0], 0, log, report);
}

}  // namespace

asio::awaitable<TlsVersionsReport> ProbeTlsVersions(EndpointSpec spec,
                                                    const TlsVersionContexts* contexts,
                                                    std::shared_ptr<ProbeLog> log) {
  auto ex = co_await asio::this_coro::executor;
  auto report = std::make_shared<TlsVersionsReport>();
  for (const VersionContext& c : contexts->exact) report->versions.push_back({c.name, {}, {}});
  report->versions[3].detail = "judged from the main session";
  auto join = std::make_shared<Join>(ex);
  auto spawn = [&](asio::awaitable<void> work) {
    join->Add();
    asio::co_spawn(ex, std::move(work), [report, join](std::exception_ptr e) {
      if (e) {
        for (size_t i = 0; i < 3; ++i) {
          VersionSupport& v = report->versions[i];
          if (v.outcome != VersionOutcome::kNotChecked) continue;
          v.outcome = VersionOutcome::kFailed;
          v.detail = "internal error";
        }
      }
      join->Done();
    });
  };
  if (contexts->legacy_range) {
    spawn(ProbeLegacyVersions(spec, contexts, log, report));
  } else {
    spawn(ProbeExactVersion(spec, &contexts->exact[0], 0, log, report));
    spawn(ProbeExactVersion(spec, &contexts->exact[1], 1, log, report));
  }
  spawn(ProbeExactVersion(spec, &contexts->exact[2], 2, log, report));
  co_await join->Wait();
  co_return std::move(*report);
}

void JudgeTls13FromMainSession(TlsVersionsReport& versions, const EndpointReport& main) {
  if (versions.versions.size() < 4) return;
  VersionSupport& v = versions.versions[3];
  v.version = "TLSv1.3";
  if (main.handshake_ok.value_or(false)) {
    if (main.tls_version == "TLSv1.3") {
      v.outcome = VersionOutcome::kAccepted;
      v.detail = "the main session negotiated TLSv1.3 " + main.tls_cipher;
    } else {
      v.outcome = VersionOutcome::kRefused;
      v.detail = "the main session offered TLS 1.0 to 1.3 and the server chose " +
                 main.tls_version;
    }
  } else if (main.handshake_ok.has_value() && main.failure_stage == "handshake" &&
             main.failure_reason == "handshake") {
    v.outcome = VersionOutcome::kRefused;
    v.detail = "the main session's handshake (TLS 1.0 to 1.3 offered) was refused: " +
               main.failure_message;
  } else {
    v.outcome = VersionOutcome::kFailed;
    v.detail = "no verdict: the main session failed: " + Detail(main);
  }
}

std::string KeyTypeOfLeaf(const std::vector<X509Ptr>* chain) {
  if (chain == nullptr || chain->empty() || !chain->front()) return "";
  EVP_PKEY* key = X509_get0_pubkey(chain->front().get());
  if (key == nullptr) return "";
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA:
    case EVP_PKEY_RSA_PSS:
      return "rsa";
    case EVP_PKEY_EC:
      return "ecdsa";
    default:
      return "";
  }
}

asio::awaitable<KeyTypeProbeResult> ProbeKeyType(EndpointSpec spec, std::string key_type,
                                                 SSL_CTX* ctx, std::shared_ptr<ProbeLog> log) {
  KeyTypeProbeResult result;
  result.session.key_type = key_type;
  SessionOptions options;
  options.ctx = ctx;
  options.smtp_after_tls = false;
  options.label = key_type;
  // The cipher list matters below TLS 1.3 only, where the cipher suite names the certificate
  // type; TLS 1.3 picks the certificate by signature algorithm alone.
  if (key_type == "rsa") {
    options.sigalgs = kRsaSigalgs;
    options.cipher_list = "aRSA:@SECLEVEL=0";
  } else if (key_type == "ecdsa") {
    options.sigalgs = kEcdsaSigalgs;
    options.cipher_list = "aECDSA:@SECLEVEL=0";
  } else {
    result.session.failure_reason = "client_unsupported";
    co_return result;
  }
  SessionOutcome session = co_await RunSmtpTlsSession(spec, options, log);
  result.session_opened = session.connect_attempted;
  result.session.handshake_ok = session.facts.handshake_ok.value_or(false);
  if (!result.session.handshake_ok) result.session.failure_reason = session.facts.failure_reason;
  // A chain seen in a handshake that failed later is still a certificate the server holds.
  result.chain = std::move(session.facts.chain);
  co_return result;
}

}  // namespace mxtls
