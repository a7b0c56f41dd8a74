// The per-probe log: every step of a probe appends a line with the time since the probe
// started. ?debug=true returns it beside the metrics, so an operator can see why.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <vector>

namespace mxtls {

// Thread-safe: endpoints of one probe may log from different threads.
class ProbeLog {
 public:
  ProbeLog() : start_(std::chrono::steady_clock::now()) {}

  void Add(const std::string& line);
  std::vector<std::string> Lines() const;
  // All lines, newline-terminated.
  std::string Text() const;

 private:
  const std::chrono::steady_clock::time_point start_;
  mutable std::mutex mu_;
  std::vector<std::string> lines_;
};

}  // namespace mxtls
