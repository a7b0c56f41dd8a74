// Parses Prometheus text exposition so that tests can look samples up by name and a subset
// of their labels, independent of label order.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mxtls::testing {

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

class ParsedMetrics {
 public:
  explicit ParsedMetrics(const std::string& exposition);

  // Samples named `name` whose labels include every pair in `subset`.
  std::vector<Sample> Find(const std::string& name,
                           const std::map<std::string, std::string>& subset = {}) const;
  // The value of the only matching sample; nullopt when none matches. Fails the current
  // test (via Catch) when several match.
  std::optional<double> Value(const std::string& name,
                              const std::map<std::string, std::string>& subset = {}) const;
  size_t Count(const std::string& name,
               const std::map<std::string, std::string>& subset = {}) const {
    return Find(name, subset).size();
  }
  const std::vector<Sample>& samples() const { return samples_; }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::vector<Sample> samples_;
};

}  // namespace mxtls::testing
