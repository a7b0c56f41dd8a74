// The durable TLS-RPT counts (exporter/tlsrpt_store.h): exact counts, de-duplication,
// foreign domains, label bounds, reopening, pruning.
#include <catch2/catch.hpp>

#include <dirent.h>
#include <unistd.h>

#include <cstdlib>

#include "exporter/tlsrpt_store.h"
#include "tests/support/tlsrpt_fixtures.h"

namespace mxtls {
namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/mxtls-tlsrpt-store-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
};

double Value(const std::vector<prometheus::MetricFamily>& families, const std::string& name,
             const std::vector<std::pair<std::string, std::string>>& labels) {
  for (const auto& f : families) {
    if (f.name != name) continue;
    for (const auto& m : f.metric) {
      if (m.label.size() != labels.size()) continue;
      bool same = true;
      for (size_t i = 0; i < labels.size(); ++i) {
        same = same && m.label[i].name == labels[i].first && m.label[i].value == labels[i].second;
      }
      if (same) return f.type == prometheus::MetricType::Gauge ? m.gauge.value : m.counter.value;
    }
  }
  return -1;
}

size_t CountFiles(const std::string& dir) {
  size_t n = 0;
  DIR* d = opendir(dir.c_str());
  while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

const auto kIsExampleOrg = [](const std::string& d) { return d == "example.org"; };

TEST_CASE("tlsrpt store: counts exactly, once, and survives reopening", "[tlsrpt]") {
  TempDir dir;
  const std::string json = testing::TlsRptTestdata("google_shaped.json");
  TlsRptReceivedReport report = ParseTlsRptReport(json).value();
  {
    auto store = TlsRptStore::Open(dir.path, std::chrono::hours(48));
    REQUIRE(store.ok());
    auto r = store.value()->Record(report, json, kIsExampleOrg, "http", 1000);
    CHECK(r.outcome == TlsRptStore::Outcome::kAccepted);
    CHECK(store.value()->Record(report, json, kIsExampleOrg, "spool", 1001).outcome ==
          TlsRptStore::Outcome::kDuplicate);
  }
  auto store = TlsRptStore::Open(dir.path, std::chrono::hours(48));
  REQUIRE(store.ok());
  CHECK(store.value()->Record(report, json, kIsExampleOrg, "http", 1002).outcome ==
        TlsRptStore::Outcome::kDuplicate);
  auto f = store.value()->Families();
  CHECK(Value(f, "mxtls_tlsrpt_successful_sessions_total",
              {{"policy_domain", "example.org"}, {"policy_type", "sts"}}) == 812);
  CHECK(Value(f, "mxtls_tlsrpt_summarized_failed_sessions_total",
              {{"policy_domain", "example.org"}, {"policy_type", "sts"}}) == 7);
  CHECK(Value(f, "mxtls_tlsrpt_failed_sessions_total",
              {{"policy_domain", "example.org"},
               {"policy_type", "sts"},
               {"result_type", "certificate-host-mismatch"},
               {"organization", "google_inc."},
               {"receiving_mx", "mx2.example.org"}}) == 5);
  CHECK(Value(f, "mxtls_tlsrpt_failed_sessions_total",
              {{"policy_domain", "example.org"},
               {"policy_type", "sts"},
               {"result_type", "sts-policy-fetch-error"},
               {"organization", "google_inc."},
               {"receiving_mx", "unknown"}}) == 1);
  CHECK(Value(f, "mxtls_tlsrpt_reports_accepted_total", {{"source", "http"}}) == 1);
  CHECK(Value(f, "mxtls_tlsrpt_reports_duplicate_total", {{"source", "spool"}}) == 1);
  CHECK(Value(f, "mxtls_tlsrpt_reports_duplicate_total", {{"source", "http"}}) == 1);
  CHECK(Value(f, "mxtls_tlsrpt_last_report_end_timestamp_seconds",
              {{"policy_domain", "example.org"}}) == 1795996799);
  CHECK(CountFiles(dir.path + "/reports") == 1);
  CHECK(access((dir.path + "/totals.json.tmp").c_str(), F_OK) != 0);
}

TEST_CASE("tlsrpt store: foreign domains create no series", "[tlsrpt]") {
  TempDir dir;
  auto store = TlsRptStore::Open(dir.path, std::chrono::hours(48)).value();
  const std::string json = testing::SimpleTlsRptReport("x", "1", "victim.test", 5, 1,
                                                       "certificate-expired", "mx.victim.test", 1);
  auto r = store->Record(ParseTlsRptReport(json).value(), json, kIsExampleOrg, "http", 1);
  CHECK(r.outcome == TlsRptStore::Outcome::kRejected);
  CHECK(r.error.reason() == "foreign_domain");
  auto f = store->Families();
  CHECK(Value(f, "mxtls_tlsrpt_reports_rejected_total", {{"reason", "foreign_domain"}}) == 1);
  for (const auto& family : f) {
    for (const auto& m : family.metric) {
      for (const auto& l : m.label) CHECK(l.value != "victim.test");
    }
  }
  CHECK(CountFiles(dir.path + "/reports") == 0);
}

TEST_CASE("tlsrpt store: label values are bounded", "[tlsrpt]") {
  TempDir dir;
  auto store = TlsRptStore::Open(dir.path, std::chrono::hours(48)).value();
  // An MX outside the policy's mx-host patterns is "other".
  std::string json = testing::SimpleTlsRptReport("org", "a", "example.org", 1, 1,
                                                 "certificate-expired", "mx.example.org", 1);
  TlsRptReceivedReport r = ParseTlsRptReport(json).value();
  r.policies[0].failures[0].receiving_mx_hostname = "attacker.invalid";
  store->Record(r, json, kIsExampleOrg, "http", 1);
  CHECK(Value(store->Families(), "mxtls_tlsrpt_failed_sessions_total",
              {{"policy_domain", "example.org"},
               {"policy_type", "sts"},
               {"result_type", "certificate-expired"},
               {"organization", "org"},
               {"receiving_mx", "other"}}) == 1);
  // Organizations past the per-domain cap are "other".
  for (size_t i = 0; i < TlsRptStore::kMaxOrganizationsPerDomain + 5; ++i) {
    std::string id = "org" + std::to_string(i);
    std::string j = testing::SimpleTlsRptReport(id, "r", "example.org", 1, 1,
                                                "certificate-expired", "mx.example.org", 2);
    REQUIRE(store->Record(ParseTlsRptReport(j).value(), j, kIsExampleOrg, "http", 2).outcome ==
            TlsRptStore::Outcome::kAccepted);
  }
  CHECK(Value(store->Families(), "mxtls_tlsrpt_failed_sessions_total",
              {{"policy_domain", "example.org"},
               {"policy_type", "sts"},
               {"result_type", "certificate-expired"},
               {"organization", "other"},
               {"receiving_mx", "mx.example.org"}}) == 2 * 6);
  CHECK(NormalizedOrganization("Microsoft Corporation") == "microsoft_corporation");
  CHECK(NormalizedOrganization("") == "unknown");
  CHECK(NormalizedOrganization(std::string(200, 'a')).size() == 64);
  CHECK(MxPatternMatches("*.mail.example.org", "mx1.mail.example.org"));
  CHECK_FALSE(MxPatternMatches("*.mail.example.org", "a.mx1.mail.example.org"));
  CHECK_FALSE(MxPatternMatches("*.mail.example.org", "mail.example.org"));
}

TEST_CASE("tlsrpt store: pruning forgets old ids and reports but keeps the totals", "[tlsrpt]") {
  TempDir dir;
  const int64_t day = 86400;
  auto store = TlsRptStore::Open(dir.path, std::chrono::hours(48)).value();
  std::string old_json = testing::SimpleTlsRptReport("org", "old", "example.org", 10, 0,
                                                     "certificate-expired", "mx.example.org", 0);
  std::string new_json = testing::SimpleTlsRptReport("org", "new", "example.org", 5, 0,
                                                     "certificate-expired", "mx.example.org", 0);
  TlsRptReceivedReport old_report = ParseTlsRptReport(old_json).value();
  store->Record(old_report, old_json, kIsExampleOrg, "http", 10 * day);
  store->Record(ParseTlsRptReport(new_json).value(), new_json, kIsExampleOrg, "http", 12 * day);
  CHECK(CountFiles(dir.path + "/reports") == 2);
  store->Prune(12 * day + 1);  // the old one arrived more than 48 h ago
  CHECK(CountFiles(dir.path + "/reports") == 1);
  CHECK(Value(store->Families(), "mxtls_tlsrpt_successful_sessions_total",
              {{"policy_domain", "example.org"}, {"policy_type", "sts"}}) == 15);
  // Within the retention the id is still known, after reopening too.
  auto reopened = TlsRptStore::Open(dir.path, std::chrono::hours(48)).value();
  CHECK(reopened->Record(ParseTlsRptReport(new_json).value(), new_json, kIsExampleOrg, "http",
                         12 * day + 2)
            .outcome == TlsRptStore::Outcome::kDuplicate);
}

TEST_CASE("tlsrpt store: refusals are saved lazily, and at the latest when the store closes",
          "[tlsrpt]") {
  TempDir dir;
  {
    auto store = TlsRptStore::Open(dir.path, std::chrono::hours(48)).value();
    store->CountRejected("malformed");  // the first one is saved at once
    for (int i = 0; i < 100; ++i) store->CountRejected("malformed");  // these wait
    auto peek = TlsRptStore::Open(dir.path, std::chrono::hours(48)).value();
    CHECK(Value(peek->Families(), "mxtls_tlsrpt_reports_rejected_total",
                {{"reason", "malformed"}}) == 1);
    CHECK(Value(store->Families(), "mxtls_tlsrpt_reports_rejected_total",
                {{"reason", "malformed"}}) == 101);
  }
  auto reopened = TlsRptStore::Open(dir.path, std::chrono::hours(48)).value();
  CHECK(Value(reopened->Families(), "mxtls_tlsrpt_reports_rejected_total",
              {{"reason", "malformed"}}) == 101);
}

TEST_CASE("tlsrpt store: an unreadable totals file is an error, not a fresh start",
          "[tlsrpt]") {
  TempDir dir;
  REQUIRE(WriteFileAtomically(dir.path + "/totals.json", "{garbage").ok());
  auto store = TlsRptStore::Open(dir.path, std::chrono::hours(48));
  REQUIRE_FALSE(store.ok());
  CHECK(store.status().reason() == "storage");
}

}  // namespace
}  // namespace mxtls
