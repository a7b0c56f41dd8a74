#include "tests/support/metrics_text.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <sstream>

namespace mxtls::testing {

ParsedMetrics::ParsedMetrics(const std::string& exposition) : text_(exposition) {
  std::istringstream in(exposition);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    Sample s;
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    s.name = line.substr(0, i);
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        size_t eq = line.find('=', i);
        std::string key = line.substr(i, eq - i);
        i = eq + 2;  // past ="
        std::string value;
        while (i < line.size() && line[i] != '"') {
          if (line[i] == '\\' && i + 1 < line.size()) {
            ++i;
            value += line[i] == 'n' ? '\n' : line[i];
          } else {
            value += line[i];
          }
          ++i;
        }
        ++i;  // closing quote
        if (i < line.size() && line[i] == ',') ++i;
        s.labels[key] = value;
      }
      ++i;  // '}'
    }
    s.value = std::strtod(line.c_str() + i, nullptr);
    samples_.push_back(std::move(s));
  }
}

std::vector<Sample> ParsedMetrics::Find(const std::string& name,
                                        const std::map<std::string, std::string>& subset) const {
  std::vector<Sample> out;
  for (const auto& s : samples_) {
    if (s.name != name) continue;
    bool match = true;
    for (const auto& [k, v] : subset) {
      auto it = s.labels.find(k);
      if (it == s.labels.end() || it->second != v) {
        match = false;
        break;
      }
    }
    if (match) out.push_back(s);
  }
  return out;
}

std::optional<double> ParsedMetrics::Value(const std::string& name,
                                           const std::map<std::string, std::string>& subset) const {
  auto found = Find(name, subset);
  if (found.empty()) return std::nullopt;
  INFO("metric " << name << " matched " << found.size() << " samples");
  REQUIRE(found.size() == 1);
  return found[0].value;
}

}  // namespace mxtls::testing
