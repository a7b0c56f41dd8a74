#include "exporter/status_page.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <optional>
#include <vector>

#include "common/build_info.h"
#include "exporter/html_text.h"
#include "probes/judgement/findings.h"

namespace mxtls {
namespace {

// Colours of the levels. The classes carry them so that the page has one place that says
// what red means; the e2e test reads these colours back from a screenshot.
constexpr const char* kStyle = R"css(
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #212121; background: #fff; }
h1 { font-size: 1.5em; margin: 0 0 .3em 0; }
h2 { font-size: 1.2em; margin: 1.2em 0 .4em 0; }
p.note { color: #555; max-width: 60em; }
table { border-collapse: collapse; margin: .4em 0 1em 0; }
th, td { border: 1px solid #ddd; padding: .3em .6em; text-align: left; vertical-align: top; }
th { background: #f5f5f5; }
td.level { color: #fff; font-weight: bold; white-space: nowrap; }
.level-critical { background: #c62828; }
.level-warning { background: #ef8f00; }
.level-info { background: #1565c0; }
.level-ok { background: #2e7d32; }
.level-unprobed { background: #9e9e9e; }
.counts span { display: inline-block; min-width: 1.6em; padding: 0 .3em; margin-right: .2em;
  color: #fff; border-radius: .3em; text-align: center; }
dl.diagnosis { margin: 0; }
dl.diagnosis dt { font-weight: bold; }
dl.diagnosis dd { margin: 0 0 .3em 1em; }
code, .name { font-family: ui-monospace, monospace; overflow-wrap: anywhere; }
)css";

// "not probed yet" sorts after every level: on a sharded replica those are other replicas'
// targets, not faults.
constexpr int kUnprobedRank = 4;

std::string LevelClass(int rank) {
  if (rank == kUnprobedRank) return "level-unprobed";
  return "level-" + std::string(FindingLevelWord(static_cast<FindingLevel>(rank)));
}

std::string LevelLabel(int rank) {
  if (rank == kUnprobedRank) return "not probed yet";
  return std::string(FindingLevelWord(static_cast<FindingLevel>(rank)));
}

std::string PageHead(const std::string& title) {
  return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<meta name=\"viewport\" content=\"width=device-width\">"
         "<title>" + HtmlEscape(title) + "</title>\n<style>" + kStyle +
         "</style></head>\n<body>\n";
}

std::string PageFoot() {
  return "<p class=\"note\">mxtls_exporter " + HtmlEscape(kVersion) + " (" +
         HtmlEscape(kRevision) + ")</p>\n</body></html>\n";
}

// Relative links, so the page works behind a reverse proxy that mounts it under a prefix;
// `depth` is how many path segments below the root the page is (1 for /status/X).
std::string ProbeLink(const std::string& domain, const std::string& module, bool debug,
                      int depth) {
  std::string prefix;
  for (int i = 0; i < depth; ++i) prefix += "../";
  std::string q = "probe?target=" + UrlEncode(domain) + "&module=" + UrlEncode(module);
  if (debug) q += "&debug=true";
  return prefix + q;
}

std::string Iso8601(WallTime t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

std::string DateOf(long long unix_seconds) {
  return Iso8601(WallTime(std::chrono::seconds(unix_seconds))).substr(0, 10);
}

double AgeSeconds(const StoredReport& stored, WallTime now) {
  return std::max(0.0, std::chrono::duration<double>(now - stored.finished_at).count());
}

std::string Join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : sep) + i;
  return out;
}

std::string EscapedList(const std::vector<std::string>& items) {
  std::vector<std::string> escaped;
  for (const auto& i : items) escaped.push_back("<span class=\"name\">" + HtmlEscape(i) + "</span>");
  return escaped.empty() ? "&ndash;" : Join(escaped, ", ");
}

// One row of the overview.
struct Row {
  std::string domain;
  std::string module;
  std::shared_ptr<const StoredReport> stored;  // null: not probed yet
  std::vector<Finding> findings;
  int rank = kUnprobedRank;
};

int WorstRank(const std::vector<Finding>& findings) {
  int worst = static_cast<int>(FindingLevel::kOk);
  for (const Finding& f : findings) worst = std::min(worst, static_cast<int>(f.level));
  return worst;
}

std::string FindingScope(const Finding& f) {
  if (f.mx.empty()) return "domain";
  std::string scope = "<span class=\"name\">" + HtmlEscape(f.mx) + "</span>";
  if (!f.address.empty()) scope += " <span class=\"name\">" + HtmlEscape(f.address) + "</span>";
  return scope;
}

// The worst finding in a line: "certificate name_mismatch on mx1.example.com 192.0.2.1".
std::string Headline(const Row& row) {
  if (!row.stored) return "&ndash;";
  for (const Finding& f : row.findings) {
    if (f.level == FindingLevel::kOk) break;
    std::string line = HtmlEscape(f.check) + ": " + HtmlEscape(f.reason);
    if (!f.mx.empty()) line += " on " + FindingScope(f);
    if (!f.detail.empty()) line += " (" + HtmlEscape(f.detail) + ")";
    return line;
  }
  return "every check passed";
}

std::string Counts(const std::vector<Finding>& findings) {
  int counts[4] = {0, 0, 0, 0};
  for (const Finding& f : findings) ++counts[static_cast<int>(f.level)];
  std::string out = "<span class=\"counts\">";
  for (int rank = 0; rank < 4; ++rank) {
    if (counts[rank] == 0) continue;
    out += "<span class=\"" + LevelClass(rank) + "\" title=\"" + LevelLabel(rank) + "\">" +
           std::to_string(counts[rank]) + "</span>";
  }
  return out + "</span>";
}

constexpr const char* kReplicaNote =
    "<p class=\"note\">This page shows what this exporter process has probed itself, as "
    "Prometheus scraped it; a page load never probes. With several replicas (hashmod "
    "sharding of the scrape targets), each replica shows only its own share of the targets, "
    "the ones it was asked to probe: the others appear here as <em>not probed yet</em>. Ages "
    "count from the end of the last probe; after a restart or a reload that removed a target "
    "its data is gone.</p>\n";

}  // namespace

std::string HumanAge(double seconds) {
  long long s = std::llround(std::max(0.0, seconds));
  if (s < 120) return std::to_string(s) + " s";
  long long m = s / 60;
  if (m < 60) return std::to_string(m) + " min";
  long long h = m / 60;
  if (h < 48) return std::to_string(h) + " h " + std::to_string(m % 60) + " min";
  return std::to_string(h / 24) + " d " + std::to_string(h % 24) + " h";
}

std::string RenderStatusOverview(const config::Config& config, const StoredReports& reports,
                                 WallTime now) {
  std::vector<Row> rows;
  for (const config::TargetConfig& t : config.targets) {
    Row row{t.domain, t.module, nullptr, {}, kUnprobedRank};
    auto it = reports.find({t.domain, t.module});
    if (it != reports.end()) row.stored = it->second;
    rows.push_back(std::move(row));
  }
  // Reports of a configured target under another module (/probe?module=...).
  for (const auto& [key, stored] : reports) {
    const config::TargetConfig* t = config.FindTarget(key.first);
    if (t != nullptr && t->module != key.second) rows.push_back({key.first, key.second, stored, {}, 0});
  }
  for (Row& row : rows) {
    if (!row.stored) continue;
    row.findings = Diagnose(row.stored->report, now);
    row.rank = WorstRank(row.findings);
  }
  std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    if (a.rank != b.rank) return a.rank < b.rank;
    if (a.domain != b.domain) return a.domain < b.domain;
    return a.module < b.module;
  });

  int per_rank[5] = {0, 0, 0, 0, 0};
  for (const Row& row : rows) ++per_rank[row.rank];

  std::string html = PageHead("mxtls_exporter status");
  html += "<h1>MX TLS status</h1>\n<p><a href=\"./\">mxtls_exporter</a> &middot; " +
          std::to_string(rows.size()) + " targets: ";
  std::vector<std::string> summary;
  for (int rank = 0; rank <= kUnprobedRank; ++rank) {
    if (per_rank[rank] == 0) continue;
    summary.push_back("<span class=\"summary-" + LevelClass(rank) + "\">" +
                      std::to_string(per_rank[rank]) + " " + LevelLabel(rank) + "</span>");
  }
  html += Join(summary, ", ") + ". Page rendered " + Iso8601(now) + ".</p>\n";
  html += kReplicaNote;
  html +=
      "<table id=\"targets\">\n<tr><th>Status</th><th>Domain</th><th>Module</th>"
      "<th>Findings</th><th>Worst finding</th><th>Data age</th><th>Probe</th></tr>\n";
  for (const Row& row : rows) {
    std::string drill = "status/" + UrlEncode(row.domain);
    html += "<tr class=\"target " + LevelClass(row.rank) + "-row\" data-domain=\"" +
            HtmlEscape(row.domain) + "\" data-level=\"" + LevelLabel(row.rank) + "\">";
    html += "<td class=\"level " + LevelClass(row.rank) + "\">" + LevelLabel(row.rank) + "</td>";
    html += "<td><a class=\"name\" href=\"" + HtmlEscape(drill) + "\">" + HtmlEscape(row.domain) +
            "</a></td>";
    html += "<td>" + HtmlEscape(row.module) + "</td>";
    html += "<td>" + (row.stored ? Counts(row.findings) : std::string("&ndash;")) + "</td>";
    html += "<td>" + Headline(row) + "</td>";
    if (row.stored) {
      html += "<td title=\"" + Iso8601(row.stored->finished_at) + "\">" +
              HumanAge(AgeSeconds(*row.stored, now)) + " ago</td>";
    } else {
      html += "<td>&ndash;</td>";
    }
    html += "<td><a href=\"" + HtmlEscape(ProbeLink(row.domain, row.module, true, 0)) +
            "\">debug</a> <a href=\"" + HtmlEscape(ProbeLink(row.domain, row.module, false, 0)) +
            "\">metrics</a></td></tr>\n";
  }
  html += "</table>\n<p class=\"note\">The debug and metrics links run a probe now (they are "
          "/probe); this page does not.</p>\n";
  return html + PageFoot();
}

namespace {

std::string RenderFindings(const StoredReport& stored, const std::vector<Finding>& findings) {
  std::string html =
      "<table class=\"findings\">\n<tr><th>Level</th><th>Check</th><th>Where</th><th>Facts</th>"
      "<th>Diagnosis</th></tr>\n";
  std::vector<const Finding*> passed;
  for (const Finding& f : findings) {
    if (f.level == FindingLevel::kOk) {
      passed.push_back(&f);
      continue;
    }
    int rank = static_cast<int>(f.level);
    html += "<tr class=\"finding\" data-level=\"" + LevelLabel(rank) + "\"><td class=\"level " +
            LevelClass(rank) + "\">" + LevelLabel(rank) + "</td><td>" + HtmlEscape(f.check) +
            "<br><code>" + HtmlEscape(f.reason) + "</code></td><td>" + FindingScope(f) +
            "</td><td>" + HtmlEscape(f.detail) + "</td><td>";
    if (f.diagnosis != nullptr) {
      auto fill = [&](std::string_view text) {
        return HtmlEscape(FillDiagnosisText(text, stored.report, f));
      };
      html += "<dl class=\"diagnosis\"><dt>Symptom</dt><dd>" + fill(f.diagnosis->symptom) +
              "</dd><dt>Who is affected</dt><dd>" + fill(f.diagnosis->affected) +
              "</dd><dt>Likely cause</dt><dd>" + fill(f.diagnosis->cause) +
              "</dd><dt>Fix</dt><dd>" + fill(f.diagnosis->fix) + "</dd></dl>";
    }
    if (!f.alerts.empty()) {
      std::vector<std::string> names;
      for (const PredictedAlert& a : f.alerts) {
        names.push_back("<code>" + HtmlEscape(a.name) + "</code> (" + HtmlEscape(a.severity) + ")");
      }
      html += "<p>Alerts: " + Join(names, ", ") + "</p>";
    }
    html += "</td></tr>\n";
  }
  html += "</table>\n";
  if (!passed.empty()) {
    html += "<h3>Passed</h3>\n<ul class=\"passed\">\n";
    for (const Finding* f : passed) {
      html += "<li><span class=\"counts\"><span class=\"level-ok\">ok</span></span> " +
              HtmlEscape(f->check) + " " + (f->mx.empty() ? "" : "on " + FindingScope(*f)) +
              (f->detail.empty() ? "" : " (" + HtmlEscape(f->detail) + ")") + "</li>\n";
    }
    html += "</ul>\n";
  }
  return html;
}

std::string RenderFacts(const DomainReport& r) {
  std::string html = "<h3>MX hosts</h3>\n";
  if (!r.mx_lookup_error.empty()) {
    html += "<p>MX lookup failed: <code>" + HtmlEscape(r.mx_lookup_error) + "</code></p>\n";
  }
  if (r.null_mx) html += "<p>Null MX (RFC 7505): the domain accepts no mail.</p>\n";
  if (r.implicit_mx) html += "<p>No MX records: senders use the domain itself.</p>\n";
  html += "<table class=\"mx\">\n<tr><th>Preference</th><th>Host</th><th>IPv4</th><th>IPv6</th>"
          "<th>MTA-STS covered</th></tr>\n";
  for (const MxHostReport& mx : r.mx_hosts) {
    std::string host = "<span class=\"name\">" + HtmlEscape(mx.host) + "</span>";
    if (mx.is_cname) {
      host += " (CNAME to <span class=\"name\">" + HtmlEscape(mx.canonical_name) + "</span>)";
    }
    auto addresses = [](const std::vector<std::string>& a, const std::string& error) {
      std::string s = EscapedList(a);
      if (!error.empty()) s += " <code>" + HtmlEscape(error) + "</code>";
      return s;
    };
    html += "<tr><td>" + std::to_string(mx.preference) + "</td><td>" + host + "</td><td>" +
            addresses(mx.ipv4, mx.ipv4_error) + "</td><td>" + addresses(mx.ipv6, mx.ipv6_error) +
            "</td><td>" +
            (mx.sts_covered ? (*mx.sts_covered ? "yes" : "no") : "&ndash;") + "</td></tr>\n";
  }
  html += "</table>\n<h3>Endpoints</h3>\n<table class=\"endpoints\">\n<tr><th>MX</th>"
          "<th>Address</th><th>TLS</th><th>Certificate</th><th>Failure</th></tr>\n";
  for (const EndpointReport& e : r.endpoints) {
    std::string cert = "&ndash;";
    if (e.cert && !e.cert->presented.empty()) {
      const CertFacts& leaf = e.cert->leaf();
      // The CN separately: the subject's RFC 2253 form backslash-escapes it, and the CN is
      // what legacy senders match (cn_only).
      cert = "subject <span class=\"name\">" + HtmlEscape(leaf.subject) +
             "</span><br>common name <span class=\"name\">" + HtmlEscape(leaf.common_name) +
             "</span><br>names " + EscapedList(leaf.dns_sans) + "<br>issuer <span class=\"name\">" +
             HtmlEscape(leaf.issuer) + "</span><br>expires " + DateOf(leaf.not_after);
    }
    std::string failure = e.failure_reason.empty()
                              ? "&ndash;"
                              : HtmlEscape(e.failure_stage) + ": <code>" +
                                    HtmlEscape(e.failure_reason) + "</code> " +
                                    HtmlEscape(e.failure_message);
    html += "<tr><td class=\"name\">" + HtmlEscape(e.mx) + "</td><td class=\"name\">" +
            HtmlEscape(e.address) + "</td><td>" + HtmlEscape(e.tls_version) + " " +
            HtmlEscape(e.tls_cipher) + "</td><td>" + cert + "</td><td>" + failure + "</td></tr>\n";
  }
  html += "</table>\n";
  const MtaStsReport& sts = r.mta_sts;
  if (sts.checked) {
    html += "<h3>MTA-STS</h3>\n<p>TXT record: " +
            std::string(sts.txt_present ? (sts.txt_valid ? "valid" : "invalid") : "absent");
    if (!sts.txt_id.empty()) html += ", id <code>" + HtmlEscape(sts.txt_id) + "</code>";
    if (!sts.txt_error.empty()) html += " &ndash; " + HtmlEscape(sts.txt_error);
    html += "<br>Policy: ";
    if (sts.policy_valid) {
      html += "mode <code>" + HtmlEscape(sts.mode) + "</code>, mx " +
              EscapedList(sts.mx_patterns) + ", max_age " + std::to_string(sts.max_age);
    } else if (sts.fetch_attempted) {
      html += "<code>" + HtmlEscape(sts.failure_reason) + "</code> " +
              HtmlEscape(sts.failure_message);
    } else {
      html += "not fetched";
    }
    html += "</p>\n";
  }
  const TlsRptReport& rpt = r.tlsrpt;
  if (rpt.checked) {
    html += "<h3>TLS-RPT</h3>\n<p>" +
            std::string(rpt.present ? (rpt.valid ? "valid" : "invalid") : "absent");
    if (!rpt.rua.empty()) html += ", reports to " + EscapedList(rpt.rua);
    if (!rpt.error.empty()) html += " &ndash; " + HtmlEscape(rpt.error);
    html += "</p>\n";
  }
  return html;
}

}  // namespace

StatusPageReply RenderStatusDomain(const config::Config& config, const StoredReports& reports,
                                   const std::string& domain, WallTime now) {
  const config::TargetConfig* target = config.FindTarget(domain);
  if (target == nullptr) {
    return {404, PageHead("not a target") + "<h1>Not a configured target</h1>\n<p><span "
                 "class=\"name\">" + HtmlEscape(domain) + "</span> is not in this exporter's "
                 "targets. <a href=\"../status\">All targets</a></p>\n" + PageFoot()};
  }
  // Links are relative to /status/<domain> (the front redirects /status?domain= there).
  std::string html = PageHead(target->domain + " - mxtls_exporter status");
  html += "<h1 class=\"name\">" + HtmlEscape(target->domain) + "</h1>\n<p><a href=\"../status\">"
          "All targets</a> &middot; page rendered " + Iso8601(now) + "</p>\n";
  bool any = false;
  for (const auto& [key, stored] : reports) {
    if (key.first != target->domain) continue;
    any = true;
    std::vector<Finding> findings = Diagnose(stored->report, now);
    int rank = WorstRank(findings);
    html += "<h2>Module <code>" + HtmlEscape(key.second) + "</code>: <span class=\"level " +
            LevelClass(rank) + "\" style=\"color:#fff;padding:0 .4em\">" + LevelLabel(rank) +
            "</span></h2>\n<p>Probed " + HumanAge(AgeSeconds(*stored, now)) + " ago (" +
            Iso8601(stored->finished_at) + "), in " +
            std::to_string(std::llround(stored->report.duration_seconds * 1000)) +
            " ms. <a href=\"" + HtmlEscape(ProbeLink(key.first, key.second, true, 1)) +
            "\">Probe now with debug output</a></p>\n";
    html += RenderFindings(*stored, findings);
    html += RenderFacts(stored->report);
  }
  if (!any) {
    html += "<p class=\"level-unprobed\" style=\"color:#fff;padding:.3em\">Not probed yet by "
            "this exporter process.</p>\n<p><a href=\"" +
            HtmlEscape(ProbeLink(target->domain, target->module, true, 1)) +
            "\">Probe now with debug output</a></p>\n";
  }
  html += kReplicaNote;
  return {200, html + PageFoot()};
}

}  // namespace mxtls
