// SerializeExpositionText must write exactly what prometheus-cpp's TextSerializer writes: the
// library is the reference, on hand-made families with every awkward value and label, and on
// the families of every scenario report /probe renders.
#include "exporter/exposition_text.h"

#include <prometheus/text_serializer.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "exporter/report_metrics.h"
#include "tests/support/report_scenarios.h"

namespace mxtls::testing {
namespace {

std::string Library(const std::vector<prometheus::MetricFamily>& families) {
  return prometheus::TextSerializer().Serialize(families);
}

prometheus::MetricFamily Family(const std::string& name, prometheus::MetricType type,
                                const std::string& help = "help text") {
  prometheus::MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  return f;
}

// One series with `v` as its gauge, counter and untyped value (whichever the family reads).
prometheus::ClientMetric Sample(std::vector<prometheus::ClientMetric::Label> labels, double v) {
  prometheus::ClientMetric m;
  m.label = std::move(labels);
  m.gauge.value = v;
  m.counter.value = v;
  m.untyped.value = v;
  return m;
}

TEST_CASE("exposition text: numbers are written as the library writes them", "[exposition]") {
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> values = {0.0,
                                -0.0,
                                1.0,
                                -1.0,
                                42.0,
                                0.1 + 0.2,
                                1.0 / 3,
                                1e15 - 1,
                                1e15,
                                -1e15 + 1,
                                1e16,
                                123456789012345678.0,
                                1e20,
                                1e-7,
                                5e-324,
                                2.2250738585072014e-308,
                                1e308,
                                0.5,
                                -2.5,
                                86400.25,
                                inf,
                                -inf,
                                std::numeric_limits<double>::quiet_NaN(),
                                9007199254740993.0,
                                4503599627370495.5};
  std::mt19937_64 rng(20261201);
  std::uniform_real_distribution<double> unit(-1, 1);
  std::uniform_int_distribution<int> exponent(-30, 30);
  std::uniform_int_distribution<int64_t> integer(-2000000000000000LL, 2000000000000000LL);
  for (int i = 0; i < 2000; ++i) {
    values.push_back(std::ldexp(unit(rng), exponent(rng)));
    values.push_back(static_cast<double>(integer(rng)));
    values.push_back(static_cast<double>(integer(rng) % 100000) / 8);
  }
  auto f = Family("mxtls_value", prometheus::MetricType::Gauge);
  for (double v : values) f.metric.push_back(Sample({{"k", "v"}}, v));
  const std::string ours = SerializeExpositionText({f});
  CHECK(ours == Library({f}));
}

TEST_CASE("exposition text: labels, help, types and timestamps as the library writes them",
          "[exposition]") {
  auto gauge = Family("mxtls_gauge", prometheus::MetricType::Gauge,
                      "Help with \"quotes\", a backslash \\ and UTF-8 \xc3\xa9.");
  gauge.metric.push_back(Sample({}, 1));
  gauge.metric.push_back(Sample({{"mx", "mx1.example.test"}, {"address", "2001:db8::1"}}, 0));
  gauge.metric.push_back(Sample({{"subject", "CN=a \"quoted\" \\ name\nnext line"}}, 1));
  gauge.metric.push_back(Sample({{"empty", ""}, {"x", "\xff\x01"}}, 3));
  auto counter = Family("mxtls_requests_total", prometheus::MetricType::Counter);
  counter.metric.push_back(Sample({{"result", "hit"}}, 17));
  counter.metric.back().timestamp_ms = 1796162445123;
  auto untyped = Family("mxtls_untyped", prometheus::MetricType::Untyped, "");
  untyped.metric.push_back(Sample({}, 0.25));
  auto no_series = Family("mxtls_no_series", prometheus::MetricType::Gauge);
  const std::vector<prometheus::MetricFamily> families = {gauge, counter, untyped, no_series};
  CHECK(SerializeExpositionText(families) == Library(families));
  CHECK(SerializeExpositionText({}) == Library({}));
}

TEST_CASE("exposition text: a set with a histogram is the library's text", "[exposition]") {
  auto gauge = Family("mxtls_gauge", prometheus::MetricType::Gauge);
  gauge.metric.push_back(Sample({}, 1));
  auto histogram = Family("mxtls_seconds", prometheus::MetricType::Histogram);
  prometheus::ClientMetric h;
  h.histogram.sample_count = 3;
  h.histogram.sample_sum = 0.75;
  h.histogram.bucket = {{1, 0.1}, {3, std::numeric_limits<double>::infinity()}};
  histogram.metric.push_back(h);
  const std::vector<prometheus::MetricFamily> families = {gauge, histogram};
  const std::string ours = SerializeExpositionText(families);
  CHECK(ours == Library(families));
  CHECK(ours.find("mxtls_seconds_bucket{le=\"+Inf\"} 3") != std::string::npos);
}

TEST_CASE("exposition text: every scenario's /probe text is the library's text",
          "[exposition][report]") {
  std::vector<DomainReport> reports = {HealthyReport(), HealthyDomain(4, true, {}),
                                       HealthyDomain(2, false, {false, false})};
  for (const Scenario& s : Scenarios()) reports.push_back(ScenarioReport(s));
  for (const DomainReport& r : reports) {
    INFO(r.domain);
    const auto families = ReportMetricFamilies(r);
    REQUIRE(!families.empty());
    const std::string text = RenderReportMetrics(r);
    CHECK(text == Library(families));
    CHECK(text.find("probe_success ") != std::string::npos);
  }
}

}  // namespace
}  // namespace mxtls::testing
