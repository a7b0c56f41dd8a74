#include "exporter/config_store.h"

#include <chrono>

#include "common/log.h"

namespace mxtls {

ConfigStore::ConfigStore(std::string path, Loader loader)
    : path_(std::move(path)), loader_(std::move(loader)) {}

Status ConfigStore::Reload() {
  std::lock_guard<std::mutex> reload_lock(reload_mu_);
  // Load outside mu_: reading files must not block readers of the current config.
  Result<config::Config> loaded = loader_(path_);
  double now = std::chrono::duration<double>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
  std::lock_guard<std::mutex> lock(mu_);
  if (!loaded.ok()) {
    last_ok_ = false;
    last_error_ = loaded.status().message();
    log::Error("error loading config", {{"file", path_}, {"err", last_error_}});
    return loaded.status();
  }
  current_ = std::make_shared<const config::Config>(std::move(loaded).value());
  last_ok_ = true;
  last_success_ts_ = now;
  last_error_.clear();
  log::Info("loaded config", {{"file", path_},
                              {"targets", std::to_string(current_->targets.size())},
                              {"modules", std::to_string(current_->modules.size())}});
  return Status();
}

std::shared_ptr<const config::Config> ConfigStore::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

bool ConfigStore::last_reload_successful() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_ok_;
}

double ConfigStore::last_success_timestamp_seconds() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_success_ts_;
}

std::string ConfigStore::last_error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_error_;
}

}  // namespace mxtls
