#include "exporter/check_command.h"

#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "common/log.h"
#include "exporter/check_json.h"
#include "exporter/check_text.h"
#include "exporter/flags.h"
#include "exporter/terminal_escape.h"
#include "config/domain_name.h"
#include "probes/judgement/dns_names.h"
#include "probes/probe_engine.h"

namespace mxtls {
namespace {

Status BadFlag(const std::string& message) { return Status::Error("bad_flag", message); }

std::string Absolute(const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  char cwd[4096];
  if (getcwd(cwd, sizeof cwd) == nullptr) return path;
  return std::string(cwd) + "/" + path;
}

std::string ReadFile(const std::string& path, bool* ok) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  *ok = static_cast<bool>(in) || in.eof();
  return text.str();
}

}  // namespace

std::string CheckUsage() {
  return R"(usage: mxtls_exporter check [flags] DOMAIN...

Probes each DOMAIN once from this machine, as a strict sending MTA would, and prints every MX
host and address and the verdict of every check, worst first, with the diagnosis of each fault.

  --config.file=FILE            take resolvers, trust store and module from this exporter
                                config (the domains need not be listed in it)
  --module=NAME                 module of the config file to use (default "default")
  --output=FORMAT               text or json (default text; schema: docs/check-output.schema.json)
  --dns.resolver=IP[:PORT]      resolver to ask, repeatable (default: the config's, else
                                /etc/resolv.conf)
  --dns.dnssec-check-name=NAME  a signed name that tells whether the resolvers validate DNSSEC
  --tls.ca-file=FILE            trust these CAs instead of the system store
  --smtp.port=N                 SMTP port to probe (default 25)
  --timeout=DURATION            limit for each domain's probe (default: the module's, 30s)
  --color=WHEN                  auto, always or never (default auto: on a terminal)
  --help                        print this text and exit

Exit status: 0 when the shipped alert rules would raise no alert for any DOMAIN, 1 when they
would raise one for some DOMAIN, 2 when the check could not run (bad flags, unreadable config,
no resolver, or outbound port 25 blocked from here).
)";
}

Result<CheckFlags> ParseCheckFlags(int argc, const char* const* argv) {
  CheckFlags flags;
  static const std::set<std::string> kValued = {
      "config.file", "output",     "dns.resolver", "tls.ca-file",          "module",
      "timeout",     "smtp.port",  "color",        "dns.dnssec-check-name"};
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0) {
      Result<config::DomainName> domain = config::ParseDomainName(arg);
      if (!domain.ok()) return BadFlag(domain.status().message());
      flags.domains.push_back(domain->ascii);
      flags.domains_unicode.push_back(domain->unicode);
      continue;
    }
    FlagArgument parsed = SplitFlagArgument(arg);
    const std::string& name = parsed.name;
    std::string& value = parsed.value;
    const bool has_value = parsed.has_value;
    if (name == "help") {
      flags.help = true;
      continue;
    }
    if (!kValued.count(name)) return BadFlag("unknown flag --" + EscapeForTerminal(name));
    if (!has_value) {
      if (i + 1 >= argc) return BadFlag("--" + name + " needs a value");
      value = argv[++i];
    }
    if (name == "config.file") {
      flags.config_file = value;
    } else if (name == "output") {
      if (value != "text" && value != "json") return BadFlag("--output: expected text or json");
      flags.output = value;
    } else if (name == "dns.resolver") {
      flags.resolvers.push_back(value);
    } else if (name == "tls.ca-file") {
      flags.ca_file = Absolute(value);
    } else if (name == "module") {
      flags.module = value;
    } else if (name == "timeout") {
      config::Duration d;
      if (!config::ParseDuration(value, &d) || d.count() <= 0) {
        return BadFlag("--timeout: expected a duration such as 30s or 1m, got \"" +
                       EscapeForTerminal(value) + "\"");
      }
      flags.timeout = value;
    } else if (name == "smtp.port") {
      char* end = nullptr;
      long port = std::strtol(value.c_str(), &end, 10);
      if (end == value.c_str() || *end != '\0' || port < 1 || port > 65535) {
        return BadFlag("--smtp.port: expected 1 to 65535");
      }
      flags.smtp_port = static_cast<int>(port);
    } else if (name == "color") {
      if (value != "auto" && value != "always" && value != "never") {
        return BadFlag("--color: expected auto, always or never");
      }
      flags.color = value;
    } else if (name == "dns.dnssec-check-name") {
      flags.dnssec_check_name = value;
    }
  }
  if (!flags.help && flags.domains.empty()) return BadFlag("no DOMAIN given");
  return flags;
}

