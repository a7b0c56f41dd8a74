#include "probes/endpoint_cache.h"

#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <exception>
#include <utility>

namespace mxtls {

namespace {

// A session that ran out of time or never got a slot says nothing about the server: its
// failure may be the first caller's short deadline. Everything else (a certificate, a refusal,
// a broken handshake) is what the server shows anyone in the next seconds.
bool WorthKeeping(const EndpointReport& r) {
  if (r.verdict_reached) return true;
  return r.failure_reason != "timeout" && r.failure_reason != "queue_timeout" &&
         r.failure_reason != "internal_error";
}

}  // namespace

std::string EndpointSessionCache::Key(const EndpointSpec& spec) {
  const config::PhaseTimeouts& t = spec.timeouts;
  std::string key = spec.address + "|" + std::to_string(spec.port) + "|" + spec.sni + "|" +
                    spec.ehlo_name;
  for (auto d : {t.connect, t.greeting, t.ehlo, t.starttls, t.handshake}) {
    key += "|" + std::to_string(d.count());
  }
  return key;
}

void EndpointSessionCache::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  entries_.clear();
}

void EndpointSessionCache::PruneLocked(std::chrono::steady_clock::time_point now) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (!it->second.in_flight && it->second.keep_until <= now) {
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
}

asio::awaitable<EndpointSessionCache::Observation> EndpointSessionCache::Obtain(
    std::string key, std::string consumer, std::chrono::milliseconds window,
    std::chrono::steady_clock::time_point deadline,
    std::function<asio::awaitable<EndpointReport>()> run) {
  auto executor = co_await asio::this_coro::executor;
  std::shared_ptr<Waiter> waiter;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    Entry& entry = entries_[key];
    if (entry.session && window.count() > 0 && now - entry.observed_at < window &&
        entry.served.insert(consumer).second) {
      ++hits_;
      co_return Observation{entry.session, entry.observed_at, true};
    }
    if (entry.in_flight) {
      ++hits_;
      waiter = std::make_shared<Waiter>(executor);
      entry.waiters.push_back(waiter);
      entry.waiting.insert(consumer);
    } else {
      ++misses_;
      entry.in_flight = true;
    }
  }

  if (waiter) {
    co_await waiter->Wait(deadline);
    std::lock_guard<std::mutex> lock(mu_);
    if (!waiter->result) {
      // Gave up first: the owner must not wake a waiter that is gone (it would only post a
      // harmless cancel, but the list should not grow with dead waiters).
      auto it = entries_.find(key);
      if (it != entries_.end()) {
        auto& ws = it->second.waiters;
        for (auto w = ws.begin(); w != ws.end(); ++w) {
          if (*w == waiter) {
            ws.erase(w);
            break;
          }
        }
      }
    }
    co_return Observation{waiter->result, waiter->observed_at, true};
  }

  std::exception_ptr failure;
  std::shared_ptr<const EndpointReport> session;
  try {
    // Two statements: GCC 12 mishandles temporaries around a co_await inside a larger
    // expression.
    EndpointReport fresh = co_await run();
    session = std::make_shared<const EndpointReport>(std::move(fresh));
  } catch (...) {
    failure = std::current_exception();
  }
  const auto observed_at = std::chrono::steady_clock::now();
  std::vector<std::shared_ptr<Waiter>> waiters;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Entry& entry = entries_[key];
    entry.in_flight = false;
    waiters.swap(entry.waiters);
    if (session && window.count() > 0 && WorthKeeping(*session)) {
      entry.session = session;
      entry.observed_at = observed_at;
      entry.keep_until = observed_at + window;
      entry.served = std::move(entry.waiting);
      entry.served.insert(consumer);
    }
    entry.waiting.clear();
    // Waiters of a session that threw get nothing and report that they waited in vain.
    for (auto& w : waiters) {
      w->result = session;
      w->observed_at = observed_at;
    }
    if (!entry.session || entry.keep_until <= observed_at) entries_.erase(key);
    if (entries_.size() > max_entries_) PruneLocked(observed_at);
  }
  for (auto& w : waiters) LoopWaiter::Wake(w);
  if (failure) std::rethrow_exception(failure);
  co_return Observation{session, observed_at, false};
}

}  // namespace mxtls
