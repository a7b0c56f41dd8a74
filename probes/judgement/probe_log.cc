#include "probes/judgement/probe_log.h"

#include <cstdio>

namespace mxtls {

void ProbeLog::Add(const std::string& line) {
  double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  char prefix[32];
  std::snprintf(prefix, sizeof(prefix), "[%8.3fs] ", elapsed);
  std::lock_guard<std::mutex> lock(mu_);
  // A hostile server must not grow one probe's log without bound.
  if (lines_.size() >= 2000) {
    if (lines_.size() == 2000) lines_.push_back(std::string(prefix) + "(log truncated)");
    return;
  }
  lines_.push_back(prefix + line);
}

std::vector<std::string> ProbeLog::Lines() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lines_;
}

std::string ProbeLog::Text() const {
  std::string out;
  for (const auto& l : Lines()) out += l + "\n";
  return out;
}

}  // namespace mxtls
