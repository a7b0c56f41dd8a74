#include "probes/in_flight_gate.h"

#include <asio/this_coro.hpp>
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
  const bool woken = co_await waiter->Wait(deadline);
  if (!woken) {
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
  for (auto& w : waiters) LoopWaiter::Wake(w);
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
