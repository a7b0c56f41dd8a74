#include "probes/judgement/findings.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "tests/support/report_scenarios.h"

namespace mxtls {
namespace {

using testing::EndpointAt;
using testing::HealthyReport;
using testing::HostNamed;
using testing::kScenarioNow;
using testing::ScenarioCert;
using testing::ScenarioReport;
using testing::Scenarios;

std::filesystem::path SourceRoot() {
  return std::filesystem::path(MXTLS_TESTDATA_DIR).parent_path().parent_path();
}

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

FindingLevel LevelOf(const std::string& severity) {
  return severity == "critical" ? FindingLevel::kCritical
         : severity == "warning" ? FindingLevel::kWarning
                                 : FindingLevel::kInfo;
}

// What every Diagnose result must satisfy, whatever the report: sorted worst first, a
// diagnosis for every finding but kOk (so an unregistered reason fails here), a level equal
// to the worst alert it raises and at most info without one, and PredictAlerts the union.
void CheckInvariants(const DomainReport& report) {
  std::vector<Finding> findings = Diagnose(report, kScenarioNow);
  REQUIRE_FALSE(findings.empty());
  std::vector<PredictedAlert> from_findings;
  for (size_t i = 0; i < findings.size(); ++i) {
    const Finding& f = findings[i];
    INFO("finding " << f.check << "/" << f.reason << " on " << f.mx << " " << f.address);
    if (i > 0) CHECK(findings[i - 1].level <= f.level);
    if (f.level == FindingLevel::kOk) {
      CHECK(f.reason == "ok");
      CHECK(f.diagnosis == nullptr);
      CHECK(f.alerts.empty());
    } else {
      REQUIRE(f.diagnosis != nullptr);
      CHECK(f.diagnosis->check == f.check);
      CHECK(f.diagnosis->reason == f.reason);
    }
    if (f.alerts.empty()) {
      CHECK(f.level >= FindingLevel::kInfo);
    } else {
      FindingLevel worst = FindingLevel::kInfo;
      for (const auto& a : f.alerts) worst = std::min(worst, LevelOf(a.severity));
      CHECK(f.level == worst);
    }
    from_findings.insert(from_findings.end(), f.alerts.begin(), f.alerts.end());
  }
  std::vector<PredictedAlert> predicted = PredictAlerts(report, kScenarioNow);
  for (const auto& a : from_findings) {
    CHECK(std::find(predicted.begin(), predicted.end(), a) != predicted.end());
  }
  for (const auto& a : predicted) {
    CHECK(std::find(from_findings.begin(), from_findings.end(), a) != from_findings.end());
  }
}

const Finding* FindFinding(const std::vector<Finding>& findings, const std::string& check,
                           const std::string& reason, const std::string& address = "") {
  for (const auto& f : findings) {
    if (f.check == check && f.reason == reason && (address.empty() || f.address == address)) {
      return &f;
    }
  }
  return nullptr;
}

std::set<std::string> AlertNames(const std::vector<PredictedAlert>& alerts) {
  std::set<std::string> names;
  for (const auto& a : alerts) names.insert(a.name);
  return names;
}

TEST_CASE("a healthy domain has only passing checks and no alert", "[findings]") {
  DomainReport r = HealthyReport();
  std::vector<Finding> findings = Diagnose(r, kScenarioNow);
  for (const auto& f : findings) {
    INFO(f.check << "/" << f.reason << " " << f.mx << " " << f.address << ": " << f.detail);
    CHECK(f.level == FindingLevel::kOk);
  }
  CHECK(PredictAlerts(r, kScenarioNow).empty());
  // Every check the probe made is there: per endpoint the whole dialogue and the certificate.
  for (const char* check : {"connect", "greeting", "starttls", "handshake", "chain", "name",
                            "expiry", "certificate", "no_sni", "tls_versions", "key_types",
                            "reverse_dns"}) {
    INFO(check);
    CHECK(std::count_if(findings.begin(), findings.end(), [&](const Finding& f) {
            return f.check == check && f.address == "2001:db8::1";
          }) >= 1);
  }
  for (const char* check : {"dns", "dnssec", "mx", "mta_sts", "tlsrpt", "dane", "consistency"}) {
    INFO(check);
    CHECK(std::any_of(findings.begin(), findings.end(),
                      [&](const Finding& f) { return f.check == check; }));
  }
}

TEST_CASE("every scenario predicts exactly its alerts, with consistent findings", "[findings]") {
  for (const auto& s : Scenarios()) {
    INFO("scenario: " << s.name);
    DomainReport r = ScenarioReport(s);
    CHECK(AlertNames(PredictAlerts(r, kScenarioNow)) == s.alerts);
    CheckInvariants(r);
  }
}

TEST_CASE("expiry tiers per held certificate, with days and date", "[findings]") {
  const struct {
    double days;
    const char* reason;
    FindingLevel level;
    size_t alerts;
  } kCases[] = {{45, "ok", FindingLevel::kOk, 0},
                {25, "expires_30d", FindingLevel::kInfo, 1},
                {10, "expires_14d", FindingLevel::kWarning, 2},
                {3.2, "expires_7d", FindingLevel::kCritical, 3},
                {-1, "expired", FindingLevel::kCritical, 4}};
  for (const auto& c : kCases) {
    INFO(c.days);
    DomainReport r = HealthyReport();
    EndpointAt(r, "192.0.2.2").held_certs.front().cert = ScenarioCert("x", c.days, {"mx2.a.example"});
    std::vector<Finding> findings = Diagnose(r, kScenarioNow);
    const Finding* f = FindFinding(findings, "expiry", c.reason, "192.0.2.2");
    REQUIRE(f != nullptr);
    CHECK(f->level == c.level);
    CHECK(f->alerts.size() == c.alerts);
    CHECK(f->mx == "mx2.a.example");
  }
  DomainReport r = HealthyReport();
  EndpointAt(r, "192.0.2.2").held_certs.front().cert = ScenarioCert("x", 3.2, {"mx2.a.example"});
  std::vector<Finding> findings = Diagnose(r, kScenarioNow);
  const Finding* f = FindFinding(findings, "expiry", "expires_7d");
  REQUIRE(f != nullptr);
  CHECK_THAT(f->detail, Catch::Contains("expires in 3.2 days (1970-01-04)"));
  // Worst first: the critical expiry comes before everything else.
  CHECK(findings.front().check == "expiry");
}

TEST_CASE("validity findings follow the MTA-STS mode like the rules", "[findings]") {
  const struct {
    const char* mode;  // "" = no MTA-STS
    FindingLevel level;
    const char* label;
  } kCases[] = {{"enforce", FindingLevel::kCritical, "enforce"},
                {"testing", FindingLevel::kWarning, "testing"},
                {"none", FindingLevel::kInfo, "none"},
                {"", FindingLevel::kInfo, "none"}};
  for (const auto& c : kCases) {
    INFO(c.mode);
    DomainReport r = HealthyReport();
    if (*c.mode) {
      r.mta_sts.mode = c.mode;
    } else {
      r.mta_sts = MtaStsReport{};
    }
    EndpointReport& e = EndpointAt(r, "192.0.2.2");
    e.cert->chain.verified = false;
    e.cert->chain.reason = "incomplete_chain";
    e.cert->chain.chain_complete = false;
    std::vector<Finding> findings = Diagnose(r, kScenarioNow);
    const Finding* f = FindFinding(findings, "chain", "incomplete_chain");
    REQUIRE(f != nullptr);
    CHECK(f->level == c.level);
    REQUIRE(f->alerts.size() == 2);
    for (const auto& a : f->alerts) CHECK(a.labels.at("mta_sts_mode") == c.label);
    CHECK_THAT(FillDiagnosisText(f->diagnosis->fix, r, *f), Catch::Contains("full chain"));
  }
}

TEST_CASE("a name mismatch names what the certificate covers", "[findings]") {
  DomainReport r = HealthyReport();
  EndpointReport& e = EndpointAt(r, "192.0.2.1");
  e.cert = ScenarioCert("nm", 60, {"mail.a.example", "www.a.example"});
  e.cert->name_match = NameMatch::kMismatch;
  std::vector<Finding> findings = Diagnose(r, kScenarioNow);
  const Finding* f = FindFinding(findings, "name", "name_mismatch");
  REQUIRE(f != nullptr);
  CHECK(f->level == FindingLevel::kCritical);
  CHECK(f->detail == "mail.a.example, www.a.example");
  CHECK(FillDiagnosisText(f->diagnosis->symptom, r, *f) ==
        "the certificate covers mail.a.example, www.a.example but senders connect to "
        "mx1.a.example");
  CHECK(FillDiagnosisText(f->diagnosis->fix, r, *f) ==
        "add mx1.a.example to the certificate's names or point the MX at a covered name");
}

TEST_CASE("TLS 1.1 only is graded by DANE, then MTA-STS enforce", "[findings]") {
  auto only_tls11 = [](DomainReport& r, const char* address) {
    for (auto& v : EndpointAt(r, address).tls_versions->versions) {
      v.outcome = v.version == "TLSv1" || v.version == "TLSv1.1" ? VersionOutcome::kAccepted
                                                                 : VersionOutcome::kRefused;
    }
  };
  DomainReport dane = HealthyReport();
  only_tls11(dane, "192.0.2.1");
  auto a = PredictAlerts(dane, kScenarioNow);
  REQUIRE(a.size() == 1);
  CHECK(a[0].labels.at("required_by") == "dane");
  CHECK(a[0].severity == "critical");

  DomainReport sts = HealthyReport();
  only_tls11(sts, "192.0.2.2");
  a = PredictAlerts(sts, kScenarioNow);
  REQUIRE(a.size() == 1);
  CHECK(a[0].labels.at("required_by") == "mta_sts");

  sts.mta_sts.mode = "testing";
  a = PredictAlerts(sts, kScenarioNow);
  REQUIRE(a.size() == 1);
  CHECK(a[0].labels.at("required_by") == "none");
  CHECK(a[0].severity == "warning");
  std::vector<Finding> findings = Diagnose(sts, kScenarioNow);
  const Finding* f = FindFinding(findings, "tls_versions", "no_tls12");
  REQUIRE(f != nullptr);
  CHECK(f->detail == "accepts TLSv1, TLSv1.1");
}

TEST_CASE("the prober's own situation: port 25 blocked, prober listed", "[findings]") {
  DomainReport r = HealthyReport();
  for (auto& e : r.endpoints) {
    EndpointReport blank;
    blank.mx = e.mx;
    blank.address = e.address;
    blank.family = e.family;
    blank.failure_stage = "connect";
    blank.failure_reason = e.family == "ipv6" ? "unreachable" : "timeout";
    e = blank;
  }
  r.success = false;
  r.failure_reason = "endpoint_failed";
  std::vector<Finding> findings = Diagnose(r, kScenarioNow);
  const Finding* f = FindFinding(findings, "prober", "port25_blocked");
  REQUIRE(f != nullptr);
  CHECK_THAT(std::string(f->diagnosis->cause), Catch::Contains("outbound port 25 is probably blocked"));
  CheckInvariants(r);
  // One address that answers: not the prober's port 25.
  EndpointAt(r, "192.0.2.2").failure_reason = "refused";
  CHECK(FindFinding(Diagnose(r, kScenarioNow), "prober", "port25_blocked") == nullptr);

  DomainReport listed = HealthyReport();
  EndpointReport& e = EndpointAt(listed, "192.0.2.2");
  e.greeted = false;
  e.starttls_offered.reset();
  e.handshake_ok.reset();
  e.cert.reset();
  e.held_certs.clear();
  e.no_sni.reset();
  e.tls_versions.reset();
  e.key_type_sessions.clear();
  e.failure_stage = "greeting";
  e.failure_reason = "greeting_554";
  e.failure_message = "554 5.7.1 Service unavailable; client [198.51.100.7] blocked using zen.spamhaus.org";
  findings = Diagnose(listed, kScenarioNow);
  f = FindFinding(findings, "prober", "prober_listed");
  REQUIRE(f != nullptr);
  CHECK_THAT(FillDiagnosisText(f->diagnosis->symptom, listed, *f), Catch::Contains("spamhaus"));
  const Finding* g = FindFinding(findings, "greeting", "greeting_554");
  REQUIRE(g != nullptr);
  CHECK_THAT(std::string(g->diagnosis->cause), Catch::Contains("usually means the prober's address is listed"));
  CheckInvariants(listed);
}

TEST_CASE("reverse DNS and opportunistic facts never rise above info", "[findings]") {
  DomainReport r = HealthyReport();
  EndpointReport& e = EndpointAt(r, "192.0.2.1");
  e.reverse_dns.error = "nxdomain";
  e.reverse_dns.ptr_names.clear();
  e.key_type_sessions[1].handshake_ok = false;
  std::vector<CertFacts> presented = e.cert->presented;  // the shared list is immutable
  presented[0].weak_key = true;
  e.cert->presented = std::move(presented);
  r.tlsrpt.present = false;
  r.mx_dnssec = DnssecStatus::kInsecure;
  std::vector<Finding> findings = Diagnose(r, kScenarioNow);
  for (const auto& [check, reason] : std::vector<std::pair<std::string, std::string>>{
           {"reverse_dns", "no_ptr"}, {"key_types", "key_type_missing"},
           {"certificate", "weak_key"}, {"tlsrpt", "absent"}, {"dnssec", "insecure"}}) {
    INFO(check << "/" << reason);
    const Finding* f = FindFinding(findings, check, reason);
    REQUIRE(f != nullptr);
    CHECK(f->level == FindingLevel::kInfo);
  }
  CHECK(PredictAlerts(r, kScenarioNow).empty());
  CheckInvariants(r);
}

TEST_CASE("an unregistered reason is left without a diagnosis, so tests catch it", "[findings]") {
  DomainReport r = HealthyReport();
  EndpointReport& e = EndpointAt(r, "192.0.2.2");
  e.handshake_ok = false;
  e.failure_stage = "handshake";
  e.failure_reason = "a_reason_nobody_registered";
  std::vector<Finding> findings = Diagnose(r, kScenarioNow);
  const Finding* f = FindFinding(findings, "handshake", "a_reason_nobody_registered");
  REQUIRE(f != nullptr);
  CHECK(f->level == FindingLevel::kWarning);
  CHECK(f->diagnosis == nullptr);
}

TEST_CASE("FillDiagnosisText fills every placeholder and leaves other braces", "[findings]") {
  DomainReport r;
  r.domain = "a.example";
  Finding f;
  f.mx = "mx1.a.example";
  f.address = "2001:db8::1";
  f.detail = "{mx} stays literal";
  CHECK(FillDiagnosisText("{domain} {mx} [{address}] {detail} {other} {", r, f) ==
        "a.example mx1.a.example [2001:db8::1] {mx} stays literal {other} {");
}

TEST_CASE("the registry has one entry per (check, reason), all texts filled", "[findings]") {
  std::set<std::pair<std::string_view, std::string_view>> seen;
  for (const Diagnosis& d : AllDiagnoses()) {
    INFO(d.check << "/" << d.reason);
    CHECK(seen.insert({d.check, d.reason}).second);
    CHECK_FALSE(d.symptom.empty());
    CHECK_FALSE(d.affected.empty());
    CHECK_FALSE(d.cause.empty());
    CHECK_FALSE(d.fix.empty());
    CHECK(d.reason != "ok");
    CHECK(FindDiagnosis(d.check, d.reason) == &d);
  }
  CHECK(FindDiagnosis("chain", "no_such_reason") == nullptr);
}

// The closed set. Reason words are free strings passed between modules; this scans the
// sources for every place that produces one and requires a diagnosis for each word, so that
// a new reason without a diagnosis fails here rather than at 3 a.m.
// Patterns (in probes/*.cc and probes/judgement/*.cc, this registry excluded):
//   Refuse("x") / Deliver("x")                 sender verdicts (verdicts.cc)
//   fail("stage", "x") / fail("stage", ...)    endpoint failures; the stage must be a check
//   Status::Error("x" / Failed("x"            reason words of statuses that become labels
//   reason|failure_reason|lookup_error = "x"   reasons set directly
//   FailedReport(task, "x"                     whole-probe failures
//   return "x";  in cert_checks.cc, dane.cc, dnssec.cc (verify reasons, DANE verdicts, statuses)
//   "sts-..."                                   MTA-STS failure reasons (policy_probe.cc)
// Exempt: https_fetch.cc (its reasons end up in the message of sts-policy-fetch-error);
// words that are not fault reasons (below); the prefixes "dns_" and "testing_", which are
// composed at run time from registered words (checked separately).
TEST_CASE("every reason word the probes produce has a diagnosis", "[findings][closed]") {
  const std::set<std::string> kNotReasons = {
      "ok", "match",  // passing results
      "secure",       // DNSSEC status that passes
      "nodata",       // no record: not an error (a missing PTR is diagnosed as no_ptr)
      "unusable", "superseded", "malformed",  // per-TLSA-record results, shown in the detail
      "testing_", "dns_",                     // prefixes, see below
  };
  const std::vector<std::regex> kPatterns = {
      std::regex(R"re((?:Refuse|Deliver)\("([a-z0-9_-]+)\")re"),
      std::regex(R"re(\bfail\("[a-z]+",\s*"([a-z0-9_-]+)\")re"),
      std::regex(R"re((?:Status::Error|Failed)\("([a-z0-9_-]+)\")re"),
      std::regex(R"re((?:\breason|failure_reason|lookup_error)\s*=\s*"([a-z0-9_-]+)\")re"),
      std::regex(R"re(FailedReport\([a-z_.>-]+,\s*"([a-z0-9_-]+)\")re"),
      std::regex(R"re("(sts-[a-z-]+)\")re"),
  };
  const std::regex kReturn(R"re(return "([a-z0-9_]+)";)re");
  const std::regex kStage(R"re(\bfail\("([a-z]+)\")re");
  std::set<std::string> registered_reasons, registered_checks;
  for (const Diagnosis& d : AllDiagnoses()) {
    registered_reasons.insert(std::string(d.reason));
    registered_checks.insert(std::string(d.check));
  }
  size_t words = 0;
  for (const char* dir : {"probes", "probes/judgement"}) {
    for (const auto& entry : std::filesystem::directory_iterator(SourceRoot() / dir)) {
      const auto& path = entry.path();
      const std::string name = path.filename().string();
      if (path.extension() != ".cc" && path.extension() != ".h") continue;
      if (name == "diagnoses.cc" || name == "findings.cc" || name == "https_fetch.cc") continue;
      const std::string text = ReadFile(path);
      std::vector<std::regex> patterns = kPatterns;
      if (name == "cert_checks.cc" || name == "dane.cc" || name == "dnssec.cc") {
        patterns.push_back(kReturn);
      }
      for (const auto& re : patterns) {
        for (auto it = std::sregex_iterator(text.begin(), text.end(), re);
             it != std::sregex_iterator(); ++it) {
          const std::string word = (*it)[1];
          if (kNotReasons.count(word)) continue;
          ++words;
          INFO(name << ": reason \"" << word << "\"");
          CHECK(registered_reasons.count(word) == 1);
        }
      }
      for (auto it = std::sregex_iterator(text.begin(), text.end(), kStage);
           it != std::sregex_iterator(); ++it) {
        INFO(name << ": failure stage \"" << (*it)[1] << "\"");
        CHECK(registered_checks.count((*it)[1]) == 1);
      }
    }
  }
  CHECK(words > 50);  // the scan found the producers (a moved file would silently find none)
  // "dns_" + the MX lookup's reason (probe_engine.cc): every DNS failure word of dns_message.h.
  for (const char* dns : {"servfail", "refused", "timeout", "dns_error", "dnssec_bogus", "nxdomain"}) {
    INFO(dns);
    CHECK(FindDiagnosis("probe", std::string("dns_") + dns) != nullptr);
    CHECK(FindDiagnosis("dns", dns) != nullptr);
  }
  // The TLSA lookup errors the engine sets (probe_engine.cc: the DNS reason, or dnssec_bogus).
  for (const char* dns : {"servfail", "refused", "timeout", "dns_error", "dnssec_bogus"}) {
    INFO(dns);
    CHECK(FindDiagnosis("dane", dns) != nullptr);
  }
  // Every DANE endpoint verdict of domain_report.h and every chain reason of cert_checks.h.
  for (const char* d : {"no_match", "stale_digest", "name_mismatch", "expired", "ta_not_presented",
                        "chain", "only_unusable", "tlsa_lookup_failed", "no_starttls", "handshake"}) {
    INFO(d);
    CHECK(FindDiagnosis("dane", d) != nullptr);
  }
  for (const char* c : {"expired", "not_yet_valid", "self_signed", "untrusted", "incomplete_chain",
                        "bad_signature", "invalid_purpose", "invalid_ca", "path_too_long",
                        "no_certificate", "unknown"}) {
    INFO(c);
    CHECK(FindDiagnosis("chain", c) != nullptr);
  }
}

// Parses the alert names of the shipped rules (lines "- alert: Name").
std::set<std::string> RuleAlertNames() {
  std::set<std::string> names;
  std::string text = ReadFile(SourceRoot() / "alerts/mxtls.rules.yml");
  std::regex re(R"re(-\s+alert:\s+([A-Za-z0-9]+))re");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator(); ++it) {
    names.insert((*it)[1]);
  }
  return names;
}

TEST_CASE("every alert rule is predicted by some scenario and has a runbook section", "[findings]") {
  std::set<std::string> predicted;
  for (const auto& s : Scenarios()) {
    for (const auto& a : PredictAlerts(ScenarioReport(s), kScenarioNow)) predicted.insert(a.name);
  }
  // Alerts about the exporter itself need its /metrics, not a domain's /probe series; so do
  // the TLS-RPT alerts, which are about the reports senders delivered, not about a probe
  // (alerts/tests/tlsrpt_test.yml tests them).
  const std::set<std::string> kExporterAlerts = {"MxTlsExporterDown", "MxTlsResolverNotValidating",
                                                 "MxTlsTlsRptFailureRatioHigh",
                                                 "MxTlsTlsRptReportsStale"};
  std::set<std::string> rules = RuleAlertNames();
  REQUIRE(rules.size() > 20);
  const std::string runbook = ReadFile(SourceRoot() / "alerts/runbook.md");
  for (const auto& name : rules) {
    INFO(name);
    CHECK(runbook.find("\n## " + name + "\n") != std::string::npos);
    if (!kExporterAlerts.count(name)) CHECK(predicted.count(name) == 1);
  }
  for (const auto& name : predicted) {
    INFO(name);
    CHECK(rules.count(name) == 1);
  }
}

}  // namespace
}  // namespace mxtls
