#include "probes/in_flight_gate.h"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace mxtls {
namespace {

using Clock = std::chrono::steady_clock;

TEST_CASE("one leader per key; waiters wake when it is done or at their deadline",
          "[in_flight_gate]") {
  asio::io_context io;
  InFlightGate gate;
  std::vector<std::string> events;
  const auto far = Clock::now() + std::chrono::seconds(30);

  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    InFlightGate::Lease lease = co_await gate.Enter("k", far);
    events.push_back(lease.leader() ? "a leads" : "a waited");
    asio::steady_timer t(io, std::chrono::milliseconds(100));
    co_await t.async_wait(asio::use_awaitable);
    events.push_back("a done");
  }, asio::detached);
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    InFlightGate::Lease lease = co_await gate.Enter("k", far);
    events.push_back(lease.leader() ? "b leads" : "b woke");
    // Woken by the leader's release: now nobody holds the key.
    InFlightGate::Lease again = co_await gate.Enter("k", far);
    events.push_back(again.leader() ? "b leads now" : "b waited again");
  }, asio::detached);
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    // A deadline before the leader is done: gives up then, without a lease.
    InFlightGate::Lease lease = co_await gate.Enter("k", Clock::now() + std::chrono::milliseconds(10));
    events.push_back(lease.leader() ? "c leads" : "c gave up");
  }, asio::detached);
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    InFlightGate::Lease other = co_await gate.Enter("other key", far);
    events.push_back(other.leader() ? "d leads its own key" : "d waited");
  }, asio::detached);
  io.run();

  CHECK(events == std::vector<std::string>{"a leads", "d leads its own key", "c gave up",
                                           "a done", "b woke", "b leads now"});
  CHECK(gate.waited() == 2);
}

TEST_CASE("waiters on other loops are woken on their own loop", "[in_flight_gate]") {
  asio::io_context leader_io, waiter_io;
  InFlightGate gate;
  std::thread::id woken_on;
  bool waiter_led = true;
  const auto far = Clock::now() + std::chrono::seconds(30);
  InFlightGate::Lease held;
  asio::co_spawn(leader_io, [&]() -> asio::awaitable<void> {
    held = co_await gate.Enter("k", far);
  }, asio::detached);
  leader_io.run();
  REQUIRE(held.leader());
  asio::co_spawn(waiter_io, [&]() -> asio::awaitable<void> {
    InFlightGate::Lease lease = co_await gate.Enter("k", far);
    waiter_led = lease.leader();
    woken_on = std::this_thread::get_id();
  }, asio::detached);
  std::thread waiter_thread([&] { waiter_io.run(); });
  const std::thread::id waiter_thread_id = waiter_thread.get_id();
  // Released from this (another) thread; the wake-up runs on the waiter's loop.
  while (gate.waited() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  held.Release();
  waiter_thread.join();
  CHECK_FALSE(waiter_led);
  CHECK(woken_on == waiter_thread_id);
}

}  // namespace
}  // namespace mxtls
