// Main endpoint sessions shared between domain probes: when many domains point at the same MX
// host on the same address, that endpoint's main session (SNI = the MX name) is opened once
// and its facts reused by every domain within the module's endpoint_reuse_window, and probes
// that ask while it is still running wait for it instead of opening another.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "probes/judgement/domain_report.h"
#include "probes/loop_waiter.h"
#include "probes/smtp_tls_session.h"

namespace mxtls {

// Thread-safe: probes on every event loop of the engine share one cache (a pinning of
// endpoints to loops would not help, since a domain's probe, its DNS and its other endpoints
// live on the loop that took the domain). A waiter sleeps on a timer of its own loop and the
// session's owner wakes it by posting to the waiter's executor.
class EndpointSessionCache {
 public:
  explicit EndpointSessionCache(size_t max_entries = 100000) : max_entries_(max_entries) {}

  // Everything that can change what a server shows in the main session: address, port, SNI,
  // EHLO name and the phase timeouts. (The client TLS context of the main session is the
  // engine's one for every module; a module's tls settings choose the trust store, which
  // only judges, and the extra sessions, which are cached on their own.)
  static std::string Key(const EndpointSpec& spec);

  struct Observation {
    // Null only when this caller waited for another probe's session and its own deadline came
    // first.
    std::shared_ptr<const EndpointReport> session;
    std::chrono::steady_clock::time_point observed_at;  // when the session ended
    bool reused = false;  // false: `run` ran for this caller
  };

  // The session for `key`: a kept one younger than `window` (window 0: none is kept) that
  // `consumer` (the domain and module asking) has not been given yet -- a domain's next scrape
  // always sees a new session; only other domains share one --, else
  // the one in flight for the same key, else `run()` on the caller's executor, whose result is
  // handed to every caller waiting for it and kept for `window` when it says something about
  // the server (a session that ran out of time or never got a slot is not kept). A caller
  // that waits gives up at `deadline`.
  asio::awaitable<Observation> Obtain(std::string key, std::string consumer,
                                      std::chrono::milliseconds window,
                                      std::chrono::steady_clock::time_point deadline,
                                      std::function<asio::awaitable<EndpointReport>()> run);

  // For the engine's destructor, once its loops have stopped and before they are destroyed:
  // drops every entry and waiter (a waiter's timer must not outlive its loop).
  void Clear();

  // Callers served by a kept session or one in flight, and callers that ran their own.
  uint64_t hits() const { return hits_.load(); }
  uint64_t misses() const { return misses_.load(); }

 private:
  struct Waiter : LoopWaiter {
    using LoopWaiter::LoopWaiter;
    std::shared_ptr<const EndpointReport> result;  // guarded by mu_
    std::chrono::steady_clock::time_point observed_at;  // guarded by mu_
  };
  struct Entry {
    std::shared_ptr<const EndpointReport> session;  // null while none is kept
    std::chrono::steady_clock::time_point observed_at;
    std::chrono::steady_clock::time_point keep_until;
    bool in_flight = false;
    std::vector<std::shared_ptr<Waiter>> waiters;  // of the session in flight
    // Consumers given the kept session (or waiting for the one in flight).
    std::set<std::string> served;
    std::set<std::string> waiting;
  };

  // Drops entries kept past their window and not in flight.
  void PruneLocked(std::chrono::steady_clock::time_point now);

  const size_t max_entries_;
  std::mutex mu_;
  std::map<std::string, Entry> entries_;
  std::atomic<uint64_t> hits_{0};
  std::atomic<uint64_t> misses_{0};
};

}  // namespace mxtls
