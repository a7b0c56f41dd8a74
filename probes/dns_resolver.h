// An asynchronous DNS stub resolver for the probes: c-ares does the protocol (IDs, retries,
// server failover, TCP fallback on truncation), an Asio io_context does the waiting, and every
// lookup is a coroutine with its own deadline. Answers are read by probes/judgement/dns_message.h,
// which also defines the result types and the fixed reason words of their Status.
//
// It behaves like a strict sending MTA's resolver: no search list, SERVFAIL and REFUSED are
// reported as such (never silently retried on the next server or turned into a timeout), and
// the AD bit of a validating resolver is passed on.
//
// DNSSEC: c-ares does not validate. Every query asks the configured resolver to (DO and AD
// set), and the *Dnssec lookups turn its answer into a DnssecStatus (probes/judgement/dnssec.h),
// re-sending a SERVFAILed query once with CD set to tell "bogus" from "broken". Whether the
// resolver validates at all is checked once with CheckResolverValidates (at the bottom) and
// passed to those lookups by the caller: without it no status is ever secure.
#pragma once

#include <ares.h>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "common/status.h"
#include "config/config.h"
#include "probes/judgement/dns_message.h"
#include "probes/judgement/dnssec.h"
#include "probes/judgement/reverse_dns.h"

namespace mxtls {

// Header flags of one query beyond the defaults (RD, AD, DO). Outside DnsResolver only because
// GCC 12 rejects `= {}` default arguments of a nested class with member initializers.
struct DnsQueryFlags {
  // CD (RFC 4035 §3.2.2): the resolver answers without validating. Used to tell a bogus
  // answer (SERVFAIL only because validation fails) from a broken zone.
  bool checking_disabled = false;
};

// Thread-safety: none. One resolver per io_context, and that io_context is run by exactly one
// thread: Create, the lookups (the coroutines that co_await them) and the destructor all run on
// it. (A c-ares channel is not thread-safe; an io_context with one thread needs no locks.)
//
// Lifetime: destroy the resolver before its io_context. It may be destroyed with lookups in
// flight: each of them then completes with "dns_error" ("resolver shut down") when the
// io_context next runs, without touching the destroyed resolver. The lookups return lazy
// awaitables that use the resolver when they start: start them while it is alive.
class DnsResolver {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  // Servers come from `config.resolvers` (in order; an empty list means c-ares' defaults
  // from /etc/resolv.conf). `config.timeout` is the first attempt's timeout per server and
  // `config.attempts` the number of tries per server; c-ares doubles the timeout on each
  // round, but a lookup never outlives its own deadline. Fails with reason "dns_error".
  static Result<std::unique_ptr<DnsResolver>> Create(asio::io_context& io,
                                                     const config::DnsConfig& config);
  ~DnsResolver();
  DnsResolver(const DnsResolver&) = delete;
  DnsResolver& operator=(const DnsResolver&) = delete;

  using QueryFlags = DnsQueryFlags;

  // Sends one query for (`name`, `type`, class IN) with EDNS0 (UDP payload 1232), the DO bit
  // (RFC 3225: we want DNSSEC, so a validating resolver validates) and the AD bit (RFC 6840
  // §5.7: tell us the outcome), and CD when `flags` says so. Completes with the answer, with
  // c-ares' own failure, or with "timeout" at `deadline`, whichever comes first. A deadline
  // already past gives "timeout" without sending anything. An answer arriving after the
  // deadline is dropped. Cancelling the awaiting coroutine (Asio per-operation cancellation)
  // gives "timeout" too. (When a server rejects EDNS, c-ares asks again without OPT, so
  // without DO.)
  asio::awaitable<RawLookup> LookupRaw(std::string name, uint16_t type, TimePoint deadline,
                                       QueryFlags flags = {});

  // The typed lookups: LookupRaw plus the interpreters of dns_message.h. Each result carries
  // the answer's AD bit (authentic_data), meaningful only from a validating resolver.
  asio::awaitable<MxLookup> LookupMx(std::string name, TimePoint deadline);
  asio::awaitable<AddressLookup> LookupA(std::string name, TimePoint deadline);
  asio::awaitable<AddressLookup> LookupAAAA(std::string name, TimePoint deadline);
  asio::awaitable<TxtLookup> LookupTxt(std::string name, TimePoint deadline);
  // TLSA at `name` (the caller builds "_25._tcp.<host>"): raw RDATA per record.
  asio::awaitable<TlsaLookup> LookupTlsa(std::string name, TimePoint deadline);
  // PTR of a textual IPv4/IPv6 address (the reverse name is built here). An invalid address
  // fails with "dns_error" without sending anything.
  asio::awaitable<PtrLookup> LookupPtr(std::string address, TimePoint deadline);

