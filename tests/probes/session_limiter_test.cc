// Tests of the engine's session limiter across two event loops: the limits hold, waiters are
// let in as slots free up, one full address does not block others, and a waiter whose
// deadline passes gets no slot.
#include "probes/session_limiter.h"

#include <asio/co_spawn.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/use_future.hpp>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace mxtls::testing {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

// Two loops on their own threads, as in the engine.
struct Loops {
  Loops() {
    for (auto& c : ctx) guards.emplace_back(c.get_executor());
    for (auto& c : ctx) threads.emplace_back([&c] { c.run(); });
  }
  ~Loops() {
    guards.clear();
    for (auto& t : threads) t.join();
  }
  asio::io_context ctx[2];
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  std::vector<std::thread> threads;
};

struct Counters {
  std::atomic<int> live{0};
  std::atomic<int> max_live{0};
  std::atomic<int> granted{0};
  std::atomic<int> refused{0};
};

// Takes a slot for `address`, holds it for `hold`, and counts. A plain function: GCC 12 loses
// lambda-coroutine captures.
asio::awaitable<void> UseSlot(SessionLimiter* limiter, Counters* counters, std::string address,
                              std::chrono::milliseconds hold, SteadyClock::time_point deadline) {
  SessionLimiter::Slot slot = co_await limiter->Acquire(address, deadline);
  if (!slot) {
    ++counters->refused;
    co_return;
  }
  ++counters->granted;
  int now = ++counters->live;
  int seen = counters->max_live.load();
  while (now > seen && !counters->max_live.compare_exchange_weak(seen, now)) {
  }
  asio::steady_timer timer(co_await asio::this_coro::executor, hold);
  co_await timer.async_wait(asio::use_awaitable);
  --counters->live;
}

void Run(Loops& loops, SessionLimiter& limiter, Counters& counters, int n,
         const std::string& address, std::chrono::milliseconds hold,
         SteadyClock::time_point deadline, std::vector<std::future<void>>& done) {
  for (int i = 0; i < n; ++i) {
    done.push_back(asio::co_spawn(loops.ctx[i % 2],
                                  UseSlot(&limiter, &counters, address, hold, deadline),
                                  asio::use_future));
  }
}

TEST_CASE("the per-address limit holds across loops and every waiter gets in",
          "[session_limiter]") {
  Loops loops;
  SessionLimiter limiter(100, 2);
  Counters counters;
  std::vector<std::future<void>> done;
  Run(loops, limiter, counters, 10, "192.0.2.1", 30ms, SteadyClock::now() + 5s, done);
  for (auto& f : done) f.get();
  CHECK(counters.granted == 10);
  CHECK(counters.refused == 0);
  CHECK(counters.max_live <= 2);
  CHECK(counters.max_live == 2);
  CHECK(limiter.in_flight() == 0);
  CHECK(limiter.waiting() == 0);
}

TEST_CASE("the global limit holds", "[session_limiter]") {
  Loops loops;
  SessionLimiter limiter(3, 100);
  Counters counters;
  std::vector<std::future<void>> done;
  for (int i = 0; i < 12; ++i) {
    Run(loops, limiter, counters, 1, "192.0.2." + std::to_string(i), 20ms,
        SteadyClock::now() + 5s, done);
  }
  for (auto& f : done) f.get();
  CHECK(counters.granted == 12);
  CHECK(counters.max_live <= 3);
}

TEST_CASE("a full address does not hold back another", "[session_limiter]") {
  Loops loops;
  SessionLimiter limiter(100, 1);
  Counters busy, other;
  std::vector<std::future<void>> done;
  Run(loops, limiter, busy, 3, "192.0.2.1", 500ms, SteadyClock::now() + 5s, done);
  std::this_thread::sleep_for(50ms);
  const auto start = SteadyClock::now();
  std::vector<std::future<void>> other_done;
  Run(loops, limiter, other, 1, "192.0.2.2", 1ms, SteadyClock::now() + 5s, other_done);
  other_done[0].get();
  CHECK(SteadyClock::now() - start < 300ms);
  for (auto& f : done) f.get();
  CHECK(busy.granted == 3);
  CHECK(busy.max_live == 1);
}

TEST_CASE("a waiter whose deadline passes gets no slot", "[session_limiter]") {
  Loops loops;
  SessionLimiter limiter(100, 1);
  Counters holder, late;
  std::vector<std::future<void>> done;
  Run(loops, limiter, holder, 1, "192.0.2.1", 400ms, SteadyClock::now() + 5s, done);
  std::this_thread::sleep_for(50ms);
  const auto start = SteadyClock::now();
  Run(loops, limiter, late, 1, "192.0.2.1", 1ms, SteadyClock::now() + 100ms, done);
  done[1].get();
  const auto waited = SteadyClock::now() - start;
  CHECK(late.refused == 1);
  CHECK(late.granted == 0);
  CHECK(waited >= 90ms);
  CHECK(waited < 350ms);
  done[0].get();
  CHECK(limiter.in_flight() == 0);
  CHECK(limiter.waiting() == 0);
}

}  // namespace
}  // namespace mxtls::testing
