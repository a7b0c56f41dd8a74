#include "exporter/flags.h"

#include <cstdlib>
#include <string_view>

namespace mxtls {

std::string FlagsUsage() {
  return R"(usage: mxtls_exporter [flags]
       mxtls_exporter check [flags] DOMAIN...   (one-shot check; see check --help)

  --config.file=FILE            configuration file (default mxtls_exporter.yml)
  --config.check                validate the configuration file and exit
  --web.listen-address=ADDR     address to listen on, repeatable (default :10465)
  --web.handler-threads=N       most HTTP requests served at once; a thread each, started on
                                demand and stopped after 60 s idle (default 1024)
  --web.config.file=FILE        TLS, basic auth and response headers, in the Prometheus
                                exporter-toolkit format; re-read when it or a certificate
                                changes (default: none, plain HTTP without authentication)
  --timeout-offset=SECONDS      subtracted from Prometheus' scrape timeout (default 0.5)
  --log.level=LEVEL             debug, info, warn or error (default info)
  --log.format=FORMAT           logfmt or json (default logfmt)
  --version                     print the version and exit
  --help                        print this text and exit

HTTP: /probe?target=DOMAIN[&module=NAME][&debug=true] probes one domain; /metrics, the
exporter's own metrics; / lists the targets; /status, the last result of each target, worst
first, and /status/DOMAIN its diagnoses; /sd, the targets for Prometheus http_sd_configs;
/-/healthy; POST /-/reload.
Signals: SIGHUP reloads the configuration; SIGTERM and SIGINT shut down cleanly.
Exit status: 0 on a clean stop or a valid --config.check, 1 for an invalid configuration or a
failure to start, 2 for bad flags.
See mxtls_exporter(1) and /usr/share/doc/mxtls_exporter/README.md.
)";
}

bool SplitListenAddress(const std::string& text, std::string* host, int* port) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos) return false;
  std::string h = text.substr(0, colon);
  std::string p = text.substr(colon + 1);
  if (!h.empty() && h.front() == '[') {
    if (h.back() != ']') return false;
    h = h.substr(1, h.size() - 2);
  } else if (h.find(':') != std::string::npos) {
    return false;  // IPv6 literals need brackets
  }
  if (p.empty() || p.size() > 5) return false;
  for (char c : p) {
    if (c < '0' || c > '9') return false;
  }
  int n = std::atoi(p.c_str());
  if (n > 65535) return false;
  *host = h;
  *port = n;
  return true;
}

FlagArgument SplitFlagArgument(const std::string& arg) {
  FlagArgument out;
  out.name = arg.substr(2);
  if (size_t eq = out.name.find('='); eq != std::string::npos) {
    out.value = out.name.substr(eq + 1);
    out.name.resize(eq);
    out.has_value = true;
  }
  return out;
}

Result<Flags> ParseFlags(int argc, const char* const* argv) {
  Flags flags;
  bool listen_set = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0) {
      return Status::Error("bad_flag", "unexpected argument \"" + arg + "\"");
    }
    FlagArgument parsed = SplitFlagArgument(arg);
    const std::string& name = parsed.name;
    std::string& value = parsed.value;
    const bool has_value = parsed.has_value;
    auto take_value = [&]() -> bool {
      if (has_value) return true;
      if (i + 1 >= argc) return false;
      value = argv[++i];
      return true;
    };
    if (name == "config.check" || name == "version" || name == "help") {
      if (has_value && value != "true" && value != "false") {
        return Status::Error("bad_flag", "--" + name + " takes no value");
      }
      bool on = !has_value || value == "true";
      if (name == "config.check") flags.config_check = on;
      if (name == "version") flags.version = on;
      if (name == "help") flags.help = on;
      continue;
    }
    if (name != "config.file" && name != "web.listen-address" && name != "log.level" &&
        name != "log.format" && name != "timeout-offset" && name != "web.handler-threads" &&
        name != "web.config.file") {
      return Status::Error("bad_flag", "unknown flag --" + name);
    }
    if (!take_value()) return Status::Error("bad_flag", "--" + name + " needs a value");
    if (name == "config.file") {
      flags.config_file = value;
    } else if (name == "web.listen-address") {
      std::string host;
      int port;
      if (!SplitListenAddress(value, &host, &port)) {
        return Status::Error("bad_flag", "--web.listen-address: expected host:port, [v6]:port "
                                         "or :port, got \"" + value + "\"");
      }
      if (!listen_set) flags.listen_addresses.clear();
      listen_set = true;
      flags.listen_addresses.push_back(value);
    } else if (name == "web.config.file") {
      flags.web_config_file = value;
    } else if (name == "log.level") {
      if (value != "debug" && value != "info" && value != "warn" && value != "error") {
        return Status::Error("bad_flag", "--log.level: expected debug, info, warn or error");
      }
      flags.log_level = value;
    } else if (name == "log.format") {
      if (value != "logfmt" && value != "json") {
        return Status::Error("bad_flag", "--log.format: expected logfmt or json");
      }
      flags.log_format = value;
    } else if (name == "timeout-offset") {
      char* end = nullptr;
      double v = std::strtod(value.c_str(), &end);
      if (end == value.c_str() || *end != '\0' || v < 0 || v > 60) {
        return Status::Error("bad_flag", "--timeout-offset: expected seconds between 0 and 60");
      }
      flags.timeout_offset_seconds = v;
    } else if (name == "web.handler-threads") {
      char* end = nullptr;
      long v = std::strtol(value.c_str(), &end, 10);
      if (end == value.c_str() || *end != '\0' || v < 1 || v > 4096) {
        return Status::Error("bad_flag", "--web.handler-threads: expected 1 to 4096");
      }
      flags.handler_threads = static_cast<int>(v);
    }
  }
  if (flags.listen_addresses.empty()) flags.listen_addresses.push_back(":10465");
  return flags;
}

}  // namespace mxtls
