#include "exporter/elastic_task_queue.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

namespace mxtls {
namespace {

// Tasks that block until released, counting how many run at the same time.
class Gate {
 public:
  std::function<void()> Task() {
    return [this] {
      std::unique_lock<std::mutex> lock(mu_);
      ++running_;
      peak_ = std::max(peak_, running_);
      cv_.notify_all();
      cv_.wait(lock, [this] { return open_; });
      --running_;
      ++done_;
      cv_.notify_all();
    };
  }
  // Waits (at most 10 s) until `n` tasks run at once; false if they never do.
  bool WaitRunning(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return running_ >= n; });
  }
  bool WaitDone(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return done_ >= n; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  int peak() {
    std::lock_guard<std::mutex> lock(mu_);
    return peak_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int running_ = 0, peak_ = 0, done_ = 0;
  bool open_ = false;
};

// Polls `pred` for at most 10 s.
template <typename Pred>
bool Eventually(Pred pred) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

TEST_CASE("every request gets a thread of its own while the limit allows", "[http_queue]") {
  const uint64_t waited0 = ElasticTaskQueue::GlobalCounters().waited_total.load();
  ElasticTaskQueue queue(300);
  Gate gate;
  // More than the old fixed pool of 128: none of them waits for another.
  for (int i = 0; i < 200; ++i) queue.enqueue(gate.Task());
  REQUIRE(gate.WaitRunning(200));
  CHECK(queue.threads() == 200);
  CHECK(ElasticTaskQueue::GlobalCounters().waited_total.load() == waited0);
  gate.Open();
  REQUIRE(gate.WaitDone(200));
  // Idle threads are reused, not multiplied.
  Gate second;
  for (int i = 0; i < 10; ++i) queue.enqueue(second.Task());
  REQUIRE(second.WaitRunning(10));
  CHECK(queue.threads() == 200);
  second.Open();
  REQUIRE(second.WaitDone(10));
}

TEST_CASE("past the limit requests wait, are counted, and still run", "[http_queue]") {
  const uint64_t waited0 = ElasticTaskQueue::GlobalCounters().waited_total.load();
  ElasticTaskQueue queue(4);
  Gate gate;
  for (int i = 0; i < 10; ++i) queue.enqueue(gate.Task());
  REQUIRE(gate.WaitRunning(4));
  CHECK(queue.threads() == 4);
  CHECK(ElasticTaskQueue::GlobalCounters().waited_total.load() - waited0 == 6);
  gate.Open();
  REQUIRE(gate.WaitDone(10));
  CHECK(gate.peak() == 4);
}

TEST_CASE("a task knows when it was enqueued, so a request's wait for a thread is counted",
          "[http_queue]") {
  using Clock = std::chrono::steady_clock;
  CHECK_FALSE(ElasticTaskQueue::CurrentTaskEnqueuedAt().has_value());  // not a queue thread
  ElasticTaskQueue queue(1, 1);
  Gate gate;
  queue.enqueue(gate.Task());
  REQUIRE(gate.WaitRunning(1));
  // The second task waits for the only thread until the gate opens.
  std::mutex mu;
  std::condition_variable cv;
  std::optional<Clock::time_point> seen;
  Clock::time_point started{};
  bool ran = false;
  const Clock::time_point before_enqueue = Clock::now();
  queue.enqueue([&] {
    std::lock_guard<std::mutex> lock(mu);
    seen = ElasticTaskQueue::CurrentTaskEnqueuedAt();
    started = Clock::now();
    ran = true;
    cv.notify_all();
  });
  const Clock::time_point after_enqueue = Clock::now();
  gate.Open();
  std::unique_lock<std::mutex> lock(mu);
  REQUIRE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return ran; }));
  REQUIRE(seen.has_value());
  CHECK(*seen >= before_enqueue);
  CHECK(*seen <= after_enqueue);
  // It ran only after the gate opened, which was after it was enqueued.
  CHECK(started >= after_enqueue);
  lock.unlock();
  // A task that finds an idle thread is stamped too.
  std::promise<bool> stamped;
  queue.enqueue([&] { stamped.set_value(ElasticTaskQueue::CurrentTaskEnqueuedAt().has_value()); });
  CHECK(stamped.get_future().get());
}

TEST_CASE("idle threads stop after the idle timeout, down to the minimum", "[http_queue]") {
  ElasticTaskQueue queue(50, 2, std::chrono::milliseconds(50));
  Gate gate;
  for (int i = 0; i < 20; ++i) queue.enqueue(gate.Task());
  REQUIRE(gate.WaitRunning(20));
  gate.Open();
  REQUIRE(gate.WaitDone(20));
  CHECK(Eventually([&] { return queue.threads() == 2; }));
  // The survivors and new threads still serve.
  Gate again;
  for (int i = 0; i < 5; ++i) queue.enqueue(again.Task());
  REQUIRE(again.WaitRunning(5));
  again.Open();
  REQUIRE(again.WaitDone(5));
}

TEST_CASE("after a burst, steady traffic reuses few threads and the surplus stops",
          "[http_queue]") {
  ElasticTaskQueue queue(64, 1, std::chrono::milliseconds(100));
  Gate burst;
  for (int i = 0; i < 30; ++i) queue.enqueue(burst.Task());
  REQUIRE(burst.WaitRunning(30));
  burst.Open();
  REQUIRE(burst.WaitDone(30));
  REQUIRE(queue.threads() == 30);
  // One request at a time, more often than the idle timeout: were idle threads taking turns,
  // each would be used every 30 requests and none would ever be idle for 100 ms.
  std::atomic<int> done{0};
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(600);
  int sent = 0;
  while (std::chrono::steady_clock::now() < until) {
    queue.enqueue([&] { ++done; });
    ++sent;
    REQUIRE(Eventually([&] { return done.load() == sent; }));
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  // Measured while the traffic still flows: the surplus left during it.
  CHECK(queue.threads() <= 3);
}

TEST_CASE("shutdown runs what is queued, joins every thread and refuses more", "[http_queue]") {
  const int64_t threads0 = ElasticTaskQueue::GlobalCounters().threads.load();
  std::atomic<int> ran{0};
  {
    ElasticTaskQueue queue(2);
    Gate gate;
    queue.enqueue(gate.Task());
    queue.enqueue(gate.Task());
    for (int i = 0; i < 5; ++i) queue.enqueue([&] { ++ran; });  // wait behind the gate
    REQUIRE(gate.WaitRunning(2));
    std::thread opener([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      gate.Open();
    });
    queue.shutdown();
    opener.join();
    CHECK(ran == 5);
    queue.enqueue([&] { ++ran; });
    CHECK(ran == 5);
    CHECK(queue.threads() == 0);
  }
  CHECK(ElasticTaskQueue::GlobalCounters().threads.load() == threads0);
}

TEST_CASE("a task that throws does not take the thread or the process down", "[http_queue]") {
  ElasticTaskQueue queue(1);
  std::atomic<bool> after{false};
  queue.enqueue([] { throw std::runtime_error("handler bug"); });
  queue.enqueue([&] { after = true; });
  CHECK(Eventually([&] { return after.load(); }));
}

}  // namespace
}  // namespace mxtls