Result<CheckSetup> BuildCheckSetup(const CheckFlags& flags, const config::Environment& env) {
  // The flags are applied to the config as YAML and the result goes through the exporter's
  // own decoder, so that every value is validated, defaulted and worded the same way.
  YAML::Node root(YAML::NodeType::Map);
  std::string source = "(command-line flags)";
  config::Environment decode_env = env;
  if (!flags.config_file.empty()) {
    // First the file as it is, so that its own errors carry its line numbers.
    // (A file without resolvers on a machine without /etc/resolv.conf is fine when
    // --dns.resolver supplies them: the decode with the flags below judges it.)
    Result<config::Config> as_written = config::LoadConfigFile(flags.config_file, env);
    if (!as_written.ok() &&
        (flags.resolvers.empty() || as_written.status().reason() == "config_unreadable")) {
      return as_written.status();
    }
    bool ok = false;
    std::string text = ReadFile(flags.config_file, &ok);
    if (!ok) return Status::Error("config_unreadable", "cannot read " + flags.config_file);
    root = YAML::Load(text);
    if (!root.IsMap()) root = YAML::Node(YAML::NodeType::Map);
    source = flags.config_file + " with command-line flags";
    if (decode_env.base_dir.empty()) {
      size_t slash = flags.config_file.rfind('/');
      decode_env.base_dir = slash == std::string::npos ? "." : flags.config_file.substr(0, slash);
      if (decode_env.base_dir.empty()) decode_env.base_dir = "/";
    }
    if (!flags.module.empty() && flags.module != "default" &&
        !(root["modules"] && root["modules"][flags.module])) {
      return Status::Error("config_invalid", flags.config_file + ": no module \"" +
                                                 EscapeForTerminal(flags.module) + "\"");
    }
  } else if (!flags.module.empty() && flags.module != "default") {
    return Status::Error("config_invalid", "--module needs --config.file (only the default "
                                           "module exists without one)");
  }
  const std::string module = flags.module.empty() ? "default" : flags.module;

  if (!flags.resolvers.empty()) {
    YAML::Node list(YAML::NodeType::Sequence);
    for (const std::string& r : flags.resolvers) list.push_back(r);
    root["dns"]["resolvers"] = list;
  }
  if (!flags.dnssec_check_name.empty()) {
    root["dns"]["dnssec_check_name"] = flags.dnssec_check_name;
  }
  YAML::Node mod = root["modules"][module];
  if (!flags.ca_file.empty()) mod["tls"]["ca_file"] = flags.ca_file;
  if (flags.smtp_port != 0) mod["smtp"]["port"] = flags.smtp_port;
  if (!flags.timeout.empty()) mod["timeout"] = flags.timeout;

  YAML::Emitter out;
  out << root;
  Result<config::Config> parsed = config::ParseConfig(out.c_str(), source, decode_env);
  if (!parsed.ok()) return parsed.status();
  auto cfg = std::make_shared<const config::Config>(std::move(parsed.value()));
  const config::ModuleConfig* m = cfg->FindModule(module);
  if (m == nullptr) {
    return Status::Error("config_invalid", "no module \"" + EscapeForTerminal(module) + "\"");
  }
  return CheckSetup{cfg, m};
}

bool Port25LooksBlocked(const std::vector<CheckedDomain>& domains) {
  size_t endpoints = 0;
  for (const CheckedDomain& d : domains) {
    for (const EndpointReport& e : d.report.endpoints) {
      ++endpoints;
      if (e.connected || e.failure_stage != "connect") return false;
      const std::string& why = e.failure_reason;
      if (why != "timeout" && why != "unreachable" && why != "connect_error") return false;
    }
  }
  return endpoints > 0;
}

