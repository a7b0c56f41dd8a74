// Config decoding and validation: defaults, the minimal config, and one invalid
// file per validation rule with its exact message (tests/testdata/config/invalid/*.yml,
// each starting with "# expect: <message after the file name>").
#include <catch2/catch.hpp>

#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "config/config.h"
#include "tests/support/cert_factory.h"

namespace mxtls::config {
namespace {

const std::string kTestdata = MXTLS_TESTDATA_DIR;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A temp directory removed at scope exit.
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/mxtls-config-test-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
  std::string Write(const std::string& name, const std::string& text) const {
    std::string p = path + "/" + name;
    std::ofstream(p) << text;
    return p;
  }
};

Environment TestEnv() {
  Environment env;
  env.resolv_conf_path = kTestdata + "/config/resolv.conf";
  env.host_name = "prober.test";
  return env;
}

TEST_CASE("the minimal config from the issue is valid", "[config]") {
  TempDir dir;
  testing::TestPki pki;
  std::string ca = dir.Write("private-root.pem", pki.RootPem());
  std::string yaml = "dns:\n  resolvers: [\"192.0.2.53:53\", \"[2001:db8::53]:53\"]\n"
                     "modules:\n  default:\n    tls:\n      ca_file: " + ca +
                     "\ntargets:\n  - domain: example.com\n";
  auto cfg = ParseConfig(yaml, "minimal.yml", TestEnv());
  REQUIRE(cfg.ok());
  REQUIRE(cfg->dns.resolvers.size() == 2);
  CHECK(cfg->dns.resolvers[0].host == "192.0.2.53");
  CHECK(cfg->dns.resolvers[0].port == 53);
  CHECK(cfg->dns.resolvers[1].host == "2001:db8::53");
  CHECK(cfg->dns.resolvers[1].ToString() == "[2001:db8::53]:53");
  REQUIRE(cfg->targets.size() == 1);
  CHECK(cfg->targets[0].domain == "example.com");
  CHECK(cfg->targets[0].module == "default");
  const ModuleConfig* m = cfg->FindModule("default");
  REQUIRE(m != nullptr);
  CHECK(m->tls.ca_file == ca);
  CHECK(m->smtp.port == 25);
  CHECK(m->ipv4);
  CHECK(m->ipv6);
  CHECK(m->smtp.ehlo_name == "prober.test");
  CHECK_FALSE(cfg->allow_unlisted_targets);
}

TEST_CASE("defaults apply when keys are left out", "[config]") {
  auto cfg = ParseConfig("targets:\n  - domain: Example.ORG.\n", "t.yml", TestEnv());
  REQUIRE(cfg.ok());
  // Resolvers come from resolv.conf; the zoned link-local entry is skipped.
  REQUIRE(cfg->dns.resolvers.size() == 2);
  CHECK(cfg->dns.resolvers[0].ToString() == "127.0.0.53:53");
  CHECK(cfg->dns.resolvers[1].ToString() == "[::1]:53");
  CHECK(cfg->dns.timeout == std::chrono::seconds(2));
  CHECK(cfg->dns.attempts == 2);
  const ModuleConfig* m = cfg->FindModule("default");
  REQUIRE(m != nullptr);
  CHECK(m->timeout == std::chrono::seconds(30));
  CHECK(m->timeouts.connect == std::chrono::seconds(5));
  CHECK(m->timeouts.greeting == std::chrono::seconds(15));
  CHECK(m->max_addresses_per_mx == 4);
  CHECK(m->tls.ca_file.empty());
  CHECK(cfg->targets[0].domain == "example.org");
  CHECK(cfg->FindTarget("EXAMPLE.org.") != nullptr);
  CHECK(cfg->FindTarget("example.com") == nullptr);
}

TEST_CASE("tlsrpt: off by default; paths relative to the config file; limits decode",
          "[config][tlsrpt]") {
  auto off = ParseConfig("targets:\n  - domain: example.org\n", "t.yml", TestEnv());
  REQUIRE(off.ok());
  CHECK_FALSE(off->tlsrpt.enabled());
  CHECK(off->tlsrpt.spool_interval == std::chrono::minutes(5));
  CHECK(off->tlsrpt.max_body_bytes == 1 << 20);
  CHECK(off->tlsrpt.max_report_bytes == 16 << 20);
  CHECK(off->tlsrpt.retention == std::chrono::hours(24 * 30));

  Environment env = TestEnv();
  env.base_dir = "/etc/mxtls";
  auto on = ParseConfig(
      "tlsrpt:\n  listen_address: \"[::1]:10466\"\n  spool_directory: spool\n"
      "  spool_interval: 30s\n  data_directory: /var/lib/mxtls\n  max_body_bytes: 65536\n"
      "  max_report_bytes: 1048576\n  retention: 7d\n",
      "t.yml", env);
  REQUIRE(on.ok());
  CHECK(on->tlsrpt.enabled());
  CHECK(on->tlsrpt.listen_address == "[::1]:10466");
  CHECK(on->tlsrpt.spool_directory == "/etc/mxtls/spool");
  CHECK(on->tlsrpt.data_directory == "/var/lib/mxtls");
  CHECK(on->tlsrpt.spool_interval == std::chrono::seconds(30));
  CHECK(on->tlsrpt.max_body_bytes == 65536);
  CHECK(on->tlsrpt.max_report_bytes == 1048576);
  CHECK(on->tlsrpt.retention == std::chrono::hours(24 * 7));
}

TEST_CASE("a U-label target is stored, compared and found in its A-label form", "[config]") {
  auto cfg = ParseConfig(
      "targets:\n  - domain: Bücher.Example.\n  - domain: xn--zca.de\n  - domain: example.com\n"
      "dns:\n  dnssec_check_name: signiert.bücher.example\n"
      "modules:\n  default:\n    smtp: {ehlo_name: prüfer.example.net}\n",
      "idn.yml", TestEnv());
  REQUIRE(cfg.ok());
  REQUIRE(cfg->targets.size() == 3);
  CHECK(cfg->targets[0].domain == "xn--bcher-kva.example");
  CHECK(cfg->targets[0].domain_unicode == "bücher.example");
  CHECK(cfg->targets[1].domain == "xn--zca.de");
  CHECK(cfg->targets[1].domain_unicode == "ß.de");
  CHECK(cfg->targets[2].domain == "example.com");
  CHECK(cfg->targets[2].domain_unicode == "example.com");
  // Either form finds the target; the stored name is the A-label.
  const TargetConfig* t = cfg->FindTarget("bücher.example");
  REQUIRE(t != nullptr);
  CHECK(t->domain == "xn--bcher-kva.example");
  CHECK(cfg->FindTarget("XN--BCHER-KVA.example.") == t);
  CHECK(cfg->FindTarget("bücher。example") == t);
  CHECK(cfg->FindTarget("ß.de") == &cfg->targets[1]);
  // Transitional processing would map ß to ss: that is another domain, not this target.
  CHECK(cfg->FindTarget("ss.de") == nullptr);
  CHECK(cfg->FindTarget("b\xFF.example") == nullptr);
  // The names the exporter sends or queries are ASCII too.
  CHECK(cfg->dns.dnssec_check_name == "signiert.xn--bcher-kva.example");
  CHECK(cfg->FindModule("default")->smtp.ehlo_name == "xn--prfer-lva.example.net");
}

TEST_CASE("dnssec_check_name: the root stays the root", "[config]") {
  for (const char* root : {"\".\"", "\"\""}) {
    auto cfg = ParseConfig(std::string("dns:\n  dnssec_check_name: ") + root + "\n", "r.yml",
                           TestEnv());
    REQUIRE(cfg.ok());
    CHECK(cfg->dns.dnssec_check_name == ".");
  }
}

TEST_CASE("module settings decode", "[config]") {
  std::string yaml =
      "dns: {resolvers: [\"127.0.0.1\", \"[::1]:5353\", \"::2\"], timeout: 750ms, attempts: 3}\n"
      "modules:\n"
      "  v6only:\n"
      "    smtp: {port: 2525, ehlo_name: probe.example.net}\n"
      "    timeout: 1m30s\n"
      "    timeouts: {connect: 2s, greeting: 20s, ehlo: 3s, starttls: 4s, handshake: 6s}\n"
      "    ip_families: [ipv6]\n"
      "    max_mx_hosts: 3\n"
      "    max_addresses_per_mx: 2\n"
      "  empty:\n"
      "targets:\n  - domain: a.example\n    module: v6only\n"
      "allow_unlisted_targets: true\n";
  auto cfg = ParseConfig(yaml, "m.yml", TestEnv());
  REQUIRE(cfg.ok());
  CHECK(cfg->dns.resolvers[0].ToString() == "127.0.0.1:53");
  CHECK(cfg->dns.resolvers[1].ToString() == "[::1]:5353");
  CHECK(cfg->dns.resolvers[2].ToString() == "[::2]:53");
  CHECK(cfg->dns.timeout == std::chrono::milliseconds(750));
  CHECK(cfg->dns.attempts == 3);
  const ModuleConfig* m = cfg->FindModule("v6only");
  REQUIRE(m != nullptr);
  CHECK(m->smtp.port == 2525);
  CHECK(m->smtp.ehlo_name == "probe.example.net");
  CHECK(m->timeout == std::chrono::seconds(90));
  CHECK(m->timeouts.greeting == std::chrono::seconds(20));
  CHECK(m->timeouts.handshake == std::chrono::seconds(6));
  CHECK_FALSE(m->ipv4);
  CHECK(m->ipv6);
  CHECK(m->max_mx_hosts == 3);
  CHECK(m->max_addresses_per_mx == 2);
  // An empty module and the implicit default both carry the defaults.
  REQUIRE(cfg->FindModule("empty") != nullptr);
  CHECK(cfg->FindModule("empty")->smtp.port == 25);
  REQUIRE(cfg->FindModule("default") != nullptr);
  CHECK(cfg->allow_unlisted_targets);
}

TEST_CASE("relative ca_file paths resolve against the config file's directory", "[config]") {
  TempDir dir;
  testing::TestPki pki;
  dir.Write("root.pem", pki.RootPem());
  std::string path = dir.Write(
      "c.yml", "dns: {resolvers: [\"127.0.0.1:53\"]}\nmodules:\n  default:\n    tls:\n"
               "      ca_file: root.pem\n");
  auto cfg = LoadConfigFile(path, TestEnv());
  REQUIRE(cfg.ok());
  CHECK(cfg->FindModule("default")->tls.ca_file == dir.path + "/root.pem");
}

TEST_CASE("no resolvers configured and none in resolv.conf is an error", "[config]") {
  Environment env = TestEnv();
  env.resolv_conf_path = kTestdata + "/config/no-such-resolv.conf";
  auto cfg = ParseConfig("targets: []\n", "r.yml", env);
  REQUIRE_FALSE(cfg.ok());
  CHECK(cfg.status().reason() == "config_invalid");
  CHECK(cfg.status().message() ==
        "r.yml: dns.resolvers: not set and no nameserver found in " + env.resolv_conf_path);
}

TEST_CASE("an unreadable config file names the file", "[config]") {
  auto cfg = LoadConfigFile("/nonexistent/mxtls.yml", TestEnv());
  REQUIRE_FALSE(cfg.ok());
  CHECK(cfg.status().reason() == "config_unreadable");
  CHECK(cfg.status().message() == "/nonexistent/mxtls.yml: cannot read the file");
}

TEST_CASE("every invalid config file fails with its exact message", "[config]") {
  const std::string dir = kTestdata + "/config/invalid";
  std::vector<std::string> files;
  DIR* d = opendir(dir.c_str());
  REQUIRE(d != nullptr);
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name.size() > 4 && name.substr(name.size() - 4) == ".yml") files.push_back(name);
  }
  closedir(d);
  REQUIRE(files.size() >= 20);
  for (const auto& name : files) {
    std::string path = dir + "/" + name;
    std::string text = ReadFile(path);
    const std::string marker = "# expect: ";
    REQUIRE(text.rfind(marker, 0) == 0);
    std::string expected = text.substr(marker.size(), text.find('\n') - marker.size());
    // TESTDATA stands for the directory of the file, which differs between checkouts.
    for (size_t pos; (pos = expected.find("TESTDATA")) != std::string::npos;) {
      expected.replace(pos, 8, dir);
    }
    INFO("file: " << name);
    auto cfg = LoadConfigFile(path, TestEnv());
    REQUIRE_FALSE(cfg.ok());
    CHECK(cfg.status().reason() == "config_invalid");
    CHECK(cfg.status().message() == path + expected);
  }
}

