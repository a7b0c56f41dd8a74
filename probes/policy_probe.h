// The domain's published transport-security policies as a sending MTA discovers them:
// MTA-STS (RFC 8461: the _mta-sts TXT record, then the policy fetched over HTTPS from
// mta-sts.<domain>, whose own certificate is judged like an MX's) and TLS-RPT (RFC 8460:
// the _smtp._tls TXT record). Coroutines on the engine's loop; each returns a plain report.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/ssl/context.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "common/clock.h"
#include "probes/judgement/domain_report.h"
#include "probes/fact_cache.h"
#include "probes/judgement/probe_log.h"

namespace mxtls {

class DnsResolver;

// Shared pieces a policy probe uses; all must outlive the coroutine.
struct PolicyProbeEnv {
  DnsResolver* dns = nullptr;
  asio::ssl::context* tls = nullptr;
  X509_STORE* trust = nullptr;
  const Clock* clock = nullptr;
  // Remembers the first policy seen under each id, and the last fetch of each domain.
  FactCache* cache = nullptr;
  // A remembered fetch younger than this (by `clock`) and made under the same TXT id is
  // reused instead of fetching again; 0 (or no cache) fetches at every probe.
  std::chrono::milliseconds policy_refetch_interval{0};
  std::shared_ptr<ProbeLog> log;
};

// Discovers, fetches and judges the MTA-STS policy of `domain`; `port` is the HTTPS port of
// mta-sts.<domain> (443 outside tests). Completes by `deadline`. The TXT record is looked up
// at every probe; the policy is fetched again when its id changed or the remembered fetch is
// older than env.policy_refetch_interval, and otherwise judged again from the remembered
// fetch (the host certificate with env.clock's now). "Changed without a new id" is decided
// when a fetch happens and carried with the remembered fetch.
asio::awaitable<MtaStsReport> ProbeMtaSts(std::string domain, uint16_t port,
                                          std::chrono::steady_clock::time_point deadline,
                                          PolicyProbeEnv env);

// Looks up and judges the TLS-RPT record of `domain`. Completes by `deadline`.
asio::awaitable<TlsRptReport> ProbeTlsRpt(std::string domain,
                                          std::chrono::steady_clock::time_point deadline,
                                          PolicyProbeEnv env);

}  // namespace mxtls
