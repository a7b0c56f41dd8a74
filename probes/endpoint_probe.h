// One endpoint probe: the SMTP dialogue a strict sending MTA has with one (MX host, address)
// pair — connect, wait for the whole 220 greeting, EHLO, STARTTLS, TLS handshake with SNI,
// EHLO again, QUIT (RunSmtpTlsSession) — bounded by per-phase timeouts and the probe
// deadline, producing an EndpointReport with the captured certificate judged.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/ssl/context.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/clock.h"
#include "config/config.h"
#include "probes/judgement/certificate_report.h"
#include "probes/judgement/domain_report.h"
#include "probes/judgement/probe_log.h"
#include "probes/smtp_tls_session.h"

namespace mxtls {

// Shared, read-only pieces every endpoint probe of a domain uses. All pointers must stay
// valid until the coroutine completes.
struct EndpointEnv {
  asio::ssl::context* tls = nullptr;
  X509_STORE* trust = nullptr;
  const Clock* clock = nullptr;
  std::shared_ptr<ProbeLog> log;
};

// Never throws for anything the network does; a hostile server yields a failure reason.
// Completes by spec.deadline (plus scheduling slack): one timer closes the socket when the
// current phase's time is up. Counts itself in sessions_opened (1). The no-SNI session is
// this same probe with spec.sni empty.
asio::awaitable<EndpointReport> ProbeSmtpEndpoint(EndpointSpec spec, EndpointEnv env);

}  // namespace mxtls
