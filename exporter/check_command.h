// `mxtls_exporter check [flags] DOMAIN...`: probes each domain once, locally, with the same
// engine, resolvers, trust store and module as the exporter (from --config.file when given;
// the domains need not be configured targets), prints what a strict sending MTA would see
// with the diagnosis of every fault, and exits 1 exactly when the shipped alert rules would
// raise an alert for some domain, 0 when none, 2 when the check could not run.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "config/config.h"
#include "exporter/check_result.h"

namespace mxtls {

inline constexpr int kCheckExitHealthy = 0;
inline constexpr int kCheckExitAlerts = 1;
inline constexpr int kCheckExitCannotRun = 2;

struct CheckFlags {
  std::string config_file;             // empty: no config file, defaults + flags
  std::string output = "text";         // "text" or "json"
  std::vector<std::string> resolvers;  // --dns.resolver, as given (validated by the config)
  std::string ca_file;                 // --tls.ca-file, made absolute
  std::string module;                  // --module; empty: "default"
  std::string timeout;                 // --timeout, a duration; empty: the module's
  int smtp_port = 0;                   // --smtp.port; 0: the module's
  std::string dnssec_check_name;       // --dns.dnssec-check-name; empty: the config's
  std::string color = "auto";          // auto, always, never
  bool help = false;
  // A-label form (lower case, no trailing dot), validated; U-labels are converted (UTS #46).
  std::vector<std::string> domains;
  std::vector<std::string> domains_unicode;  // the U-label form of each, for people
};

// Parses the arguments after "check" (argv[0] is the program, argv[1] "check"). Flags take
// "--name=value" or "--name value"; anything not starting with "--" is a domain. Reason
// "bad_flag" on any error.
Result<CheckFlags> ParseCheckFlags(int argc, const char* const* argv);
std::string CheckUsage();

// The config a check runs with: the file (or built-in defaults) with the flags applied on
// top, validated by the same decoder as the exporter's config. Without --dns.resolver and
// without resolvers in the file, those of env.resolv_conf_path. Reason "config_invalid" or
// "config_unreadable" (the message says which file, field and why).
struct CheckSetup {
  std::shared_ptr<const config::Config> config;
  const config::ModuleConfig* module = nullptr;  // points into *config
};
Result<CheckSetup> BuildCheckSetup(const CheckFlags& flags, const config::Environment& env = {});

// True when the domains together have at least one endpoint and every connection to every
// endpoint failed at connect with a timeout, an unreachable network or another local error:
// the prober cannot reach port 25 at all. A refused connection (RST) is not counted: a host
// answered, so the path is open and the refusal is the server's to fix.
bool Port25LooksBlocked(const std::vector<CheckedDomain>& domains);

// Whether to colour: "always", "never", or "auto" = a terminal whose TERM is set and not
// "dumb", and NO_COLOR unset (https://no-color.org).
bool UseColor(const std::string& color, bool stdout_is_tty, const char* term,
              const char* no_color);

// The whole command; returns the exit code. Writes the report to stdout, progress and errors
// to stderr.
int RunCheck(int argc, char** argv);

}  // namespace mxtls
