// Holds the configuration in force and swaps in a new one only when it loads cleanly: a bad
// file on reload leaves the old config running and is reported, never applied halfway.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "common/status.h"
#include "config/config.h"

namespace mxtls {

// Thread-safe. Readers take a shared_ptr snapshot that stays valid for as long as they hold
// it, even across a reload.
class ConfigStore {
 public:
  using Loader = std::function<Result<config::Config>(const std::string& path)>;

  ConfigStore(std::string path, Loader loader);

  // Loads the file. On success the new config is in force; on failure the old one stays.
  Status Reload();

  std::shared_ptr<const config::Config> Current() const;
  const std::string& path() const { return path_; }

  bool last_reload_successful() const;
  double last_success_timestamp_seconds() const;  // 0 before the first success
  std::string last_error() const;

 private:
  const std::string path_;
  const Loader loader_;
  std::mutex reload_mu_;  // serializes reloads (SIGHUP and /-/reload may race)
  mutable std::mutex mu_;
  std::shared_ptr<const config::Config> current_;
  bool last_ok_ = false;
  double last_success_ts_ = 0;
  std::string last_error_;
};

}  // namespace mxtls