bool UseColor(const std::string& color, bool stdout_is_tty, const char* term,
              const char* no_color) {
  if (color == "always") return true;
  if (color == "never") return false;
  if (no_color != nullptr && *no_color != '\0') return false;
  return stdout_is_tty && term != nullptr && *term != '\0' && std::string(term) != "dumb";
}

int RunCheck(int argc, char** argv) {
  Result<CheckFlags> parsed = ParseCheckFlags(argc, argv);
  if (!parsed.ok()) {
    std::fprintf(stderr, "mxtls_exporter check: %s\n\n%s", parsed.status().message().c_str(),
                 CheckUsage().c_str());
    return kCheckExitCannotRun;
  }
  const CheckFlags& flags = parsed.value();
  if (flags.help) {
    std::fputs(CheckUsage().c_str(), stdout);
    return kCheckExitHealthy;
  }
  // The engine's own log lines would drown the report; only errors are worth showing here.
  log::SetLevel(log::Level::kError);

  Result<CheckSetup> setup = BuildCheckSetup(flags);
  if (!setup.ok()) {
    std::fprintf(stderr, "mxtls_exporter check: cannot run: %s\n",
                 setup.status().message().c_str());
    if (flags.config_file.empty() && flags.resolvers.empty()) {
      std::fprintf(stderr, "give a resolver with --dns.resolver=IP[:PORT]\n");
    }
    return kCheckExitCannotRun;
  }
  EngineOptions engine_options;
  engine_options.threads = 1;
  Result<std::unique_ptr<ProbeEngine>> engine = ProbeEngine::Create(engine_options);
  if (!engine.ok()) {
    std::fprintf(stderr, "mxtls_exporter check: cannot start the probe engine: %s\n",
                 engine.status().message().c_str());
    return kCheckExitCannotRun;
  }

  const bool json = flags.output == "json";
  TextStyle style;
  style.color = UseColor(flags.color, isatty(STDOUT_FILENO) == 1, std::getenv("TERM"),
                         std::getenv("NO_COLOR"));
  const double timeout =
      std::chrono::duration<double>(setup.value().module->timeout).count();
  CheckRun run;
  for (size_t i = 0; i < flags.domains.size(); ++i) {
    ProbeTask task;
    task.domain = flags.domains[i];
    task.config = setup.value().config;
    task.module = setup.value().module;
    task.timeout_seconds = timeout;
    task.deadline = std::chrono::steady_clock::now() +
                    std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                        std::chrono::duration<double>(timeout));
    CheckedDomain checked;
    checked.report = engine.value()->Probe(task);
    checked.report.timeout_seconds = timeout;
    checked.domain_unicode = i < flags.domains_unicode.size() ? flags.domains_unicode[i]
                                                              : flags.domains[i];
    WallTime now = std::chrono::system_clock::now();
    checked.findings = Diagnose(checked.report, now);
    checked.alerts = PredictAlerts(checked.report, now);
    if (!json) {
      if (i > 0) std::fputs("\n", stdout);
      std::fputs(RenderCheckText(checked, style).c_str(), stdout);
      std::fflush(stdout);
    }
    if (flags.domains.size() > 1) {
      std::fprintf(stderr, "checked %zu/%zu %s\n", i + 1, flags.domains.size(),
                   EscapeForTerminal(task.domain).c_str());
    }
    run.domains.push_back(std::move(checked));
  }
  run.port25_blocked = Port25LooksBlocked(run.domains);

  if (json) {
    std::fputs(RenderCheckJson(run, std::chrono::system_clock::now()).c_str(), stdout);
  } else {
    std::string summary = RenderRunSummaryText(run, style);
    if (!summary.empty()) std::fputs(("\n" + summary).c_str(), stdout);
  }
  std::fflush(stdout);
  if (run.port25_blocked) {
    std::fprintf(stderr, "mxtls_exporter check: %s\n", kPort25BlockedMessage);
    return kCheckExitCannotRun;
  }
  for (const CheckedDomain& d : run.domains) {
    if (!d.alerts.empty()) return kCheckExitAlerts;
  }
  return kCheckExitHealthy;
}

}  // namespace mxtls
