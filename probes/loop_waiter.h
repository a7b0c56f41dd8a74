// A coroutine on one event loop that waits for work another loop finishes: the engine's
// caches share sessions and facts across loops (endpoint_cache.h, in_flight_gate.h), and the
// loop that finishes wakes every waiter on the waiter's own loop.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <memory>

namespace mxtls {

struct LoopWaiter {
  explicit LoopWaiter(const asio::any_io_executor& ex) : executor(ex), timer(ex) {}

  // Sleeps until Wake() or `deadline`, whichever comes first; true when woken. Called on
  // `executor`'s thread, before anyone can Wake() it (the wake-up is posted there, so it cannot
  // run before the wait starts).
  asio::awaitable<bool> Wait(std::chrono::steady_clock::time_point deadline);
  // Wakes `waiter` on its own loop; callable from any thread.
  static void Wake(const std::shared_ptr<LoopWaiter>& waiter);

  asio::any_io_executor executor;
  asio::steady_timer timer;  // only touched on `executor`'s thread
  bool woken = false;        // only touched on `executor`'s thread
};

}  // namespace mxtls
