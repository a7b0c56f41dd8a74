// The status page: a server-rendered HTML view (inline CSS, no scripts, no external assets)
// of the last report of every configured target, worst first, and a drill-down per domain
// with the diagnoses of probes/judgement/findings.h, the same ones the `check` command prints.
// It renders kept reports only; nothing here probes.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "common/clock.h"
#include "config/config.h"
#include "exporter/report_store.h"

namespace mxtls {

using StoredReports = std::map<ReportStore::Key, std::shared_ptr<const StoredReport>>;

struct StatusPageReply {
  int status = 200;
  std::string html;
};

// /status: one row per configured target (its configured module, plus any other module it
// was probed with), worst first, then by domain; targets without a kept report last, as
// "not probed yet". `now` ages the data and judges expiry.
std::string RenderStatusOverview(const config::Config& config, const StoredReports& reports,
                                 WallTime now);

// /status?domain=X or /status/X: every kept report of `domain` with its findings worst first
// and each failure's diagnosis, then the facts they rest on (MX hosts, endpoints and their
// certificates, MTA-STS, TLS-RPT). 404 when `domain` is not a configured target.
StatusPageReply RenderStatusDomain(const config::Config& config, const StoredReports& reports,
                                   const std::string& domain, WallTime now);

// "42 s", "5 min", "3 h 20 min", "2 d 4 h": how long ago, for people.
std::string HumanAge(double seconds);

}  // namespace mxtls
