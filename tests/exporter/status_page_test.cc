// The status page and /sd through the running exporter (fixture DNS, SMTP and policy
// servers), and the drill-down rendered in-process from a real probe's report, compared with
// what Diagnose says. Hostile names come from certificates and TXT records, the fields an
// attacker controls (a DNS name cannot hold '<', a certificate SAN and a TXT string can).
#include <catch2/catch.hpp>
#include <httplib.h>

#include <algorithm>
#include <fstream>
#include <thread>

#include "exporter/html_text.h"
#include "exporter/report_store.h"
#include "exporter/status_page.h"
#include "probes/judgement/findings.h"
#include "probes/probe_engine.h"
#include "tests/support/mail_world.h"

namespace mxtls::testing {
namespace {

const std::string kHostileCn = "\"><script>alert(1)</script>";
const std::string kHostileSan = "<img src=x onerror=alert(2)>.hostile.test";
const std::string kControlSan = "mail\x1b[31m.hostile.test";
const std::string kHostileRua = "mailto:<script>alert(3)</script>@hostile.test";

// Raw forms that must never reach the page, and their escaped forms that must.
const std::vector<std::string> kRaw = {"<script>", "<img", "\x1b", "onerror=alert(2)>"};

// Three configured domains and an unlisted one:
//   good.test     healthy (127.0.0.81)
//   hostile.test  a certificate whose CN and SANs carry HTML and an ESC, covering not the MX
//                 and expiring in 3 days (127.0.0.82); a TLS-RPT record with HTML in its rua
//   quiet.test    configured, never probed
//   stray.test    not configured, probed via allow_unlisted_targets (127.0.0.83)
struct StatusWorld {
  MailWorld w;
  SmtpFixtureServer* good = nullptr;
  SmtpFixtureServer* hostile = nullptr;
  SmtpFixtureServer* stray = nullptr;

  StatusWorld() {
    good = &w.Serve("127.0.0.81", w.Healthy(w.Leaf({"mx.good.test"})));
    CertSpec spec;
    spec.common_name = kHostileCn;
    spec.dns_sans = {kHostileSan, kControlSan};
    // Expiring in 3 days: critical whatever the MTA-STS mode (a name mismatch alone is only
    // info for a domain without a policy).
    spec.not_after = std::chrono::system_clock::now() + std::chrono::hours(72);
    TestCert leaf = MakeIssued(spec, w.pki.intermediate());
    SmtpFixtureOptions o;
    o.certs = {CertEntry::FromCerts({}, leaf, {&w.pki.intermediate()})};
    hostile = &w.Serve("127.0.0.82", o);
    stray = &w.Serve("127.0.0.83", w.Healthy(w.Leaf({"mx.stray.test"})));
    w.dns.AddMx("good.test", 10, "mx.good.test");
    w.dns.AddA("mx.good.test", "127.0.0.81");
    w.dns.AddMx("hostile.test", 10, "mx1.hostile.test");
    w.dns.AddA("mx1.hostile.test", "127.0.0.82");
    w.dns.AddTxt("_smtp._tls.hostile.test", {"v=TLSRPTv1; rua=" + kHostileRua});
    w.dns.AddMx("stray.test", 10, "mx.stray.test");
    w.dns.AddA("mx.stray.test", "127.0.0.83");
  }

  // MailWorld writes no targets; its module YAML is the last thing before the top-level
  // allow_unlisted_targets key, so top-level keys can follow the module's own.
  void Start() {
    w.Start("targets:\n  - domain: good.test\n  - domain: hostile.test\n"
            "  - domain: quiet.test\n");
  }

