#include "exporter/service_discovery.h"

#include <map>
#include <nlohmann/json.hpp>
#include <vector>

namespace mxtls {

std::string RenderServiceDiscovery(const config::Config& config) {
  std::map<std::string, std::vector<std::string>> by_module;
  for (const config::TargetConfig& t : config.targets) by_module[t.module].push_back(t.domain);
  nlohmann::json groups = nlohmann::json::array();
  for (const auto& [module, domains] : by_module) {
    groups.push_back({{"targets", domains}, {"labels", {{"__meta_mxtls_module", module}}}});
  }
  return groups.dump() + "\n";
}

}  // namespace mxtls