TEST_CASE("durations parse in Prometheus syntax", "[config]") {
  struct Case {
    const char* text;
    bool ok;
    long long ms;
  };
  const Case cases[] = {{"5s", true, 5000},     {"500ms", true, 500},   {"1m30s", true, 90000},
                        {"2h", true, 7200000},  {"1d", true, 86400000}, {"0s", true, 0},
                        {"", false, 0},         {"5", false, 0},        {"s", false, 0},
                        {"5 s", false, 0},      {"1s1m", false, 0},     {"1.5s", false, 0},
                        {"-1s", false, 0},      {"5sec", false, 0},     {"1s500ms", true, 1500}};
  for (const auto& c : cases) {
    INFO(c.text);
    Duration d{};
    REQUIRE(ParseDuration(c.text, &d) == c.ok);
    if (c.ok) CHECK(d.count() == c.ms);
  }
}

TEST_CASE("engine limits and the endpoint reuse window decode", "[config][engine]") {
  auto defaults = ParseConfig("targets:\n  - domain: example.org\n", "t.yml", TestEnv());
  REQUIRE(defaults.ok());
  CHECK(defaults->engine.max_sessions == 1000);
  CHECK(defaults->engine.max_sessions_per_address == 4);
  CHECK(defaults->FindModule("default")->endpoint_reuse_window == std::chrono::seconds(30));

  auto cfg = ParseConfig(
      "engine:\n  max_sessions: 50\n  max_sessions_per_address: 2\n"
      "modules:\n  default:\n    endpoint_reuse_window: 0s\n"
      "targets:\n  - domain: example.org\n",
      "t.yml", TestEnv());
  REQUIRE(cfg.ok());
  CHECK(cfg->engine.max_sessions == 50);
  CHECK(cfg->engine.max_sessions_per_address == 2);
  CHECK(cfg->FindModule("default")->endpoint_reuse_window == std::chrono::seconds(0));

  auto unknown = ParseConfig("engine:\n  max_session: 5\n", "t.yml", TestEnv());
  REQUIRE(!unknown.ok());
  CHECK(unknown.status().message().find("engine.max_session") != std::string::npos);
  auto zero = ParseConfig("engine:\n  max_sessions_per_address: 0\n", "t.yml", TestEnv());
  REQUIRE(!zero.ok());
  CHECK(zero.status().message().find("engine.max_sessions_per_address") != std::string::npos);
}

}  // namespace
}  // namespace mxtls::config
