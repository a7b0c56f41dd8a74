// Tests of the probes' socket watchdog against loopback listeners: what Connect reports and
// sets on the socket, and how a phase that runs out of time is reported.
#include "probes/socket_watchdog.h"

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_future.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <string>

namespace mxtls::testing {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

struct Outcome {
  Status connect;
  bool no_delay = false;
  Status read;  // when asked to read
};

// Connects (phase "connect", 5 s) and, if `read`, waits for bytes in phase "greeting" limited
// by `limit` and `deadline`. A plain function rather than a capturing lambda: GCC 12 loses
// lambda-coroutine captures.
asio::awaitable<Outcome> ConnectAndRead(asio::ip::tcp::endpoint to, bool read,
                                        std::chrono::milliseconds limit,
                                        SteadyClock::time_point deadline) {
  Outcome out;
  auto w = std::make_shared<SocketWatchdog>(co_await asio::this_coro::executor, "answer",
                                            "probe deadline");
  w->StartPhase("connect", 5s, SteadyClock::now() + 5s);
  out.connect = co_await w->Connect(to);
  if (out.connect.ok()) {
    asio::ip::tcp::no_delay option;
    asio::error_code ec;
    w->socket().get_option(option, ec);
    out.no_delay = !ec && option.value();
  }
  if (out.connect.ok() && read) {
    w->StartPhase("greeting", limit, deadline);
    char byte;
    auto [ec, n] = co_await w->socket().async_read_some(asio::buffer(&byte, 1), kNoThrow);
    if (ec) out.read = IoFailure(ec, *w);
  }
  w->Finish();
  co_return out;
}

Outcome Run(asio::io_context& io, asio::ip::tcp::endpoint to, bool read = false,
            std::chrono::milliseconds limit = 5s,
            SteadyClock::time_point deadline = SteadyClock::now() + 5s) {
  auto done = asio::co_spawn(io, ConnectAndRead(to, read, limit, deadline), asio::use_future);
  io.run();
  return done.get();
}

// A listener nobody accepts from: the kernel completes connections, and no byte ever comes.
asio::ip::tcp::acceptor Listener(asio::io_context& io) {
  return asio::ip::tcp::acceptor(io, asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), 0));
}

TEST_CASE("Connect turns on TCP_NODELAY so the next write is not held for a delayed ACK") {
  asio::io_context io;
  asio::ip::tcp::acceptor listener = Listener(io);
  Outcome out = Run(io, listener.local_endpoint());
  REQUIRE(out.connect.ok());
  CHECK(out.no_delay);
}

TEST_CASE("Connect to a closed port is refused") {
  asio::io_context io;
  asio::ip::tcp::endpoint closed;
  {
    asio::ip::tcp::acceptor listener = Listener(io);
    closed = listener.local_endpoint();
  }
  Outcome out = Run(io, closed);
  CHECK(out.connect.reason() == "refused");
  CHECK_FALSE(out.connect.message().empty());
}

TEST_CASE("A phase that runs out of time is a timeout named after the phase") {
  asio::io_context io;
  asio::ip::tcp::acceptor listener = Listener(io);
  const auto start = SteadyClock::now();
  Outcome out = Run(io, listener.local_endpoint(), /*read=*/true, 50ms, start + 10s);
  REQUIRE(out.connect.ok());
  CHECK(out.read.reason() == "timeout");
  CHECK(out.read.message() == "no answer within the greeting time limit");
  CHECK(SteadyClock::now() - start < 5s);
}

TEST_CASE("A phase cut short by the deadline says so") {
  asio::io_context io;
  asio::ip::tcp::acceptor listener = Listener(io);
  Outcome out = Run(io, listener.local_endpoint(), /*read=*/true, 10s, SteadyClock::now() + 50ms);
  REQUIRE(out.connect.ok());
  CHECK(out.read.reason() == "timeout");
  CHECK(out.read.message() == "no answer within the greeting time limit (the probe deadline)");
}

}  // namespace
}  // namespace mxtls::testing
