// The pieces of the status page and /sd that need no network: the report store's bound, the
// release of chains, the /sd JSON, and the HTML escaping every attacker-controlled name goes
// through.
#include <catch2/catch.hpp>

#include <string>

#include "config/config.h"
#include "exporter/html_text.h"
#include "exporter/report_store.h"
#include "exporter/service_discovery.h"
#include "exporter/status_page.h"

namespace mxtls {
namespace {

config::Config ConfigWith(const std::string& targets_yaml) {
  config::Environment env;
  env.resolv_conf_path = "/dev/null";
  env.host_name = "prober.test";
  auto cfg = config::ParseConfig(
      "dns:\n  resolvers: [\"127.0.0.1:53\"]\nmodules:\n  default: {}\n  strict: {}\n"
      + targets_yaml,
      "test.yml", env);
  INFO(cfg.status().message());
  REQUIRE(cfg.ok());
  return cfg.value();
}

DomainReport ReportFor(const std::string& domain, const std::string& module) {
  DomainReport r;
  r.domain = domain;
  r.module = module;
  EndpointReport e;
  e.mx = "mx." + domain;
  e.chain = std::make_shared<std::vector<X509Ptr>>();
  HeldCertificate held;
  held.chain = e.chain;
  e.held_certs.push_back(held);
  r.endpoints.push_back(e);
  r.log->Add("a line");
  return r;
}

TEST_CASE("report store keeps configured targets only, one report per module", "[status]") {
  config::Config cfg = ConfigWith(
      "targets:\n  - domain: a.test\n  - domain: b.test\n    module: strict\n");
  ReportStore store;
  WallTime t0 = std::chrono::system_clock::now();
  CHECK(store.Record(cfg, ReportFor("a.test", "default"), t0));
  CHECK(store.Record(cfg, ReportFor("a.test", "default"), t0 + std::chrono::seconds(5)));
  CHECK(store.Record(cfg, ReportFor("a.test", "strict"), t0));
  CHECK(store.Record(cfg, ReportFor("b.test", "strict"), t0));
  // Unlisted domains (allow_unlisted_targets) never grow the store, however many.
  for (int i = 0; i < 100; ++i) {
    CHECK_FALSE(store.Record(cfg, ReportFor("x" + std::to_string(i) + ".test", "default"), t0));
  }
  CHECK(store.size() == 3);
  auto snap = store.Snapshot(cfg);
  REQUIRE(snap.count({"a.test", "default"}) == 1);
  CHECK(snap.at({"a.test", "default"})->finished_at == t0 + std::chrono::seconds(5));
  // Kept without chains and log.
  const DomainReport& kept = snap.at({"a.test", "default"})->report;
  CHECK(kept.endpoints.at(0).chain == nullptr);
  CHECK(kept.endpoints.at(0).held_certs.at(0).chain == nullptr);
  CHECK(kept.endpoints.at(0).mx == "mx.a.test");
  REQUIRE(kept.log != nullptr);
  CHECK(kept.log->Lines().empty());

  // A reload that removes a target and a module drops their reports.
  config::Config reloaded = ConfigWith("targets:\n  - domain: b.test\n    module: strict\n");
  auto after = store.Snapshot(reloaded);
  CHECK(after.size() == 1);
  CHECK(after.count({"b.test", "strict"}) == 1);
  CHECK(store.size() == 1);
}

TEST_CASE("a probe that finishes after a reload cannot leave a dropped target behind",
          "[status]") {
  config::Config before = ConfigWith("targets:\n  - domain: a.test\n  - domain: b.test\n");
  config::Config after = ConfigWith("targets:\n  - domain: b.test\n");
  REQUIRE(before.generation != 0);
  REQUIRE(after.generation != before.generation);
  ReportStore store;
  const WallTime t0 = std::chrono::system_clock::now();
  CHECK(store.Record(before, ReportFor("a.test", "default"), t0));
  CHECK(store.Record(before, ReportFor("b.test", "default"), t0));
  CHECK(store.Snapshot(after).size() == 1);
  // a.test's probe started under the old config and records after the reload.
  CHECK(store.Record(before, ReportFor("a.test", "default"), t0));
  CHECK(store.Record(after, ReportFor("b.test", "default"), t0));
  auto snap = store.Snapshot(after);
  CHECK(snap.size() == 1);
  CHECK(snap.count({"b.test", "default"}) == 1);
}

TEST_CASE("targets are found by name in a fleet-sized config", "[status][config]") {
  std::string yaml = "targets:\n";
  for (int i = 0; i < 5000; ++i) yaml += "  - domain: c" + std::to_string(i) + ".fleet.test\n";
  config::Config cfg = ConfigWith(yaml);
  REQUIRE(cfg.targets.size() == 5000);
  for (int i = 0; i < 5000; i += 499) {
    const std::string name = "c" + std::to_string(i) + ".fleet.test";
    const config::TargetConfig* t = cfg.FindTarget(name);
    REQUIRE(t != nullptr);
    CHECK(t->domain == name);
    CHECK(cfg.FindTarget("C" + std::to_string(i) + ".Fleet.Test.") == t);  // any spelling
    CHECK(cfg.HasTarget(name));
  }
  CHECK(cfg.FindTarget("c5000.fleet.test") == nullptr);
  CHECK_FALSE(cfg.HasTarget("fleet.test"));
  // A copy finds its own targets, not the original's.
  config::Config copy = cfg;
  CHECK(copy.FindTarget("c7.fleet.test") == &copy.targets[7]);
  // Targets changed by hand after loading: found without the stale index.
  copy.targets.push_back(copy.targets.front());
  copy.targets.back().domain = "added.test";
  CHECK(copy.FindTarget("added.test") == &copy.targets.back());
}

TEST_CASE("/sd groups the targets by module, exact JSON", "[status][sd]") {
  config::Config cfg = ConfigWith(
      "targets:\n  - domain: b.test\n    module: strict\n  - domain: A.test.\n"
      "  - domain: c.test\n");
  CHECK(RenderServiceDiscovery(cfg) ==
        "[{\"labels\":{\"__meta_mxtls_module\":\"default\"},\"targets\":[\"a.test\",\"c.test\"]},"
        "{\"labels\":{\"__meta_mxtls_module\":\"strict\"},\"targets\":[\"b.test\"]}]\n");
  CHECK(RenderServiceDiscovery(ConfigWith("")) == "[]\n");
}

TEST_CASE("HTML escaping of attacker-controlled names", "[status][escape]") {
  struct Case {
    std::string in, out;
  };
  auto c = GENERATE(values<Case>({
      {"mx.example.com", "mx.example.com"},
      {"<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"},
      {"\"><img src=x onerror=alert(1)>", "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"},
      {"it's & co", "it&#39;s &amp; co"},
      {std::string("a\0b", 3), "a\\x00b"},
      {"\x1b[31mred\r\n", "\\x1B[31mred\\x0D\\x0A"},
      {"del\x7f", "del\\x7F"},
      {"b\xc3\xbc" "cher.example", "b\xc3\xbc" "cher.example"},           // ü stays
      {"\xe2\x80\xae" "moc.elpmaxe", "\\u{202E}moc.elpmaxe"},               // RLO
      {"\xc2\x85next", "\\x85next"},                                        // C1 NEL
      {"bad\xff\xc3", "bad\\xFF\\xC3"},                                     // not UTF-8
      {"\xc0\xbc", "\\xC0\\xBC"},                                           // overlong '<'
      {"\xed\xa0\x80", "\\xED\\xA0\\x80"},                                  // surrogate
  }));
  CHECK(HtmlEscape(c.in) == c.out);
}

TEST_CASE("URL encoding and ages", "[status]") {
  CHECK(UrlEncode("a.test") == "a.test");
  CHECK(UrlEncode("a b&c=d\"<") == "a%20b%26c%3Dd%22%3C");
  CHECK(HumanAge(-3) == "0 s");
  CHECK(HumanAge(42.4) == "42 s");
  CHECK(HumanAge(150) == "2 min");
  CHECK(HumanAge(3 * 3600 + 20 * 60) == "3 h 20 min");
  CHECK(HumanAge(2 * 86400 + 4 * 3600) == "2 d 4 h");
}

}  // namespace
}  // namespace mxtls