  // ---- lookups with their DNSSEC status ----
  // Contract (for every *Dnssec lookup):
  //  - One query with DO+AD. `dnssec` = ClassifyDnssec(resolver_validates, answer, retry).
  //  - Only when `resolver_validates` and the answer is SERVFAIL, the same query is sent once
  //    more with CD set, under the same `deadline` (cd_retried = true). If that retry answers
  //    NOERROR or NXDOMAIN, `dnssec` is kBogus and `answer` is the CD retry's typed answer
  //    (what non-validating senders see; validating ones see SERVFAIL). Otherwise `answer` is
  //    the first (SERVFAIL) answer and `dnssec` kUnknown.
  //  - resolver_validates false: exactly LookupX plus dnssec = kUnknown, never a retry.
  asio::awaitable<DnssecLookup<RawLookup>> LookupRawDnssec(std::string name, uint16_t type,
                                                           TimePoint deadline,
                                                           bool resolver_validates);
  asio::awaitable<DnssecLookup<MxLookup>> LookupMxDnssec(std::string name, TimePoint deadline,
                                                         bool resolver_validates);
  asio::awaitable<DnssecLookup<AddressLookup>> LookupADnssec(std::string name, TimePoint deadline,
                                                             bool resolver_validates);
  asio::awaitable<DnssecLookup<AddressLookup>> LookupAAAADnssec(std::string name,
                                                                TimePoint deadline,
                                                                bool resolver_validates);
  asio::awaitable<DnssecLookup<TlsaLookup>> LookupTlsaDnssec(std::string name, TimePoint deadline,
                                                             bool resolver_validates);

  // "127.0.0.1:53, [::1]:5353 (timeout 2000ms, 2 attempts)" for the probe log.
  std::string DescribeServers() const;

  // Lookups sent to c-ares whose callback has not run yet (abandoned ones included).
  size_t queries_in_flight() const { return queries_in_flight_; }

 private:
  struct QueryState;
  struct PendingQuery;
  struct SocketWatch;
  struct ChannelDeleter {
    void operator()(ares_channel channel) const;
  };
  enum class Direction { kRead, kWrite };

  DnsResolver(asio::io_context& io, const config::DnsConfig& config);
  Status Init();

  static void OnSocketState(void* data, ares_socket_t fd, int readable, int writable);
  static void OnAnswer(void* arg, int status, int timeouts, unsigned char* abuf, int alen);
  void WatchSocket(ares_socket_t fd, bool readable, bool writable);
  void Arm(ares_socket_t fd, SocketWatch& watch);
  void OnSocketReady(ares_socket_t fd, uint64_t watch_id, Direction direction,
                     const std::error_code& ec);
  void ScheduleTimeouts();

  asio::io_context& io_;
  config::DnsConfig config_;
  // Handlers queued on the io_context reach the resolver only through this pointer, which the
  // destructor nulls first: a handler that runs after destruction finds nullptr.
  std::shared_ptr<DnsResolver*> self_;
  asio::steady_timer timer_;  // c-ares' retry timeouts (ares_timeout)
  std::unordered_map<ares_socket_t, std::unique_ptr<SocketWatch>> watches_;
  uint64_t next_watch_id_ = 1;
  size_t queries_in_flight_ = 0;
  // Declared last, destroyed explicitly first in ~DnsResolver: ares_destroy calls back into
  // OnSocketState and OnAnswer, which use the members above.
  std::unique_ptr<std::remove_pointer_t<ares_channel>, ChannelDeleter> channel_;
};

// Whether the configured resolvers validate DNSSEC.
struct ValidationCheck {
  bool validates = false;  // the answer was NOERROR with AD set
  Status status;           // the lookup's status (ok: an answer arrived with NOERROR)
  int rcode = -1;
  bool authentic_data = false;
  // For people: which resolvers, what was asked, what came back, and the conclusion.
  std::string message;
};

// Asks `name` SOA (use "." for the root: signed everywhere DNSSEC is deployed) with DO+AD.
// A validating resolver answers NOERROR with AD; anything else (no AD, an error, a timeout)
// means "does not validate" as far as the probes can tell. Run it at startup and on reload;
// pass `validates` to the *Dnssec lookups.
asio::awaitable<ValidationCheck> CheckResolverValidates(DnsResolver& resolver, std::string name,
                                                        DnsResolver::TimePoint deadline);

}  // namespace mxtls
