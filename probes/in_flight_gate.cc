#include "probes/in_flight_gate.h"

#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <utility>

namespace mxtls {

InFlightGate::Lease& InFlightGate::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    Release();
    gate_ = std::exchange(other.gate_, nullptr);
    key_ = std::move(other.key_);
  }
  return *this;
}

void InFlightGate::Lease::Release() {
  if (gate_ == nullptr) return;
  InFlightGate* gate = std::exchange(gate_, nullptr);
  gate->Leave(key_);
}

asio::awaitable<InFlightGate::Lease> InFlightGate::Enter(
    std::string key, std::chrono::steady_clock::time_point deadline) {
  auto executor = co_await asio::this_coro::executor;
  std::shared_ptr<Waiter> waiter;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto [it, first] = in_flight_.try_emplace(key);
    if (first) {
      Lease lease;
      lease.gate_ = this;
      lease.key_ = std::move(key);
      co_return lease;
    }
    waiter = std::make_shared<Waiter>(executor);
    it->second.push_back(waiter);
    ++waited_;
  }
  // The wake-up is posted to this executor, so it cannot run before the wait starts.
  waiter->timer.expires_at(deadline);
  while (!waiter->woken && std::chrono::steady_clock::now() < deadline) {
    co_await waiter->timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  }
  if (!waiter->woken) {
    // Gave up first: take this waiter off the list so that it does not grow with dead ones.
    std::lock_guard<std::mutex> lock(mu_);
    auto it = in_flight_.find(key);
    if (it != in_flight_.end()) {
      auto& ws = it->second;
      for (auto w = ws.begin(); w != ws.end(); ++w) {
        if (*w == waiter) {
          ws.erase(w);
          break;
        }
      }
    }
  }
  co_return Lease{};
}

void InFlightGate::Leave(const std::string& key) {
  std::vector<std::shared_ptr<Waiter>> waiters;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = in_flight_.find(key);
    if (it == in_flight_.end()) return;  // cleared
    waiters = std::move(it->second);
    in_flight_.erase(it);
  }
  for (auto& w : waiters) {
    asio::post(w->executor, [w] {
      w->woken = true;
      w->timer.cancel();
    });
  }
}

void InFlightGate::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  in_flight_.clear();
}

uint64_t InFlightGate::waited() const {
  std::lock_guard<std::mutex> lock(mu_);
  return waited_;
}

}  // namespace mxtls
