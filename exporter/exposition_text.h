// The Prometheus text exposition format (0.0.4) of a set of metric families, byte for byte what
// prometheus::TextSerializer (prometheus-cpp 1.0.1, Debian 12) writes, at a fraction of its
// cost. /probe renders a few hundred series per scrape; the library's serializer writes label
// values and help texts one character at a time through std::ostream and formats every value
// with snprintf, which made it half of a probe's rendering time (bench/render_bench.cc).
//
// Families of type gauge, counter and untyped are written here; a set holding any other type
// (histogram, summary, info) is handed to the library's serializer whole, so the result is
// always the library's text. tests/exporter/exposition_text_test.cc holds the two equal.
#pragma once

#include <prometheus/metric_family.h>

#include <string>
#include <vector>

namespace mxtls {

std::string SerializeExpositionText(const std::vector<prometheus::MetricFamily>& families);

}  // namespace mxtls
