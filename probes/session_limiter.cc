#include "probes/session_limiter.h"

#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <utility>

namespace mxtls {

SessionLimiter::SessionLimiter(int max_sessions, int max_sessions_per_address)
    : max_sessions_(max_sessions), max_per_address_(max_sessions_per_address) {}

void SessionLimiter::SetLimits(int max_sessions, int max_sessions_per_address) {
  std::list<std::shared_ptr<Waiter>> granted;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (max_sessions == max_sessions_ && max_sessions_per_address == max_per_address_) return;
    max_sessions_ = max_sessions;
    max_per_address_ = max_sessions_per_address;
    granted = GrantLocked();
  }
  Wake(granted);
}

bool SessionLimiter::HasRoomLocked(const std::string& address) const {
  if (in_flight_ >= max_sessions_) return false;
  auto it = per_address_.find(address);
  return it == per_address_.end() || it->second < max_per_address_;
}

void SessionLimiter::TakeLocked(const std::string& address) {
  ++in_flight_;
  ++per_address_[address];
}

std::list<std::shared_ptr<SessionLimiter::Waiter>> SessionLimiter::GrantLocked() {
  // A waiter held back by its address's limit does not hold back waiters for other
  // addresses: one busy mail server must not stall the probes of all others.
  std::list<std::shared_ptr<Waiter>> granted;
  if (closed_) return granted;
  for (auto it = waiters_.begin(); it != waiters_.end() && in_flight_ < max_sessions_;) {
    if (HasRoomLocked((*it)->address)) {
      TakeLocked((*it)->address);
      (*it)->granted = true;
      granted.push_back(*it);
      it = waiters_.erase(it);
    } else {
      ++it;
    }
  }
  return granted;
}

void SessionLimiter::Wake(const std::list<std::shared_ptr<Waiter>>& granted) {
  for (const auto& w : granted) {
    asio::post(w->executor, [w] {
      w->woken = true;
      w->timer.cancel();
    });
  }
}

void SessionLimiter::Give(const std::string& address) {
  std::list<std::shared_ptr<Waiter>> granted;
  {
    std::lock_guard<std::mutex> lock(mu_);
    --in_flight_;
    auto it = per_address_.find(address);
    if (it != per_address_.end() && --it->second <= 0) per_address_.erase(it);
    granted = GrantLocked();
  }
  Wake(granted);
}

asio::awaitable<SessionLimiter::Slot> SessionLimiter::Acquire(
    std::string address, std::chrono::steady_clock::time_point deadline) {
  auto executor = co_await asio::this_coro::executor;
  auto waiter = std::make_shared<Waiter>(executor);
  waiter->address = address;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Room now means no waiter could use it (GrantLocked runs at every release): the ones in
    // line wait for other addresses.
    if (HasRoomLocked(address)) {
      TakeLocked(address);
      co_return Slot(this, address);
    }
    waiters_.push_back(waiter);
  }
  // The wake-up is posted to this executor, so it cannot run before the wait below starts.
  waiter->timer.expires_at(deadline);
  while (!waiter->woken && std::chrono::steady_clock::now() < deadline) {
    co_await waiter->timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  }
  std::lock_guard<std::mutex> lock(mu_);
  // Granted at the last moment counts: the slot is already taken in our name.
  if (waiter->granted) co_return Slot(this, address);
  waiters_.remove(waiter);
  co_return Slot();
}

void SessionLimiter::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  waiters_.clear();
}

int SessionLimiter::in_flight() const {
  std::lock_guard<std::mutex> lock(mu_);
  return in_flight_;
}

size_t SessionLimiter::waiting() const {
  std::lock_guard<std::mutex> lock(mu_);
  return waiters_.size();
}

SessionLimiter::Slot::Slot(Slot&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)), address_(std::move(other.address_)) {}

SessionLimiter::Slot& SessionLimiter::Slot::operator=(Slot&& other) noexcept {
  if (this != &other) {
    Release();
    owner_ = std::exchange(other.owner_, nullptr);
    address_ = std::move(other.address_);
  }
  return *this;
}

void SessionLimiter::Slot::Release() {
  if (owner_ == nullptr) return;
  std::exchange(owner_, nullptr)->Give(address_);
}

}  // namespace mxtls
