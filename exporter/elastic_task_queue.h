// The HTTP front's task queue for cpp-httplib: a thread per request in flight, started on
// demand up to a limit, and stopped again after a minute without work.
//
// Why not httplib::ThreadPool: a /probe handler blocks its thread until the probe's report is
// ready (seconds against a slow mail server), so a fixed pool of N threads makes scrape N+1
// wait behind the others however idle the engine is, and a fixed pool big enough for a
// hosting fleet's burst keeps thousands of threads alive all day. Here a request waits only
// when `max_threads` requests are already being served; the count of those that waited is
// kept for /metrics, so an operator sees when the limit is too low.
//
// Idle threads are handed work last-in, first-out: the thread that became idle most recently
// takes the next request, so after a burst the surplus threads really stay idle and stop after
// `idle_timeout`, instead of all taking turns and never timing out.
//
// Thread-safe. shutdown() (called by httplib when the server stops) runs the queued tasks,
// then joins every thread; enqueue() after shutdown() drops the task.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace mxtls {

class ElasticTaskQueue : public httplib::TaskQueue {
 public:
  // Process-wide counts for the exporter's own metrics (every queue of the process).
  struct Counters {
    std::atomic<int64_t> threads{0};         // alive
    std::atomic<int64_t> busy{0};            // running a task
    std::atomic<uint64_t> waited_total{0};   // tasks that found every allowed thread busy
  };
  static Counters& GlobalCounters();

  ElasticTaskQueue(size_t max_threads, size_t min_threads = 2,
                   std::chrono::milliseconds idle_timeout = std::chrono::seconds(60));
  ~ElasticTaskQueue() override;

  void enqueue(std::function<void()> fn) override;
  void shutdown() override;

  size_t threads() const;

  // When the task running on the calling thread was handed to enqueue(): how long a request
  // waited for a thread is part of its scrape's time (see BoundedHttpServer::RequestArrival).
  // Empty on a thread that is not running a task of an ElasticTaskQueue.
  static std::optional<std::chrono::steady_clock::time_point> CurrentTaskEnqueuedAt();

 private:
  struct Task {
    std::function<void()> fn;
    std::chrono::steady_clock::time_point enqueued_at;
  };
  // One thread. Guarded by mu_ except `thread`, which only the queue touches.
  struct Worker {
    std::thread thread;
    std::condition_variable wake;
    Task task;         // handed over by enqueue() while the worker is idle
    bool idle = false;  // on idle_
  };

  void Work(Worker* self);
  void JoinRetired();  // joins threads that have left Work(); mu_ must not be held

  const size_t max_threads_;
  const size_t min_threads_;
  const std::chrono::milliseconds idle_timeout_;

  mutable std::mutex mu_;
  std::deque<Task> tasks_;                       // waiting for a thread (at max_threads_)
  std::list<std::unique_ptr<Worker>> workers_;  // alive
  std::vector<Worker*> idle_;                   // idle workers, most recently idle last
  std::list<std::unique_ptr<Worker>> retired_;  // returned from Work(), to be joined
  bool shutting_down_ = false;
};

}  // namespace mxtls
