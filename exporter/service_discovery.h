// /sd: the configured targets in Prometheus' HTTP service discovery format
// (https://prometheus.io/docs/prometheus/latest/http_sd/), so that the Prometheus config
// needs no second copy of the domain list.
#pragma once

#include <string>

#include "config/config.h"

namespace mxtls {

inline constexpr const char* kServiceDiscoveryContentType = "application/json";

// One target group per module, in module name order, each listing its targets in config
// order, labelled __meta_mxtls_module (a __meta_ label: Prometheus drops it after
// relabelling, so it lands on no series unless relabelled, e.g. to __param_module):
//   [{"targets":["example.com"],"labels":{"__meta_mxtls_module":"default"}}]
// Modules without targets are left out; no targets give "[]".
std::string RenderServiceDiscovery(const config::Config& config);

}  // namespace mxtls
