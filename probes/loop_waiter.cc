#include "probes/loop_waiter.h"

#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>

namespace mxtls {

asio::awaitable<bool> LoopWaiter::Wait(std::chrono::steady_clock::time_point deadline) {
  timer.expires_at(deadline);
  while (!woken && std::chrono::steady_clock::now() < deadline) {
    co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  }
  co_return woken;
}

void LoopWaiter::Wake(const std::shared_ptr<LoopWaiter>& waiter) {
  asio::post(waiter->executor, [waiter] {
    waiter->woken = true;
    waiter->timer.cancel();
  });
}

}  // namespace mxtls
