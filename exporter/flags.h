// Command-line flags, in the Prometheus exporter conventions (--web.listen-address,
// --config.file, ...). Parsing is pure so that tests can check every flag.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace mxtls {

struct Flags {
  std::vector<std::string> listen_addresses;  // default {":10465"}
  std::string config_file = "mxtls_exporter.yml";
  bool config_check = false;  // validate the config and exit
  std::string log_level = "info";
  std::string log_format = "logfmt";
  double timeout_offset_seconds = 0.5;
  int handler_threads = 1024;  // most HTTP requests served at once (threads on demand)
  std::string web_config_file;  // exporter-toolkit web config (TLS, basic auth); empty: none
  bool version = false;
  bool help = false;
};

// One "--name" or "--name=value" argument split into its parts ("--" already checked).
struct FlagArgument {
  std::string name;
  std::string value;
  bool has_value = false;  // the value came with "=" (else it may be the next argument)
};
FlagArgument SplitFlagArgument(const std::string& arg);

// Accepts "--name=value" and "--name value". Unknown flags are errors.
Result<Flags> ParseFlags(int argc, const char* const* argv);
std::string FlagsUsage();

// Splits "host:port", "[v6]:port" or ":port". An empty host means all interfaces.
bool SplitListenAddress(const std::string& text, std::string* host, int* port);

}  // namespace mxtls
