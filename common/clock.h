// Time as an injectable dependency: code that judges expiry takes a Clock (or a time point
// read from one) so that tests move time instead of sleeping.
#pragma once

#include <chrono>
#include <mutex>

namespace mxtls {

using WallTime = std::chrono::system_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual WallTime Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  WallTime Now() const override { return std::chrono::system_clock::now(); }
};

// A clock that only moves when told to. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(WallTime start) : now_(start) {}
  WallTime Now() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return now_;
  }
  void Set(WallTime t) {
    std::lock_guard<std::mutex> lock(mu_);
    now_ = t;
  }
  void Advance(std::chrono::seconds d) {
    std::lock_guard<std::mutex> lock(mu_);
    now_ += d;
  }

 private:
  mutable std::mutex mu_;
  WallTime now_;
};

// Seconds since the Unix epoch, as OpenSSL and Prometheus count them.
inline long long ToUnixSeconds(WallTime t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}
inline WallTime FromUnixSeconds(long long s) { return WallTime(std::chrono::seconds(s)); }

}  // namespace mxtls
