// The pure parts of `mxtls_exporter check`: flag parsing, the config it runs with, the
// blocked-port rule, colour choice, and the terminal escaping of hostile names.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "exporter/check_command.h"
#include "exporter/check_text.h"
#include "exporter/terminal_escape.h"

namespace mxtls {
namespace {

Result<CheckFlags> Parse(std::vector<std::string> args) {
  std::vector<const char*> argv = {"mxtls_exporter", "check"};
  for (const std::string& a : args) argv.push_back(a.c_str());
  return ParseCheckFlags(static_cast<int>(argv.size()), argv.data());
}

TEST_CASE("check flags", "[check]") {
  Result<CheckFlags> f = Parse({"--dns.resolver=192.0.2.53", "--dns.resolver", "[2001:db8::1]:5353",
                                "--output=json", "--smtp.port=2525", "--timeout=5s",
                                "--color=never", "Example.COM.", "b.example"});
  REQUIRE(f.ok());
  CHECK(f->resolvers == std::vector<std::string>{"192.0.2.53", "[2001:db8::1]:5353"});
  CHECK(f->output == "json");
  CHECK(f->smtp_port == 2525);
  CHECK(f->timeout == "5s");
  CHECK(f->color == "never");
  CHECK(f->domains == std::vector<std::string>{"example.com", "b.example"});

  Result<CheckFlags> ca = Parse({"--tls.ca-file=ca.pem", "a.example"});
  REQUIRE(ca.ok());
  CHECK(ca->ca_file.front() == '/');  // made absolute: a config's base dir must not apply

  for (std::vector<std::string> bad : std::vector<std::vector<std::string>>{
           {},
           {"--output=xml", "a.example"},
           {"--color=sometimes", "a.example"},
           {"--smtp.port=0", "a.example"},
           {"--smtp.port=65536", "a.example"},
           {"--timeout=0s", "a.example"},
           {"--timeout=later", "a.example"},
           {"--web.listen-address=:1", "a.example"},
           {"a.example", "--module"},
           {"under_score.example"},
           {"-leading.example"},
       }) {
    INFO(bad.size());
    CHECK_FALSE(Parse(bad).ok());
  }
  CHECK(Parse({"--help"}).ok());
}

TEST_CASE("check config: flags on top of defaults, and no resolver is an error", "[check]") {
  char tmpl[] = "/tmp/mxtls-check-conf-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::ofstream(dir + "/empty-resolv.conf") << "# no nameserver\n";
  std::ofstream(dir + "/resolv.conf") << "nameserver 192.0.2.53\n";
  config::Environment empty{dir + "/empty-resolv.conf", "prober.example", ""};
  config::Environment one{dir + "/resolv.conf", "prober.example", ""};

  Result<CheckFlags> plain = Parse({"a.example"});
  REQUIRE(plain.ok());
  Result<CheckSetup> none = BuildCheckSetup(plain.value(), empty);
  REQUIRE_FALSE(none.ok());
  CHECK(none.status().message().find("no nameserver") != std::string::npos);

  Result<CheckSetup> from_resolv = BuildCheckSetup(plain.value(), one);
  REQUIRE(from_resolv.ok());
  REQUIRE(from_resolv->config->dns.resolvers.size() == 1);
  CHECK(from_resolv->config->dns.resolvers[0].host == "192.0.2.53");
  CHECK(from_resolv->module->smtp.port == 25);
  CHECK(from_resolv->module->timeout == std::chrono::seconds(30));

  Result<CheckFlags> flags = Parse({"--dns.resolver=127.0.0.1:5300", "--smtp.port=2525",
                                    "--timeout=7s", "--dns.dnssec-check-name=signed.example",
                                    "a.example"});
  REQUIRE(flags.ok());
  Result<CheckSetup> s = BuildCheckSetup(flags.value(), empty);
  REQUIRE(s.ok());
  CHECK(s->config->dns.resolvers[0].ToString() == "127.0.0.1:5300");
  CHECK(s->config->dns.dnssec_check_name == "signed.example");
  CHECK(s->module->smtp.port == 2525);
  CHECK(s->module->timeout == std::chrono::seconds(7));

  // A config file: its module, with the flags on top; an unknown module is an error.
  std::ofstream(dir + "/c.yml") << "dns:\n  resolvers: [\"192.0.2.1:53\"]\nmodules:\n"
                                   "  slow:\n    timeout: 45s\n    smtp:\n      port: 2626\n";
  Result<CheckFlags> with_file =
      Parse({"--config.file=" + dir + "/c.yml", "--module=slow", "a.example"});
  REQUIRE(with_file.ok());
  Result<CheckSetup> f = BuildCheckSetup(with_file.value(), empty);
  REQUIRE(f.ok());
  CHECK(f->module->name == "slow");
  CHECK(f->module->smtp.port == 2626);
  CHECK(f->module->timeout == std::chrono::seconds(45));
  CHECK(f->config->dns.resolvers[0].host == "192.0.2.1");
  Result<CheckFlags> unknown =
      Parse({"--config.file=" + dir + "/c.yml", "--module=fast", "a.example"});
  CHECK_FALSE(BuildCheckSetup(unknown.value(), empty).ok());
  Result<CheckFlags> bad_resolver = Parse({"--dns.resolver=resolver.example", "a.example"});
  CHECK_FALSE(BuildCheckSetup(bad_resolver.value(), one).ok());
  std::system(("rm -rf '" + dir + "'").c_str());
}

EndpointReport Failed(const std::string& stage, const std::string& reason) {
  EndpointReport e;
  e.mx = "mx.example";
  e.address = "192.0.2.1";
  e.failure_stage = stage;
  e.failure_reason = reason;
  e.connected = stage != "connect";
  return e;
}

TEST_CASE("outbound port 25 looks blocked only when every connect failed unanswered",
          "[check]") {
  auto domains = [](std::vector<std::vector<EndpointReport>> per_domain) {
    std::vector<CheckedDomain> out;
    for (auto& endpoints : per_domain) {
      CheckedDomain d;
      d.report.endpoints = endpoints;
      out.push_back(std::move(d));
    }
    return out;
  };
  CHECK(Port25LooksBlocked(domains({{Failed("connect", "timeout")},
                                    {Failed("connect", "unreachable"),
                                     Failed("connect", "timeout")}})));
  CHECK_FALSE(Port25LooksBlocked(domains({})));
  CHECK_FALSE(Port25LooksBlocked(domains({{}})));  // DNS found nothing to connect to
  CHECK_FALSE(Port25LooksBlocked(domains({{Failed("connect", "refused")}})));
  CHECK_FALSE(Port25LooksBlocked(
      domains({{Failed("connect", "timeout")}, {Failed("greeting", "greeting_554")}})));
  CHECK_FALSE(Port25LooksBlocked(domains({{Failed("connect", "timeout"), Failed("", "")}})));
}

TEST_CASE("colour only on a real terminal unless forced", "[check]") {
  CHECK(UseColor("auto", true, "xterm-256color", nullptr));
  CHECK_FALSE(UseColor("auto", false, "xterm-256color", nullptr));
  CHECK_FALSE(UseColor("auto", true, "dumb", nullptr));
  CHECK_FALSE(UseColor("auto", true, nullptr, nullptr));
  CHECK_FALSE(UseColor("auto", true, "xterm", "1"));
  CHECK(UseColor("always", false, nullptr, "1"));
  CHECK_FALSE(UseColor("never", true, "xterm", nullptr));
}

TEST_CASE("terminal escaping of attacker-controlled text", "[check]") {
  struct Case {
    std::string in, out;
  };
  for (const Case& c : std::vector<Case>{
           {"mx1.example.com", "mx1.example.com"},
           {"b\xc3\xbc" "cher.example", "b\xc3\xbc" "cher.example"},  // valid UTF-8 stays
           {"a\x1b[2Jb", "a\\x1b[2Jb"},
           {"title\x1b]0;owned\x07", "title\\x1b]0;owned\\x07"},
           {"cr\rlf\ntab\t", "cr\\x0dlf\\x0atab\\x09"},
           {"del\x7f", "del\\x7f"},
           {"back\\slash", "back\\\\slash"},
           {"csi\xc2\x9b" "31m", "csi\\u{009b}31m"},              // C1 CSI as UTF-8
           {"rlo\xe2\x80\xae" "gpj.exe", "rlo\\u{202e}gpj.exe"},  // bidi override
           {"bad\xff\xfe", "bad\\xff\\xfe"},
           {"overlong\xc0\xaf", "overlong\\xc0\\xaf"},
           {"surrogate\xed\xa0\x80", "surrogate\\xed\\xa0\\x80"},
           {"cut\xe2\x80", "cut\\xe2\\x80"},
           {std::string("nul\0x", 5), "nul\\x00x"},
       }) {
    INFO(c.in);
    CHECK(EscapeForTerminal(c.in) == c.out);
  }
}

TEST_CASE("check text escapes every name and colours only when asked", "[check]") {
  CheckedDomain d;
  d.report.domain = "hostile.example";
  d.report.module = "default";
  MxHostReport mx;
  mx.host = "mx\x1b[31m.hostile.example";
  mx.preference = 5;
  mx.is_cname = true;
  mx.canonical_name = "real\x07.example";
  mx.ipv4 = {"192.0.2.1"};
  d.report.mx_hosts.push_back(mx);
  Finding ok;
  ok.level = FindingLevel::kOk;
  ok.check = "handshake";
  ok.reason = "ok";
  ok.mx = mx.host;
  ok.address = "192.0.2.1";
  ok.family = "ipv4";
  ok.detail = "TLSv1.3 \xe2\x80\xae";
  d.findings.push_back(ok);
  std::string plain = RenderCheckText(d, TextStyle{false});
  INFO(plain);
  CHECK(plain.find('\x1b') == std::string::npos);
  CHECK(plain.find('\x07') == std::string::npos);
  CHECK(plain.find("MX 5 mx\\x1b[31m.hostile.example  CNAME -> real\\x07.example") !=
        std::string::npos);
  CHECK(plain.find("192.0.2.1  ipv4") != std::string::npos);
  CHECK(plain.find("  OK        handshake     mx\\x1b[31m.hostile.example 192.0.2.1 (ipv4) - "
                   "TLSv1.3 \\u{202e}") != std::string::npos);
  CHECK(plain.find("would raise none") != std::string::npos);
  std::string colored = RenderCheckText(d, TextStyle{true});
  CHECK(colored.find("\x1b[32mOK\x1b[0m") != std::string::npos);
  CHECK(colored.find("mx\\x1b[31m") != std::string::npos);
}

}  // namespace
}  // namespace mxtls
