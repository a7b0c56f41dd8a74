// PredictAlerts (probes/judgement/findings.h) is the C++ mirror of alerts/mxtls.rules.yml.
// This proves the mirror equal to the shipped rules with the real promtool: each scenario's
// report is rendered by RenderReportMetrics (the very /probe output), held steady for 90
// minutes as promtool input series, and `promtool test rules` must find at 80m exactly the
// alerts PredictAlerts names, with their labels, for every alert name of the rules.
//
// Annotations: promtool compares them too, and the shipped ones are rendered from queries.
// They decide nothing about whether or with which labels an alert fires, so the rules under
// test are the shipped file with only the `annotations:` of each rule removed (through
// yaml-cpp, which also resolves the anchors); expr, for, keep_firing_for and labels are
// untouched. With no annotations, an expected alert without exp_annotations matches exactly.
#include <yaml-cpp/yaml.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "exporter/report_metrics.h"
#include "probes/judgement/findings.h"
#include "tests/support/report_scenarios.h"

namespace mxtls {
namespace {

namespace fs = std::filesystem;

fs::path SourceRoot() { return fs::path(MXTLS_TESTDATA_DIR).parent_path().parent_path(); }

// A YAML double-quoted scalar.
std::string Quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// A YAML single-quoted scalar (promtool series selectors are full of double quotes).
std::string SingleQuoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

// The exposition text as promtool input series, each with job and instance added, held at
// its value for 90 one-minute steps.
std::string InputSeries(const std::string& exposition, const std::string& instance) {
  std::string out;
  std::istringstream lines(exposition);
  std::string line;
  const std::string extra = "job=\"mxtls\",instance=" + Quoted(instance);
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t space = line.rfind(' ');
    std::string series = line.substr(0, space);
    double value = std::stod(line.substr(space + 1));
    size_t brace = series.find('{');
    if (brace == std::string::npos) {
      series += "{" + extra + "}";
    } else {
      series.insert(brace + 1, extra + ",");
    }
    char v[64];
    std::snprintf(v, sizeof(v), "%.6f", value);
    out += "      - series: " + SingleQuoted(series) + "\n        values: '" + v + "x90'\n";
  }
  return out;
}

struct RuleNames {
  std::vector<std::string> names;  // the domain alerts, in file order, without repetition
};

// Writes the shipped rules without annotations to `path`; returns the alert names of the
// per-domain rules (the exporter group's alerts need its own /metrics and are left out).
std::vector<std::string> WriteRulesWithoutAnnotations(const fs::path& path) {
  YAML::Node rules = YAML::LoadFile((SourceRoot() / "alerts/mxtls.rules.yml").string());
  std::vector<std::string> names;
  for (auto group : rules["groups"]) {
    const bool exporter_group = group["name"].as<std::string>() == "mxtls-exporter";
    for (auto rule : group["rules"]) {
      rule.remove("annotations");
      if (exporter_group || !rule["alert"]) continue;
      std::string name = rule["alert"].as<std::string>();
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    }
  }
  YAML::Emitter out;
  out << rules;
  std::ofstream(path) << out.c_str() << "\n";
  return names;
}

TEST_CASE("PredictAlerts equals the shipped alert rules under promtool", "[findings][promtool]") {
  const fs::path dir = fs::temp_directory_path() /
                       ("mxtls_alert_prediction_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::vector<std::string> names = WriteRulesWithoutAnnotations(dir / "rules.yml");
  REQUIRE(names.size() > 20);

  std::string test = "rule_files:\n  - " + Quoted((dir / "rules.yml").string()) +
                     "\nevaluation_interval: 1m\ntests:\n";
  size_t predicted_total = 0;
  for (const auto& s : testing::Scenarios()) {
    DomainReport report = testing::ScenarioReport(s);
    // One instance per scenario, so that promtool names the failing one.
    std::string instance = s.name;
    for (char& c : instance) c = c == ' ' ? '_' : c;
    std::vector<PredictedAlert> predicted = PredictAlerts(report, testing::kScenarioNow);
    predicted_total += predicted.size();
    test += "  - name: " + Quoted(s.name) + "\n    interval: 1m\n    input_series:\n" +
            InputSeries(RenderReportMetrics(report), instance) + "    alert_rule_test:\n";
    for (const auto& name : names) {
      test += "      - eval_time: 80m\n        alertname: " + name + "\n        exp_alerts:";
      bool any = false;
      for (const auto& a : predicted) {
        if (a.name != name) continue;
        any = true;
        test += "\n          - exp_labels:\n              severity: " + Quoted(a.severity) +
                "\n              job: \"mxtls\"\n              instance: " + Quoted(instance);
        for (const auto& [k, v] : a.labels) test += "\n              " + k + ": " + Quoted(v);
      }
      test += any ? "\n" : " []\n";
    }
  }
  REQUIRE(predicted_total > 30);  // the scenarios do raise alerts: this test can fail
  std::ofstream(dir / "prediction_test.yml") << test;

  const std::string output = (dir / "promtool.out").string();
  const std::string command = "promtool test rules " + (dir / "prediction_test.yml").string() +
                              " > " + output + " 2>&1";
  const int rc = std::system(command.c_str());
  std::ifstream in(output);
  std::stringstream text;
  text << in.rdbuf();
  INFO("promtool output (test file kept in " << dir.string() << "):\n" << text.str());
  REQUIRE(rc == 0);
  CHECK(text.str().find("SUCCESS") != std::string::npos);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace mxtls
