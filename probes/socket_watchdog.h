// The socket of one outbound probe connection (the SMTP endpoint probe, the HTTPS policy fetch)
// and its single watchdog: one steady_timer that closes the socket when the current phase's
// time limit or the probe deadline passes. Also the mapping from what the socket reports to the
// fixed failure reasons both probes share.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"

namespace mxtls {

// Completion token for network operations: co_await yields a tuple starting with the
// error_code instead of throwing, since everything the network does is a result to report.
inline constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);

// Rather than cancelling each operation (after which an ssl::stream is unusable anyway), the
// watchdog closes the socket when the current phase runs out of time; whatever operation is
// pending then fails, and timed_out() tells the caller why.
//
// Ownership: the watchdog owns the socket; streams layered on it (asio::ssl::stream<socket&>)
// borrow it and must not outlive the watchdog. It must be created with std::make_shared and
// held by shared_ptr: the pending timer handler keeps a reference, so the watchdog stays alive
// until that handler has run even if the probe is gone. Call Finish() when the session ends.
// Not thread-safe: use it only from the executor it was created on.
class SocketWatchdog : public std::enable_shared_from_this<SocketWatchdog> {
 public:
  using SteadyTime = std::chrono::steady_clock::time_point;

  // `waiting_for` and `deadline_name` word TimeoutMessage(): "no <waiting_for> within the
  // <phase> time limit", plus " (the <deadline_name>)" when the deadline was the nearer limit.
  SocketWatchdog(const asio::any_io_executor& executor, std::string waiting_for,
                 std::string deadline_name);

  // Connects the socket to `to` (bounded by the current phase) and then turns on TCP_NODELAY:
  // a probe's next write follows the peer's reply or the last handshake flight at once, and
  // Nagle would hold it until the server's delayed ACK (about 40 ms on Linux). Returns an OK
  // Status, or "timeout", "refused", "unreachable" (network or host unreachable, address
  // family or local address unavailable) or "connect_error".
  asio::awaitable<Status> Connect(asio::ip::tcp::endpoint to);

  // Starts phase `name` and arms the timer for min(deadline, now + limit).
  void StartPhase(std::string name, std::chrono::milliseconds limit, SteadyTime deadline);
  // Starts phase `name` limited by the deadline alone.
  void StartPhase(std::string name, SteadyTime deadline);

  // Seconds since the current phase started.
  double PhaseSeconds() const;
  // Why the current phase failed when timed_out() is true.
  std::string TimeoutMessage() const;

  // Disarms the timer and closes the socket. Idempotent.
  void Finish();

  asio::ip::tcp::socket& socket() { return socket_; }
  // The timer closed the socket: the failure of the pending operation is a timeout.
  bool timed_out() const { return timed_out_; }

 private:
  void Arm(SteadyTime until);

  asio::ip::tcp::socket socket_;
  asio::steady_timer timer_;
  const std::string waiting_for_;
  const std::string deadline_name_;
  uint64_t generation_ = 0;  // a handler of an earlier phase sees a newer value and does nothing
  std::string phase_;
  SteadyTime phase_start_;
  bool limited_by_deadline_ = false;
  bool timed_out_ = false;
};

// A read or write that failed on a connected socket, plain or TLS: "timeout" (the watchdog
// closed it; the message is its TimeoutMessage()), "closed" (see IsCleanEnd), "reset", or
// "io_error". `ec` must be an error.
Status IoFailure(const asio::error_code& ec, const SocketWatchdog& watchdog);

// A failed TLS handshake: "timeout" (the watchdog closed the socket) or "handshake" with what
// OpenSSL said. The caller still owns clearing this thread's OpenSSL error queue.
Status HandshakeFailure(const asio::error_code& ec, const SocketWatchdog& watchdog);

// The peer ended the stream: a TCP EOF, or a TLS stream closed without close_notify.
bool IsCleanEnd(const asio::error_code& ec);

}  // namespace mxtls
