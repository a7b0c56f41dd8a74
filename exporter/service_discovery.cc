#include "exporter/service_discovery.h"

#include <cstdio>
#include <map>
#include <vector>

namespace mxtls {
namespace {

// Targets are validated domain names and modules YAML keys, but a module name may hold any
// character: escape as JSON requires (RFC 8259 §7).
std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

}  // namespace

std::string RenderServiceDiscovery(const config::Config& config) {
  std::map<std::string, std::vector<std::string>> by_module;
  for (const config::TargetConfig& t : config.targets) by_module[t.module].push_back(t.domain);
  std::string out = "[";
  for (const auto& [module, domains] : by_module) {
    if (out.size() > 1) out += ",";
    out += "\n  {\"targets\": [";
    for (size_t i = 0; i < domains.size(); ++i) {
      out += (i ? ", " : "") + JsonString(domains[i]);
    }
    out += "], \"labels\": {\"__meta_mxtls_module\": " + JsonString(module) + "}}";
  }
  return out + (out.size() > 1 ? "\n]\n" : "]\n");
}

}  // namespace mxtls
