#include "exporter/exposition_text.h"

#include <prometheus/text_serializer.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>

namespace mxtls {
namespace {

bool WrittenHere(prometheus::MetricType type) {
  return type == prometheus::MetricType::Gauge || type == prometheus::MetricType::Counter ||
         type == prometheus::MetricType::Untyped;
}

const char* TypeWord(prometheus::MetricType type) {
  switch (type) {
    case prometheus::MetricType::Gauge:
      return "gauge";
    case prometheus::MetricType::Counter:
      return "counter";
    default:
      return "untyped";
  }
}

double ValueOf(const prometheus::MetricFamily& family, const prometheus::ClientMetric& m) {
  switch (family.type) {
    case prometheus::MetricType::Gauge:
      return m.gauge.value;
    case prometheus::MetricType::Counter:
      return m.counter.value;
    default:
      return m.untyped.value;
  }
}

// The library escapes backslash, double quote and newline in label values.
void AppendLabelValue(std::string& out, const std::string& value) {
  for (char c : value) {
    switch (c) {
      case '\n':
        out += "\\n";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      default:
        out.push_back(c);
    }
  }
}

// The library's number format: "Nan", "+Inf", "-Inf", otherwise printf's "%.16g"
// (max_digits10 - 1 significant digits). Most values here are small integers (0, 1, counts),
// which "%.16g" writes as plain digits, so they skip printf; -0.0 keeps printf's "-0".
void AppendValue(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "Nan";
    return;
  }
  if (std::isinf(value)) {
    out += value < 0 ? "-Inf" : "+Inf";
    return;
  }
  char buf[64];
  if (value == std::trunc(value) && std::fabs(value) < 1e15 &&
      !(value == 0 && std::signbit(value))) {
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), static_cast<int64_t>(value));
    out.append(buf, end);
    return;
  }
  int n =
      std::snprintf(buf, sizeof(buf), "%.*g", std::numeric_limits<double>::max_digits10 - 1, value);
  out.append(buf, n > 0 ? static_cast<size_t>(n) : 0);
}

}  // namespace

std::string SerializeExpositionText(const std::vector<prometheus::MetricFamily>& families) {
  size_t estimate = 0;
  for (const auto& family : families) {
    if (!WrittenHere(family.type)) return prometheus::TextSerializer().Serialize(families);
    estimate += 2 * family.name.size() + family.help.size() + 32;
    for (const auto& m : family.metric) {
      estimate += family.name.size() + 32;
      for (const auto& label : m.label) estimate += label.name.size() + label.value.size() + 4;
    }
  }
  std::string out;
  out.reserve(estimate);
  for (const auto& family : families) {
    if (!family.help.empty()) {
      // The library writes help texts as they are (no escaping); so does this.
      out.append("# HELP ").append(family.name).append(" ").append(family.help).append("\n");
    }
    out.append("# TYPE ")
        .append(family.name)
        .append(" ")
        .append(TypeWord(family.type))
        .append("\n");
    for (const auto& m : family.metric) {
      out.append(family.name);
      if (!m.label.empty()) {
        out.push_back('{');
        const char* separator = "";
        for (const auto& label : m.label) {
          out.append(separator).append(label.name).append("=\"");
          AppendLabelValue(out, label.value);
          out.push_back('"');
          separator = ",";
        }
        out.push_back('}');
      }
      out.push_back(' ');
      AppendValue(out, ValueOf(family, m));
      if (m.timestamp_ms != 0) {
        char buf[24];
        auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), m.timestamp_ms);
        out.push_back(' ');
        out.append(buf, end);
      }
      out.push_back('\n');
    }
  }
  return out;
}

}  // namespace mxtls
