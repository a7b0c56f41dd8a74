// The open-file limit against the configured concurrency: the descriptor budget, the warning
// when the limit is below it, and raising the soft limit to the hard one. The binary's own
// behaviour under `prlimit` is tested by packaging/tests/open_file_limit_test.sh.
#include <catch2/catch.hpp>
#include <sys/resource.h>

#include <string>
#include <vector>

#include "common/log.h"
#include "exporter/bounded_http_server.h"
#include "exporter/open_file_limit.h"

namespace mxtls {
namespace {

struct CapturedLog {
  CapturedLog() {
    log::SetSink([this](const std::string& line) { lines.push_back(line); });
  }
  ~CapturedLog() { log::SetSink(nullptr); }
  std::vector<std::string> lines;
};

DescriptorDemand Demand(int max_sessions, int handler_threads, int listeners = 1,
                        uint64_t idle = 4096) {
  DescriptorDemand d;
  d.max_sessions = max_sessions;
  d.handler_threads = handler_threads;
  d.listeners = listeners;
  d.idle_connections_per_listener = idle;
  return d;
}

TEST_CASE("descriptors needed: sessions, per listener two per HTTP handler and the parked "
          "connections, and a fixed reserve",
          "[open_file_limit]") {
  // The parker's bound is the default the formula is fed with.
  CHECK(HttpLimits{}.max_idle_connections == 4096);
  CHECK(DescriptorsNeeded(Demand(1000, 128, 1, 0)) == 1000 + 256 + kFixedDescriptors);
  // The defaults, quoted in README and the unit.
  CHECK(DescriptorsNeeded(Demand(1000, 1024)) == 7272);
  CHECK(DescriptorsNeeded(Demand(5000, 512)) == 5000 + 1024 + 4096 + kFixedDescriptors);
  // Every --web.listen-address has its own handlers and parker.
  CHECK(DescriptorsNeeded(Demand(1000, 1024, 2)) == 1000 + 2 * (2048 + 4096) + kFixedDescriptors);
  CHECK(DescriptorsNeeded(Demand(0, 0, 0, 0)) == kFixedDescriptors);
}

TEST_CASE("a limit below the need is logged as a warning with both numbers",
          "[open_file_limit]") {
  CapturedLog captured;
  CHECK(WarnIfOpenFileLimitLow(256, Demand(1000, 128)));
  REQUIRE(captured.lines.size() == 1);
  const std::string& line = captured.lines.front();
  CHECK(line.find("level=warn") != std::string::npos);
  CHECK(line.find("limit=256 needed=5480 max_sessions=1000 web_handler_threads=128 listeners=1 "
                  "idle_connections_per_listener=4096") != std::string::npos);

  CHECK_FALSE(WarnIfOpenFileLimitLow(5480, Demand(1000, 128)));
  CHECK_FALSE(WarnIfOpenFileLimitLow(UINT64_MAX, Demand(1000, 128)));
  CHECK(captured.lines.size() == 1);
}

TEST_CASE("the soft limit is raised to the hard limit, never lowered", "[open_file_limit]") {
  rlimit original{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &original) == 0);
  if (original.rlim_max != RLIM_INFINITY && original.rlim_max <= 512) {
    WARN("hard RLIMIT_NOFILE " << original.rlim_max << ": too low to test raising");
    return;
  }
  // Lower our own soft limit (always allowed), raise it, and put it back as it was.
  rlimit lowered = original;
  lowered.rlim_cur = 512;
  REQUIRE(setrlimit(RLIMIT_NOFILE, &lowered) == 0);
  OpenFileLimit got = RaiseOpenFileLimit();
  rlimit now{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &now) == 0);
  // Already at the hard limit (or refused again): nothing changes.
  OpenFileLimit again = RaiseOpenFileLimit();
  setrlimit(RLIMIT_NOFILE, &original);
  CHECK(again.soft == again.soft_before);

  CHECK(got.soft_before == 512);
  if (original.rlim_max == RLIM_INFINITY) {
    // The kernel caps an unlimited hard limit at fs.nr_open: raising may be refused, and the
    // limit must then be left as it was.
    CHECK((got.error.empty() ? got.soft == UINT64_MAX : got.soft == 512));
  } else {
    CHECK(got.error.empty());
    CHECK(got.soft == original.rlim_max);
    CHECK(got.hard == original.rlim_max);
    CHECK(now.rlim_cur == original.rlim_max);
  }
}

}  // namespace
}  // namespace mxtls