  size_t Sessions() const {
    return good->connection_count() + hostile->connection_count() + stray->connection_count();
  }
};

struct Page {
  int status = 0;
  std::string body;
  std::string content_type;
  std::string location;
};

Page Get(MailWorld& w, const std::string& path) {
  auto client = NewLoopbackClient(w.exporter_port());
  auto res = client->Get(path.c_str());
  REQUIRE(res);
  return {res->status, res->body, res->get_header_value("Content-Type"),
          res->get_header_value("Location")};
}

// The row of `domain` in the overview, from <tr ... data-domain="domain" to </tr>.
std::string RowOf(const std::string& page, const std::string& domain) {
  size_t at = page.find("data-domain=\"" + domain + "\"");
  if (at == std::string::npos) return "";
  size_t start = page.rfind("<tr", at);
  return page.substr(start, page.find("</tr>", at) - start);
}

void CheckEscaped(const std::string& html) {
  for (const std::string& raw : kRaw) {
    INFO("raw " << raw);
    CHECK(html.find(raw) == std::string::npos);
  }
}

TEST_CASE("/status lists every configured target worst first and never probes",
          "[status][integration]") {
  StatusWorld s;
  s.Start();
  Page before = Get(s.w, "/status");
  CHECK(before.status == 200);
  CHECK(before.content_type == "text/html; charset=utf-8");
  for (const char* d : {"good.test", "hostile.test", "quiet.test"}) {
    CHECK(RowOf(before.body, d).find("data-level=\"not probed yet\"") != std::string::npos);
  }
  CHECK(s.Sessions() == 0);

  s.w.Probe("good.test");
  s.w.Probe("hostile.test");
  s.w.Probe("stray.test");
  size_t sessions = s.Sessions();
  CHECK(sessions >= 3);

  Page page;
  for (int i = 0; i < 3; ++i) page = Get(s.w, "/status");
  // Nothing a page load could have started is still on its way.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(s.Sessions() == sessions);

  INFO(page.body);
  std::string good = RowOf(page.body, "good.test");
  std::string hostile = RowOf(page.body, "hostile.test");
  std::string quiet = RowOf(page.body, "quiet.test");
  REQUIRE(!good.empty());
  REQUIRE(!hostile.empty());
  REQUIRE(!quiet.empty());
  CHECK(RowOf(page.body, "stray.test").empty());  // unlisted: never kept
  CHECK(hostile.find("data-level=\"critical\"") != std::string::npos);
  CHECK(hostile.find("class=\"level level-critical\"") != std::string::npos);
  CHECK(hostile.find("expiry: ") != std::string::npos);
  CHECK(good.find("data-level=\"critical\"") == std::string::npos);
  CHECK(good.find("data-level=\"warning\"") == std::string::npos);
  CHECK(quiet.find("class=\"level level-unprobed\">not probed yet") != std::string::npos);
  // Worst first; not probed last.
  CHECK(page.body.find(hostile) < page.body.find(good));
  CHECK(page.body.find(good) < page.body.find(quiet));
  // Age and links.
  CHECK(good.find(" s ago</td>") != std::string::npos);
  CHECK(good.find("href=\"probe?target=good.test&amp;module=default&amp;debug=true\"") !=
        std::string::npos);
  CHECK(good.find("href=\"status/good.test\"") != std::string::npos);
  CHECK(page.body.find("each replica shows only its own share of the targets") !=
        std::string::npos);
  CheckEscaped(page.body);

  // The landing page links the status page.
  Page landing = Get(s.w, "/");
  CHECK(landing.body.find("<a href=\"status\">") != std::string::npos);
  CHECK(landing.body.find("<a href=\"status/good.test\">status</a>") != std::string::npos);
}

TEST_CASE("/status drill-down: diagnoses and facts, every hostile field escaped",
          "[status][integration][escape]") {
  StatusWorld s;
  s.Start();
  s.w.Probe("hostile.test");
  size_t sessions = s.Sessions();

  Page redirect = Get(s.w, "/status?domain=Hostile.Test.");
  CHECK(redirect.status == 302);
  CHECK(redirect.location == "status/hostile.test");

  Page page = Get(s.w, "/status/hostile.test");
  INFO(page.body);
  CHECK(page.status == 200);
  CHECK(page.body.find("<dl class=\"diagnosis\"><dt>Symptom</dt>") != std::string::npos);
  CHECK(page.body.find("<code>name_mismatch</code>") != std::string::npos);
  CHECK(page.body.find("Probe now with debug output") != std::string::npos);
  CHECK(page.body.find("href=\"../probe?target=hostile.test&amp;module=default&amp;debug=true\"") !=
        std::string::npos);
  // The hostile fields, escaped, and never raw.
  CHECK(page.body.find(HtmlEscape(kHostileSan)) != std::string::npos);
  CHECK(page.body.find("&lt;img src=x onerror=alert(2)&gt;.hostile.test") != std::string::npos);
  CHECK(page.body.find("mail\\x1B[31m.hostile.test") != std::string::npos);
  CHECK(page.body.find("&lt;script&gt;alert(1)&lt;/script&gt;") != std::string::npos);
  CHECK(page.body.find("mailto:&lt;script&gt;alert(3)&lt;/script&gt;@hostile.test") !=
        std::string::npos);
  CheckEscaped(page.body);
  CHECK(s.Sessions() == sessions);

  Page unknown = Get(s.w, "/status/%3Cscript%3E.test");
  CHECK(unknown.status == 404);
  CHECK(unknown.body.find("&lt;script&gt;.test") != std::string::npos);
  CheckEscaped(unknown.body);

  Page quiet = Get(s.w, "/status/quiet.test");
  CHECK(quiet.status == 200);
  CHECK(quiet.body.find("Not probed yet") != std::string::npos);
}

TEST_CASE("/sd lists the configured targets by module", "[status][sd][integration]") {
  StatusWorld s;
  s.Start();
  Page sd = Get(s.w, "/sd");
  CHECK(sd.status == 200);
  CHECK(sd.content_type == "application/json");
  CHECK(sd.body ==
        "[{\"labels\":{\"__meta_mxtls_module\":\"default\"},"
        "\"targets\":[\"good.test\",\"hostile.test\",\"quiet.test\"]}]\n");
}

// In-process: the same hostile world probed by the engine itself, so the page can be held
// against Diagnose(report) exactly: every failure's filled diagnosis is on it, escaped.
TEST_CASE("drill-down shows exactly Diagnose's findings with their filled diagnoses",
          "[status][escape]") {
  StatusWorld s;
  char tmpl[] = "/tmp/mxtls-status-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::ofstream(dir + "/root.pem") << s.w.pki.RootPem();
  config::Environment env;
  env.resolv_conf_path = "/dev/null";
  auto parsed = config::ParseConfig(
      "dns:\n  resolvers: [\"127.0.0.1:" + std::to_string(s.w.dns.port()) +
          "\"]\n  timeout: 500ms\nmodules:\n  default:\n    smtp:\n      port: " +
          std::to_string(s.hostile->port()) + "\n      ehlo_name: prober.test\n    tls:\n"
          "      ca_file: " + dir + "/root.pem\n    mta_sts:\n      enabled: false\n"
          "targets:\n  - domain: hostile.test\n",
      "status.yml", env);
  REQUIRE(parsed.ok());
  auto cfg = std::make_shared<const config::Config>(parsed.value());
  auto engine = ProbeEngine::Create(EngineOptions{1, nullptr});
  REQUIRE(engine.ok());
  ProbeTask task;
  task.domain = "hostile.test";
  task.config = cfg;
  task.module = cfg->FindModule("default");
  task.timeout_seconds = 10;
  task.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  DomainReport report = engine.value()->Probe(task);
  std::system(("rm -rf '" + dir + "'").c_str());

  ReportStore store;
  WallTime now = std::chrono::system_clock::now();
  REQUIRE(store.Record(*cfg, report, now));
  StatusPageReply page = RenderStatusDomain(*cfg, store.Snapshot(*cfg), "hostile.test", now);
  INFO(page.html);
  CHECK(page.status == 200);
  std::vector<Finding> findings = Diagnose(report, now);
  REQUIRE(!findings.empty());
  CHECK(findings.front().level == FindingLevel::kCritical);
  int failures = 0;
  for (const Finding& f : findings) {
    INFO(f.check << " " << f.reason << " " << f.detail);
    CHECK(page.html.find(HtmlEscape(f.detail)) != std::string::npos);
    if (f.level == FindingLevel::kOk) continue;
    ++failures;
    REQUIRE(f.diagnosis != nullptr);
    for (std::string_view text : {f.diagnosis->symptom, f.diagnosis->affected,
                                  f.diagnosis->cause, f.diagnosis->fix}) {
      CHECK(page.html.find(HtmlEscape(FillDiagnosisText(text, report, f))) != std::string::npos);
    }
  }
  // One table row per failure, in Diagnose's order (worst first).
  size_t rows = 0;
  for (size_t at = 0; (at = page.html.find("<tr class=\"finding\"", at)) != std::string::npos; ++at) {
    ++rows;
  }
  CHECK(rows == static_cast<size_t>(failures));
  CheckEscaped(page.html);

  // The kept copy is the report without its chains: rough sizes for the store's bound.
  size_t der_bytes = 0;
  for (const EndpointReport& e : report.endpoints) {
    if (e.chain) {
      for (const X509Ptr& x : *e.chain) der_bytes += i2d_X509(x.get(), nullptr);
    }
  }
  CHECK(der_bytes > 0);
  auto kept = store.Snapshot(*cfg).at({"hostile.test", "default"});
  CHECK(kept->report.endpoints.at(0).chain == nullptr);
  WARN("chain DER bytes released per report: " << der_bytes << ", log bytes released: "
                                                << report.log->Text().size());
}

}  // namespace
}  // namespace mxtls::testing

