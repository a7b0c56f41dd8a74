#include <catch2/catch.hpp>

#include "exporter/flags.h"
#include "exporter/probe_endpoint.h"

namespace mxtls {
namespace {

Result<Flags> Parse(std::vector<const char*> args) {
  args.insert(args.begin(), "mxtls_exporter");
  return ParseFlags(static_cast<int>(args.size()), args.data());
}

TEST_CASE("flags have ecosystem defaults", "[flags]") {
  auto f = Parse({});
  REQUIRE(f.ok());
  CHECK(f->listen_addresses == std::vector<std::string>{":10465"});
  CHECK(f->config_file == "mxtls_exporter.yml");
  CHECK(f->timeout_offset_seconds == 0.5);
  CHECK_FALSE(f->config_check);
}

TEST_CASE("flags parse in both spellings and repeat", "[flags]") {
  auto f = Parse({"--config.file=/etc/x.yml", "--web.listen-address", "127.0.0.1:1",
                  "--web.listen-address=[::1]:2", "--config.check", "--log.level=debug",
                  "--log.format", "json", "--timeout-offset=1.5", "--web.handler-threads=8"});
  REQUIRE(f.ok());
  CHECK(f->config_file == "/etc/x.yml");
  CHECK(f->listen_addresses == std::vector<std::string>{"127.0.0.1:1", "[::1]:2"});
  CHECK(f->config_check);
  CHECK(f->log_level == "debug");
  CHECK(f->log_format == "json");
  CHECK(f->timeout_offset_seconds == 1.5);
  CHECK(f->handler_threads == 8);
}

TEST_CASE("bad flags are errors that say why", "[flags]") {
  struct Case {
    std::vector<const char*> args;
    const char* message;
  };
  const Case cases[] = {
      {{"--nope"}, "unknown flag --nope"},
      {{"stray"}, "unexpected argument \"stray\""},
      {{"--config.file"}, "--config.file needs a value"},
      {{"--log.level=loud"}, "--log.level: expected debug, info, warn or error"},
      {{"--log.format=xml"}, "--log.format: expected logfmt or json"},
      {{"--timeout-offset=-1"}, "--timeout-offset: expected seconds between 0 and 60"},
      {{"--web.handler-threads=0"}, "--web.handler-threads: expected 1 to 4096"},
      {{"--web.listen-address=::1:80"},
       "--web.listen-address: expected host:port, [v6]:port or :port, got \"::1:80\""},
      {{"--version=maybe"}, "--version takes no value"},
  };
  for (const auto& c : cases) {
    auto f = Parse(c.args);
    INFO(c.message);
    REQUIRE_FALSE(f.ok());
    CHECK(f.status().message() == c.message);
  }
}

TEST_CASE("listen addresses split into host and port", "[flags]") {
  std::string host;
  int port = -1;
  REQUIRE(SplitListenAddress(":10465", &host, &port));
  CHECK(host.empty());
  CHECK(port == 10465);
  REQUIRE(SplitListenAddress("[::1]:0", &host, &port));
  CHECK(host == "::1");
  CHECK(port == 0);
  REQUIRE(SplitListenAddress("127.0.0.1:8080", &host, &port));
  CHECK(host == "127.0.0.1");
  CHECK_FALSE(SplitListenAddress("127.0.0.1", &host, &port));
  CHECK_FALSE(SplitListenAddress("127.0.0.1:70000", &host, &port));
  CHECK_FALSE(SplitListenAddress("[::1:80", &host, &port));
}

TEST_CASE("probe timeout follows the scrape timeout header minus the offset", "[flags]") {
  CHECK(ProbeTimeoutSeconds(std::string("10"), 0.5, 30) == 9.5);
  CHECK(ProbeTimeoutSeconds(std::string("10"), 0.5, 5) == 5);
  CHECK(ProbeTimeoutSeconds(std::nullopt, 0.5, 30) == 30);
  CHECK(ProbeTimeoutSeconds(std::string("garbage"), 0.5, 30) == 30);
  CHECK(ProbeTimeoutSeconds(std::string("-3"), 0.5, 30) == 30);
  // An offset larger than the scrape timeout leaves the whole scrape timeout.
  CHECK(ProbeTimeoutSeconds(std::string("0.3"), 0.5, 30) == Approx(0.3));
}

}  // namespace
}  // namespace mxtls
