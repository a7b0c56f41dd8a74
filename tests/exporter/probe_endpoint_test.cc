// ProbeEndpoint without HTTP: the deadline a probe gets from the scrape timeout and from when
// its request arrived.
#include "exporter/probe_endpoint.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <mutex>

#include "config/config.h"

namespace mxtls {
namespace {

using std::chrono::steady_clock;

// Records the task it was given; answers with an empty report.
class RecordingProber : public DomainProber {
 public:
  DomainReport Probe(const ProbeTask& task) override {
    std::lock_guard<std::mutex> lock(mu_);
    last_ = task;
    DomainReport report;
    report.domain = task.domain;
    return report;
  }
  ProbeTask last() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_;
  }

 private:
  std::mutex mu_;
  ProbeTask last_;
};

const char* kConfig = R"(dns:
  resolvers: ["127.0.0.1:53"]
modules:
  default: {}
targets:
  - domain: alpha.example
)";

struct Fixture {
  ConfigStore store{"probe_endpoint_test.yml",
                    [](const std::string& path) { return config::ParseConfig(kConfig, path); }};
  SelfMetrics metrics{&store};
  RecordingProber prober;
  ProbeEndpoint endpoint{&store, &prober, &metrics, 0.5};
  Fixture() { REQUIRE(store.Reload().ok()); }
};

double Seconds(steady_clock::duration d) { return std::chrono::duration<double>(d).count(); }

TEST_CASE("the probe deadline counts from when the request arrived", "[probe_endpoint]") {
  Fixture f;
  ProbeParams p;
  p.target = "alpha.example";
  p.scrape_timeout_header = "10";

  SECTION("a request that waited 4 s for a handler thread gets the 5.5 s left") {
    const auto arrived = steady_clock::now() - std::chrono::seconds(4);
    p.received_at = arrived;
    HttpReply reply = f.endpoint.Handle(p);
    REQUIRE(reply.status == 200);
    ProbeTask task = f.prober.last();
    CHECK(task.timeout_seconds == Approx(9.5));
    CHECK(Seconds(task.deadline - arrived) == Approx(9.5));
    // The budget it reports is the scrape's, not what was left of it.
    CHECK(reply.body.find("probe_timeout_seconds 9.5\n") != std::string::npos);
  }
  SECTION("a request that waited longer than its scrape gets a deadline already past") {
    const auto arrived = steady_clock::now() - std::chrono::seconds(12);
    p.received_at = arrived;
    const auto before = steady_clock::now();
    REQUIRE(f.endpoint.Handle(p).status == 200);
    ProbeTask task = f.prober.last();
    CHECK(task.deadline < before);
    CHECK(Seconds(task.deadline - arrived) == Approx(9.5));
  }
  SECTION("without an arrival time the deadline counts from now") {
    const auto before = steady_clock::now();
    REQUIRE(f.endpoint.Handle(p).status == 200);
    const auto after = steady_clock::now();
    ProbeTask task = f.prober.last();
    CHECK(task.deadline >= before + std::chrono::milliseconds(9500));
    CHECK(task.deadline <= after + std::chrono::milliseconds(9500));
  }
  SECTION("an arrival time in the future is taken as now") {
    const auto before = steady_clock::now();
    p.received_at = before + std::chrono::hours(1);
    REQUIRE(f.endpoint.Handle(p).status == 200);
    const auto after = steady_clock::now();
    ProbeTask task = f.prober.last();
    CHECK(task.deadline >= before + std::chrono::milliseconds(9500));
    CHECK(task.deadline <= after + std::chrono::milliseconds(9500));
  }
}

}  // namespace
}  // namespace mxtls