namespace mxtls::testing {
namespace {

// The mail world of tests/e2e/status_page_e2e.sh (run by it, hidden otherwise): one domain
// per level, probed, then the script checks the page in Chromium and /sd in Prometheus while
// this world serves. alt.test uses a second module (to see the module reach the exporter)
// and quiet.test is never probed here.
TEST_CASE("status page end to end: browser and Prometheus (run by status_page_e2e.sh)",
          "[.status_e2e]") {
  const char* check = std::getenv("MXTLS_STATUS_E2E_CHECK");
  const char* artifacts = std::getenv("MXTLS_STATUS_E2E_ARTIFACTS");
  if (check == nullptr || artifacts == nullptr) FAIL("run by tests/e2e/status_page_e2e.sh");
  StatusWorld s;
  auto now = std::chrono::system_clock::now();
  // Expiry thresholds of the shipped rules: 30 d info, 14 d warning, 7 d critical.
  s.w.Serve("127.0.0.85", s.w.Healthy(s.w.Leaf({"mx.warn.test"}, now + std::chrono::hours(24 * 10))));
  s.w.Serve("127.0.0.86", s.w.Healthy(s.w.Leaf({"mx.info.test"}, now + std::chrono::hours(24 * 20))));
  s.w.Serve("127.0.0.84", s.w.Healthy(s.w.Leaf({"mx.alt.test"})));
  for (const char* d : {"warn", "info", "alt"}) {
    std::string domain = std::string(d) + ".test";
    s.w.dns.AddMx(domain, 10, "mx." + domain);
  }
  s.w.dns.AddA("mx.alt.test", "127.0.0.84");
  s.w.dns.AddA("mx.warn.test", "127.0.0.85");
  s.w.dns.AddA("mx.info.test", "127.0.0.86");
  // A second module (a sibling of default: MailWorld's module YAML sits under modules:).
  s.w.Start("  alt:\n    smtp:\n      port: " + std::to_string(s.good->port()) +
            "\n      ehlo_name: prober.test\n    mta_sts:\n      enabled: false\n"
            "targets:\n  - domain: good.test\n  - domain: hostile.test\n"
            "  - domain: quiet.test\n  - domain: warn.test\n  - domain: info.test\n"
            "  - domain: alt.test\n    module: alt\n");
  for (const char* d : {"good.test", "hostile.test", "warn.test", "info.test"}) s.w.Probe(d);
  std::string command = std::string(check) + " " + std::to_string(s.w.exporter_port()) + " '" +
                        artifacts + "'";
  int rc = std::system(command.c_str());
  CHECK(rc == 0);
}

}  // namespace
}  // namespace mxtls::testing
