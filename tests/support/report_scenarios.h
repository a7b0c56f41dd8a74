// Hand-built DomainReports for the findings tests: one healthy domain and one named fault per
// scenario, built from facts alone (no certificates, no sockets), so that Diagnose and
// PredictAlerts can be checked in a table and against the real alert rules with promtool.
#pragma once

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "probes/judgement/domain_report.h"

namespace mxtls::testing {

// The time the scenarios are judged at: 80 minutes after the epoch, which is where a promtool
// test evaluates when its series start at 0 (so not_after values line up with time()).
inline const WallTime kScenarioNow = FromUnixSeconds(80 * 60);

// A certificate report judged at kScenarioNow: verified, complete, matching, expiring in
// `days`, with `fingerprint` (short is fine) and the given SANs.
CertificateReport ScenarioCert(const std::string& fingerprint, double days,
                               std::vector<std::string> sans, const std::string& key_type = "EC");

// a.example: MX 10 mx1.a.example (192.0.2.1, 2001:db8::1) with DNSSEC and one matching
// DANE-EE record, MX 20 mx2.a.example (192.0.2.2) signed without TLSA; MTA-STS enforce
// covering both, valid TLS-RPT, TLS 1.2 and 1.3 everywhere, PTRs that match. No finding is
// worse than ok and no alert fires.
DomainReport HealthyReport();

// The shape of a healthy domain built by HealthyDomain.
struct DomainShape {
  bool policy = true;  // a valid MTA-STS policy covering every MX host
  bool dane = true;    // DNSSEC-secure, one DANE-EE record per host
};

// A healthy domain of `mx_hosts` MX hosts (mx1.a.example, ...) with one IPv4 address each (and
// one IPv6 address each when `ipv6`), every endpoint shaped like the first endpoint of
// HealthyReport() (every default check ran and passed), with the five dialogue phases timed.
// For the series budget and the rendering benchmark.
DomainReport HealthyDomain(int mx_hosts, bool ipv6, DomainShape shape);

struct Scenario {
  std::string name;
  std::function<void(DomainReport&)> fault;  // applied to HealthyReport()
  std::set<std::string> alerts;              // alert names that must be predicted (exactly)
};

// Every fault of the list in the task, each with the alerts the shipped rules raise.
const std::vector<Scenario>& Scenarios();

// The scenario's report.
DomainReport ScenarioReport(const Scenario& s);

// The endpoint of `report` on `address` (it must exist).
EndpointReport& EndpointAt(DomainReport& report, const std::string& address);
MxHostReport& HostNamed(DomainReport& report, const std::string& host);

}  // namespace mxtls::testing
