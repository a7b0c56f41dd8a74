#include "probes/tls_variant_probe.h"

#include <chrono>
#include <utility>

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
    contexts.push_back(std::move(c));
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

asio::awaitable<TlsVersionsReport> ProbeTlsVersions(EndpointSpec spec,
                                                    const TlsVersionContexts* contexts,
                                                    std::shared_ptr<ProbeLog> log) {
  auto ex = co_await asio::this_coro::executor;
  auto report = std::make_shared<TlsVersionsReport>();
  report->versions.resize(contexts->size());
  auto join = std::make_shared<Join>(ex);
  for (size_t i = 0; i < contexts->size(); ++i) {
    const VersionContext& c = (*contexts)[i];
    VersionSupport& v = report->versions[i];
    v.version = c.name;
    if (!c.ctx) {
      v.outcome = VersionOutcome::kClientUnsupported;
      v.detail = "our OpenSSL cannot offer it: " + c.unsupported;
      continue;
    }
    SessionOptions options;
    options.ctx = c.ctx.get();
    options.smtp_after_tls = false;
    options.label = c.name;
    join->Add();
    asio::co_spawn(ex, RunSmtpTlsSession(spec, options, log),
                   [report, join, i, name = c.name](std::exception_ptr e, SessionOutcome session) {
                     VersionSupport& v = report->versions[i];
                     if (e) {
                       v.outcome = VersionOutcome::kFailed;
                       v.detail = "internal error";
                     } else {
                       if (session.connect_attempted) ++report->sessions;
                       v = JudgeVersionSession(name, session);
                     }
                     join->Done();
                   });
  }
  co_await join->Wait();
  co_return std::move(*report);
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
