// An asynchronous DNS stub resolver for the probes: c-ares does the protocol (IDs, retries,
// server failover, TCP fallback on truncation), an Asio io_context does the waiting, and every
// lookup is a coroutine with its own deadline. Answers are read by probes/judgement/dns_message.h, which
// also defines the result types and the fixed reason words of their Status.
//
// It behaves like a strict sending MTA's resolver: no search list, SERVFAIL and REFUSED are
// reported as such (never silently retried on the next server or turned into a timeout), and
// the AD bit of a validating resolver is passed on.
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

namespace mxtls {

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

  // Sends one query for (`name`, `type`, class IN) with EDNS0 (UDP payload 1232) and the AD
  // bit set (RFC 6840 §5.7), and completes with the answer, with c-ares' own failure, or with
  // "timeout" at `deadline`, whichever comes first. A deadline already past gives "timeout"
  // without sending anything. An answer arriving after the deadline is dropped.
  // Cancelling the awaiting coroutine (Asio per-operation cancellation) gives "timeout" too.
  asio::awaitable<RawLookup> LookupRaw(std::string name, uint16_t type, TimePoint deadline);

  // The typed lookups: LookupRaw plus the interpreters of dns_message.h.
  asio::awaitable<MxLookup> LookupMx(std::string name, TimePoint deadline);
  asio::awaitable<AddressLookup> LookupA(std::string name, TimePoint deadline);
  asio::awaitable<AddressLookup> LookupAAAA(std::string name, TimePoint deadline);
  asio::awaitable<TxtLookup> LookupTxt(std::string name, TimePoint deadline);

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

}  // namespace mxtls
