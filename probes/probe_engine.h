// The event-driven probe engine: a few Asio event loops (one per core by default), each with
// its own c-ares channel, on which whole domain probes run as coroutines — MX lookup, A/AAAA
// of every MX host, then every (MX host, address) endpoint in parallel. HTTP handler threads
// hand a task over through DomainProber::Probe and wait for the report.
#pragma once

#include <asio/io_context.hpp>
#include <asio/ssl/context.hpp>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/openssl_util.h"
#include "common/status.h"
#include "probes/domain_prober.h"
#include "probes/dns_resolver.h"
#include "probes/endpoint_cache.h"
#include "probes/in_flight_gate.h"
#include "probes/fact_cache.h"
#include "probes/session_limiter.h"
#include "probes/tls_variant_probe.h"

namespace mxtls {

class DnsResolver;

struct EngineOptions {
  int threads = 0;               // event loops; 0 = one per core
  const Clock* clock = nullptr;  // time used to judge certificates; null = system clock
};

// Thread-safe. Destroying the engine stops its loops; no Probe call may be in progress then.
class ProbeEngine final : public DomainProber {
 public:
  static Result<std::unique_ptr<ProbeEngine>> Create(const EngineOptions& options);
  ~ProbeEngine() override;

  DomainReport Probe(const ProbeTask& task) override;

  // Asks the resolvers of `dns` for dns.dnssec_check_name and remembers whether they validate
  // DNSSEC (probes trust AD bits only then). Blocks the caller for at most the DNS timeout
  // times attempts. Call at start and on reload; a probe whose resolvers were never checked
  // runs the check itself first.
  ValidationCheck CheckResolverValidation(const config::DnsConfig& dns);
  // The remembered result for these resolvers while it is fresh (a resolver that validates is
  // asked again after an hour, one that does not after five minutes, so that a resolver that
  // was briefly unreachable at start does not switch DANE off for good); nullopt otherwise.
  std::optional<bool> ResolverValidates(const config::DnsConfig& dns) const;
  // The last result for these resolvers, however old; nullopt when never checked.
  std::optional<bool> LastResolverValidation(const config::DnsConfig& dns) const;
  void RecordResolverValidation(const config::DnsConfig& dns, bool validates);
  // The cache key of a resolver configuration.
  static std::string ResolverKey(const config::DnsConfig& dns);

  // The trust store for a module's ca_file ("" = system store), cached by path and file
  // modification time so that a reload picks up a rotated CA file.
  Result<SharedX509Store> TrustStore(const std::string& ca_file);

  // The main-session cache shared by domains whose MX is the same endpoint: callers served
  // by a kept or in-flight session, and callers that opened their own.
  uint64_t endpoint_cache_hits() const { return endpoint_sessions_.hits(); }
  uint64_t endpoint_cache_misses() const { return endpoint_sessions_.misses(); }
  // SMTP sessions holding a slot under the engine limits, and sessions waiting for one.
  int sessions_in_flight() const { return limiter_.in_flight(); }
  size_t sessions_waiting() const { return limiter_.waiting(); }

  // One event loop and the c-ares channels used on it. Only touched on its own thread,
  // except for construction and destruction.
  struct Loop;

 private:
  explicit ProbeEngine(const EngineOptions& options);

  const Clock* clock_;
  SystemClock system_clock_;
  std::unique_ptr<asio::ssl::context> tls_;
  TlsVersionContexts version_contexts_;  // one client context per TLS version
  std::vector<std::unique_ptr<Loop>> loops_;
  std::atomic<size_t> next_loop_{0};

  std::mutex stores_mu_;
  struct CachedStore {
    long long mtime_ns = 0;
    long long size = 0;
    SharedX509Store store;
  };
  std::map<std::string, CachedStore> stores_;
  mutable std::mutex validation_mu_;
  struct Validation {
    bool validates = false;
    std::chrono::steady_clock::time_point checked_at;
  };
  std::map<std::string, Validation> resolver_validates_;  // by ResolverKey + check name
  FactCache cache_;
  EndpointSessionCache endpoint_sessions_;
  // One probe at a time runs an endpoint's slow-fact sessions (no-SNI, versions, key types).
  InFlightGate slow_fact_gate_;
  // Limits come from the configuration of the latest probe (Probe sets them), so a reload
  // applies them without a restart.
  SessionLimiter limiter_{config::EngineConfig{}.max_sessions,
                          config::EngineConfig{}.max_sessions_per_address};
};

}  // namespace mxtls
