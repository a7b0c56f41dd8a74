// Waiting for a runtime-sized set of coroutines spawned on one event loop: Asio 1.22 has no
// parallel group over a range (STACK.md), so each spawned coroutine's completion handler
// counts itself done, and the waiter sleeps on a timer that the last one cancels.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>

namespace mxtls {

// Only used on the one thread that runs its executor. Add() before spawning, Done() from the
// completion handler, then co_await Wait().
class Join {
 public:
  explicit Join(const asio::any_io_executor& ex)
      : timer_(ex, std::chrono::steady_clock::time_point::max()) {}
  void Add() { ++pending_; }
  void Done() {
    if (--pending_ == 0) timer_.cancel();
  }
  asio::awaitable<void> Wait() {
    while (pending_ > 0) {
      co_await timer_.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    }
  }

 private:
  asio::steady_timer timer_;
  int pending_ = 0;
};

}  // namespace mxtls
