#include "exporter/elastic_task_queue.h"

#include <exception>
#include <utility>

#include "common/log.h"

namespace mxtls {

ElasticTaskQueue::Counters& ElasticTaskQueue::GlobalCounters() {
  static Counters counters;
  return counters;
}

ElasticTaskQueue::ElasticTaskQueue(size_t max_threads, size_t min_threads,
                                   std::chrono::milliseconds idle_timeout)
    : max_threads_(max_threads > 0 ? max_threads : 1),
      min_threads_(min_threads),
      idle_timeout_(idle_timeout) {}

ElasticTaskQueue::~ElasticTaskQueue() { shutdown(); }

void ElasticTaskQueue::enqueue(std::function<void()> fn) {
  JoinRetired();
  std::lock_guard<std::mutex> lock(mu_);
  if (shutting_down_) return;
  tasks_.push_back(std::move(fn));
  // Every task beyond the idle workers gets a thread of its own, up to the limit: a request
  // never waits for another request's probe while the limit allows one more thread.
  if (tasks_.size() > idle_) {
    if (threads_.size() < max_threads_) {
      auto slot = threads_.emplace(threads_.end());
      // Started under the lock: the worker's first act is to take it, so it sees `slot` set.
      *slot = std::thread(&ElasticTaskQueue::Work, this, slot);
      GlobalCounters().threads.fetch_add(1, std::memory_order_relaxed);
    } else {
      GlobalCounters().waited_total.fetch_add(1, std::memory_order_relaxed);
    }
  }
  work_cv_.notify_one();
}

void ElasticTaskQueue::Work(std::list<std::thread>::iterator self) {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    bool timed_out = false;
    while (tasks_.empty() && !shutting_down_ && !timed_out) {
      ++idle_;
      timed_out = work_cv_.wait_for(lock, idle_timeout_) == std::cv_status::timeout;
      --idle_;
    }
    if (tasks_.empty()) {
      if (shutting_down_) break;  // shutdown() joins this thread from threads_
      // Idle for a whole timeout: leave, unless that would leave fewer than min_threads.
      if (threads_.size() > min_threads_) {
        retired_.splice(retired_.end(), threads_, self);
        break;
      }
      continue;
    }
    std::function<void()> task = std::move(tasks_.front());
    tasks_.pop_front();
    lock.unlock();
    GlobalCounters().busy.fetch_add(1, std::memory_order_relaxed);
    try {
      task();
    } catch (const std::exception& e) {
      // httplib's own tasks catch everything; this keeps a stray exception from ending the
      // process through std::terminate.
      log::Error("an HTTP task threw", {{"err", e.what()}});
    } catch (...) {
      log::Error("an HTTP task threw", {{"err", "unknown exception"}});
    }
    GlobalCounters().busy.fetch_sub(1, std::memory_order_relaxed);
    lock.lock();
  }
  GlobalCounters().threads.fetch_sub(1, std::memory_order_relaxed);
}

void ElasticTaskQueue::JoinRetired() {
  std::list<std::thread> done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    done.swap(retired_);
  }
  for (std::thread& t : done) t.join();
}

void ElasticTaskQueue::shutdown() {
  std::list<std::thread> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutting_down_ = true;
    work_cv_.notify_all();
  }
  // Workers finish the queued tasks, then return; none retires any more once shutting down,
  // so after they are gone both lists hold every thread ever started and not yet joined.
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      all.splice(all.end(), retired_);
      all.splice(all.end(), threads_);
    }
    if (all.empty()) break;
    for (std::thread& t : all) {
      if (t.joinable()) t.join();
    }
    all.clear();
  }
}

size_t ElasticTaskQueue::threads() const {
  std::lock_guard<std::mutex> lock(mu_);
  return threads_.size();
}

}  // namespace mxtls
