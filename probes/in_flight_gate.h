// Lets one caller at a time do the work named by a key, across the engine's event loops, and
// makes the others wait for it instead of doing it again. The engine uses it for an endpoint's
// slow-changing facts (no-SNI session, TLS versions, key types): when a hosting fleet's
// domains are first probed together, the provider's mail server sees each of those sessions
// once, not once per domain, and the others read the result from the FactCache.
//
// Thread-safe. A waiter sleeps on its own loop (loop_waiter.h); the leader's Lease wakes it
// when it is destroyed (on every path, exceptions included).
#pragma once

#include <asio/awaitable.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "probes/loop_waiter.h"

namespace mxtls {

class InFlightGate {
 public:
  // Held by the caller that does the work (leader() is true) until it is done with it, result
  // stored. For a caller that waited, it holds nothing.
  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& other) noexcept { *this = std::move(other); }
    Lease& operator=(Lease&& other) noexcept;
    ~Lease() { Release(); }

    bool leader() const { return gate_ != nullptr; }
    // Wakes the waiters now rather than at destruction.
    void Release();

   private:
    friend class InFlightGate;
    InFlightGate* gate_ = nullptr;
    std::string key_;
  };

  // Returns a leader's lease when nobody is doing `key`'s work; otherwise waits until the
  // leader releases its lease or `deadline` comes, and returns an empty lease. A caller that
  // waited looks for the result where the leader leaves it, and may Enter again if there is
  // none (the leader failed).
  asio::awaitable<Lease> Enter(std::string key, std::chrono::steady_clock::time_point deadline);

  // For the engine's destructor, once its loops have stopped and before they are destroyed:
  // forgets every key and waiter.
  void Clear();

  // Callers that waited for another's work instead of doing it.
  uint64_t waited() const;

 private:
  using Waiter = LoopWaiter;
  void Leave(const std::string& key);

  mutable std::mutex mu_;
  // Keys being worked on, with the callers waiting for each.
  std::map<std::string, std::vector<std::shared_ptr<Waiter>>> in_flight_;
  uint64_t waited_ = 0;
};

}  // namespace mxtls
