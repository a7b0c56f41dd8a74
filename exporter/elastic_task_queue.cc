#include "exporter/elastic_task_queue.h"

#include <algorithm>
#include <exception>
#include <utility>

#include "common/log.h"

namespace mxtls {

ElasticTaskQueue::Counters& ElasticTaskQueue::GlobalCounters() {
  static Counters counters;
  return counters;
}

namespace {
// The enqueue time of the task this thread runs (set around each task by Work()).
thread_local std::optional<std::chrono::steady_clock::time_point> current_task_enqueued_at;
}  // namespace

std::optional<std::chrono::steady_clock::time_point> ElasticTaskQueue::CurrentTaskEnqueuedAt() {
  return current_task_enqueued_at;
}

ElasticTaskQueue::ElasticTaskQueue(size_t max_threads, size_t min_threads,
                                   std::chrono::milliseconds idle_timeout)
    : max_threads_(max_threads > 0 ? max_threads : 1),
      min_threads_(min_threads),
      idle_timeout_(idle_timeout) {}

ElasticTaskQueue::~ElasticTaskQueue() { shutdown(); }

void ElasticTaskQueue::enqueue(std::function<void()> fn) {
  JoinRetired();
  Task task{std::move(fn), std::chrono::steady_clock::now()};
  std::lock_guard<std::mutex> lock(mu_);
  if (shutting_down_) return;
  if (!idle_.empty()) {
    // The most recently idle thread: the others keep waiting and may reach their timeout.
    Worker* w = idle_.back();
    idle_.pop_back();
    w->idle = false;
    w->task = std::move(task);
    w->wake.notify_one();
    return;
  }
  if (workers_.size() < max_threads_) {
    // A request never waits for another request's probe while the limit allows one more
    // thread. Started under the lock: the worker's first act is to take it.
    auto w = std::make_unique<Worker>();
    w->task = std::move(task);
    Worker* raw = w.get();
    workers_.push_back(std::move(w));
    raw->thread = std::thread(&ElasticTaskQueue::Work, this, raw);
    GlobalCounters().threads.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  tasks_.push_back(std::move(task));
  GlobalCounters().waited_total.fetch_add(1, std::memory_order_relaxed);
}

void ElasticTaskQueue::Work(Worker* self) {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (!self->task.fn && !tasks_.empty()) {
      self->task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    if (!self->task.fn) {
      if (shutting_down_) break;  // shutdown() joins this thread
      self->idle = true;
      idle_.push_back(self);
      const bool woken = self->wake.wait_for(lock, idle_timeout_, [&] {
        return static_cast<bool>(self->task.fn) || shutting_down_;
      });
      if (self->idle) {  // not taken off the list by enqueue()
        idle_.erase(std::find(idle_.begin(), idle_.end(), self));
        self->idle = false;
      }
      if (!woken && !self->task.fn && workers_.size() > min_threads_) {
        // Idle for a whole timeout: leave (the queue keeps at least min_threads).
        for (auto it = workers_.begin(); it != workers_.end(); ++it) {
          if (it->get() == self) {
            retired_.splice(retired_.end(), workers_, it);
            break;
          }
        }
        break;
      }
      continue;
    }
    Task task = std::move(self->task);
    self->task = Task{};
    lock.unlock();
    GlobalCounters().busy.fetch_add(1, std::memory_order_relaxed);
    current_task_enqueued_at = task.enqueued_at;
    try {
      task.fn();
    } catch (const std::exception& e) {
      // httplib's own tasks catch everything; this keeps a stray exception from ending the
      // process through std::terminate.
      log::Error("an HTTP task threw", {{"err", e.what()}});
    } catch (...) {
      log::Error("an HTTP task threw", {{"err", "unknown exception"}});
    }
    current_task_enqueued_at.reset();
    task.fn = nullptr;  // whatever it holds goes before the thread waits again
    GlobalCounters().busy.fetch_sub(1, std::memory_order_relaxed);
    lock.lock();
  }
  GlobalCounters().threads.fetch_sub(1, std::memory_order_relaxed);
}

void ElasticTaskQueue::JoinRetired() {
  std::list<std::unique_ptr<Worker>> done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    done.swap(retired_);
  }
  for (auto& w : done) w->thread.join();
}

void ElasticTaskQueue::shutdown() {
  std::list<std::unique_ptr<Worker>> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutting_down_ = true;
    for (Worker* w : idle_) w->wake.notify_one();
    // Workers finish the queued tasks, then return; none retires any more, so these two
    // lists hold every thread not yet joined. The Worker objects live until joined.
    all.splice(all.end(), retired_);
    all.splice(all.end(), workers_);
  }
  for (auto& w : all) {
    if (w->thread.joinable()) w->thread.join();
  }
}

size_t ElasticTaskQueue::threads() const {
  std::lock_guard<std::mutex> lock(mu_);
  return workers_.size();
}

}  // namespace mxtls
