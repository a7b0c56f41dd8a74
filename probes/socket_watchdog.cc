#include "probes/socket_watchdog.h"

#include <algorithm>
#include <asio/ssl/error.hpp>
#include <cerrno>
#include <utility>

namespace mxtls {
namespace {

Status ConnectFailure(const asio::error_code& ec, const SocketWatchdog& watchdog) {
  // The kernel giving up (ETIMEDOUT) is a timeout too, worded like the watchdog's.
  if (watchdog.timed_out() || ec == asio::error::timed_out) {
    return Status::Error("timeout", watchdog.TimeoutMessage());
  }
  if (ec == asio::error::connection_refused) return Status::Error("refused", ec.message());
  if (ec == asio::error::network_unreachable || ec == asio::error::host_unreachable ||
      ec == asio::error::address_family_not_supported ||
      ec == asio::error_code(EADDRNOTAVAIL, asio::system_category())) {
    return Status::Error("unreachable", ec.message());
  }
  return Status::Error("connect_error", ec.message());
}

}  // namespace

SocketWatchdog::SocketWatchdog(const asio::any_io_executor& executor, std::string waiting_for,
                               std::string deadline_name)
    : socket_(executor),
      timer_(executor),
      waiting_for_(std::move(waiting_for)),
      deadline_name_(std::move(deadline_name)) {}

asio::awaitable<Status> SocketWatchdog::Connect(asio::ip::tcp::endpoint to) {
  auto [ec] = co_await socket_.async_connect(to, kNoThrow);
  if (ec) co_return ConnectFailure(ec, *this);
  // Best effort: without it the probe is slower, not wrong.
  asio::error_code nodelay_ec;
  socket_.set_option(asio::ip::tcp::no_delay(true), nodelay_ec);
  co_return Status();
}

void SocketWatchdog::StartPhase(std::string name, std::chrono::milliseconds limit,
                                SteadyTime deadline) {
  phase_ = std::move(name);
  phase_start_ = std::chrono::steady_clock::now();
  limited_by_deadline_ = deadline <= phase_start_ + limit;
  Arm(std::min(deadline, phase_start_ + limit));
}

void SocketWatchdog::StartPhase(std::string name, SteadyTime deadline) {
  phase_ = std::move(name);
  phase_start_ = std::chrono::steady_clock::now();
  limited_by_deadline_ = true;
  Arm(deadline);
}

double SocketWatchdog::PhaseSeconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - phase_start_).count();
}

std::string SocketWatchdog::TimeoutMessage() const {
  return "no " + waiting_for_ + " within the " + phase_ + " time limit" +
         (limited_by_deadline_ ? " (the " + deadline_name_ + ")" : "");
}

void SocketWatchdog::Finish() {
  ++generation_;
  timer_.cancel();
  asio::error_code ignored;
  socket_.close(ignored);
}

void SocketWatchdog::Arm(SteadyTime until) {
  uint64_t gen = ++generation_;
  timer_.expires_at(until);
  // The handler holds a reference: the watchdog lives until the timer fires or is cancelled.
  timer_.async_wait([self = shared_from_this(), gen](const asio::error_code& ec) {
    if (ec || gen != self->generation_) return;
    self->timed_out_ = true;
    asio::error_code ignored;
    self->socket_.close(ignored);
  });
}

Status IoFailure(const asio::error_code& ec, const SocketWatchdog& watchdog) {
  if (watchdog.timed_out()) return Status::Error("timeout", watchdog.TimeoutMessage());
  if (IsCleanEnd(ec)) return Status::Error("closed", "the server closed the connection");
  if (ec == asio::error::connection_reset) {
    return Status::Error("reset", "the server reset the connection");
  }
  return Status::Error("io_error", ec.message());
}

Status HandshakeFailure(const asio::error_code& ec, const SocketWatchdog& watchdog) {
  if (watchdog.timed_out()) return Status::Error("timeout", watchdog.TimeoutMessage());
  return Status::Error("handshake", ec.message());
}

bool IsCleanEnd(const asio::error_code& ec) {
  return ec == asio::error::eof || ec == asio::ssl::error::stream_truncated;
}

}  // namespace mxtls
