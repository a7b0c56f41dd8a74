// How long /probe's text takes to render (RenderReportMetrics), without sockets: the part of a
// scrape's CPU that grows with the number of series and is paid at every scrape, also when
// every TLS fact comes from the shared-endpoint cache (the hosting shape of benchmark 4).
//
//   mxtls_render_bench [--seconds=S]   (default 2 per shape)
//
// For each shape (a 4-MX domain under the default module with and without MTA-STS/DANE, and
// the hosting shape: 2 MX hosts, no MTA-STS, no DNSSEC), renders the same report over and over
// for S seconds in 5 batches and prints the fastest batch's microseconds per render (the
// least disturbed by other work on a shared machine), with the number of series and bytes of
// one exposition. Numbers are for comparing revisions on one machine (bench/RESULTS.md).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "exporter/report_metrics.h"
#include "tests/support/report_scenarios.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Shape {
  const char* name;
  int mx_hosts;
  bool ipv6;
  mxtls::testing::DomainShape shape;
};

size_t CountSeries(const std::string& text) {
  size_t n = 0, at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    if (end > at && text[at] != '#') ++n;
    at = end + 1;
  }
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 2;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--seconds=", 10) == 0) {
      seconds = std::atof(argv[i] + 10);
    } else {
      std::fprintf(stderr, "usage: mxtls_render_bench [--seconds=S]\n");
      return 2;
    }
  }
  if (!(seconds > 0)) seconds = 2;
  const Shape shapes[] = {
      {"4 MX, IPv4, MTA-STS + DANE", 4, false, {true, true}},
      {"4 MX, IPv4, neither", 4, false, {false, false}},
      {"hosting: 2 MX, IPv4, neither", 2, false, {false, false}},
  };
  std::printf("| shape | series | bytes | us per render (best of 5 batches) |\n| --- | --- | --- | --- |\n");
  for (const Shape& s : shapes) {
    const mxtls::DomainReport report = mxtls::testing::HealthyDomain(s.mx_hosts, s.ipv6, s.shape);
    const std::string one = mxtls::RenderReportMetrics(report);
    std::vector<double> per_render;
    size_t sink = 0;
    for (int batch = 0; batch < 5; ++batch) {
      const auto start = Clock::now();
      const auto until = start + std::chrono::duration<double>(seconds / 5);
      long n = 0;
      Clock::time_point now;
      do {
        sink += mxtls::RenderReportMetrics(report).size();
        ++n;
      } while ((now = Clock::now()) < until);
      per_render.push_back(std::chrono::duration<double, std::micro>(now - start).count() / n);
    }
    std::printf("| %s | %zu | %zu | %.1f |\n", s.name, CountSeries(one), one.size(),
                *std::min_element(per_render.begin(), per_render.end()));
    if (sink == 0) return 1;  // keeps the renders from being optimised away
  }
  return 0;
}
