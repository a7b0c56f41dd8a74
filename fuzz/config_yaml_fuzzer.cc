// Fuzz target: the configuration loader (config/config.h) on arbitrary YAML text. The config
// is local input, but a typo or a half-written file must give an error, never a crash, since
// a reload runs inside the serving process.
//
// The environment is fixed: a resolv.conf written once at start-up (so configs without
// dns.resolvers get past that check), a fixed host name, and a base directory that does not
// exist (relative ca_file paths fail fast instead of reading the working directory).
//
// Checks beyond "no crash":
//   - an error has reason config_invalid and a message starting with the source name;
//   - a config that loads is valid by its own rules: a "default" module, at least one
//     resolver with a port, every target a lower-case domain without a trailing dot naming
//     an existing module, no duplicate targets, timeouts within their documented bounds;
//   - ParseDuration on the raw text never reports a negative duration.
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>

#include "config/config.h"
#include "fuzz/fuzz_check.h"

namespace {

using mxtls::config::Config;
using mxtls::config::Duration;

mxtls::config::Environment g_env;

void RemoveResolvConf() { std::remove(g_env.resolv_conf_path.c_str()); }

bool Within(Duration d, Duration lo, Duration hi) { return d >= lo && d <= hi; }

void CheckConfig(const Config& c) {
  FUZZ_CHECK(c.source == "fuzz.yml");
  FUZZ_CHECK(!c.dns.resolvers.empty());
  for (const auto& r : c.dns.resolvers) FUZZ_CHECK(!r.host.empty() && r.port != 0);
  FUZZ_CHECK(c.dns.attempts >= 1 && c.dns.attempts <= 10);
  FUZZ_CHECK(Within(c.dns.timeout, std::chrono::milliseconds(50), std::chrono::seconds(60)));
  FUZZ_CHECK(c.modules.count("default") == 1);
  for (const auto& [name, m] : c.modules) {
    FUZZ_CHECK(!name.empty() && m.name == name);
    FUZZ_CHECK(m.smtp.port != 0 && m.mta_sts.port != 0);
    FUZZ_CHECK(!m.smtp.ehlo_name.empty());
    FUZZ_CHECK(m.ipv4 || m.ipv6);
    FUZZ_CHECK(m.max_mx_hosts >= 1 && m.max_mx_hosts <= 100);
    FUZZ_CHECK(m.max_addresses_per_mx >= 1 && m.max_addresses_per_mx <= 64);
    FUZZ_CHECK(Within(m.timeout, std::chrono::milliseconds(100), std::chrono::minutes(10)));
    const Duration lo = std::chrono::milliseconds(10), hi = std::chrono::minutes(10);
    FUZZ_CHECK(Within(m.timeouts.connect, lo, hi) && Within(m.timeouts.greeting, lo, hi) &&
               Within(m.timeouts.ehlo, lo, hi) && Within(m.timeouts.starttls, lo, hi) &&
               Within(m.timeouts.handshake, lo, hi));
    FUZZ_CHECK(Within(m.tls.no_sni_check_interval, Duration(0), std::chrono::hours(24 * 7)));
  }
  std::set<std::string> seen;
  for (const auto& t : c.targets) {
    FUZZ_CHECK(!t.domain.empty() && t.domain.back() != '.');
    for (char ch : t.domain) FUZZ_CHECK(!(ch >= 'A' && ch <= 'Z'));
    FUZZ_CHECK(seen.insert(t.domain).second);
    FUZZ_CHECK(c.FindModule(t.module) != nullptr);
    FUZZ_CHECK(c.FindTarget(t.domain) == &t);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  char path[] = "/tmp/mxtls_fuzz_resolv_XXXXXX";
  const int fd = mkstemp(path);
  if (fd >= 0) {
    const char text[] = "nameserver 192.0.2.53\nnameserver 2001:db8::53\n";
    (void)!write(fd, text, sizeof(text) - 1);
    close(fd);
    g_env.resolv_conf_path = path;
    std::atexit(RemoveResolvConf);
  }
  g_env.host_name = "prober.example.net";
  g_env.base_dir = "/nonexistent/mxtls-fuzz";
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  mxtls::Result<Config> parsed = mxtls::config::ParseConfig(text, "fuzz.yml", g_env);
  if (parsed.ok()) {
    CheckConfig(*parsed);
  } else {
    FUZZ_CHECK(parsed.status().reason() == "config_invalid");
    FUZZ_CHECK(parsed.status().message().rfind("fuzz.yml", 0) == 0);
  }
  Duration d{};
  if (mxtls::config::ParseDuration(text, &d)) FUZZ_CHECK(d.count() >= 0);
  return 0;
}
