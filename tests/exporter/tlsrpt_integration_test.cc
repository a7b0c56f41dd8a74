// The TLS-RPT receiver in the running binary: reports posted over HTTP (JSON and gzip) and
// delivered into the spool (a mail message as Google sends them, .json and .json.gz files),
// counted exactly on /metrics, duplicates once whichever way they came, counts kept across a
// restart, and refusals (malformed, oversize, foreign domain, gzip bomb, media type, mail
// without a report) answered 4xx and counted by reason.
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <httplib.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "exporter/tlsrpt_receiver.h"
#include "tests/support/cert_factory.h"
#include "tests/support/exporter_process.h"
#include "tests/support/tlsrpt_fixtures.h"

namespace mxtls::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/mxtls-tlsrpt-it-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
};

std::string Config(const std::string& base, int64_t max_body = 1 << 20,
                   int64_t max_report = 16 << 20) {
  return R"(dns:
  resolvers: ["127.0.0.1:1"]
  timeout: 50ms
  attempts: 1
targets:
  - domain: example.org
  - domain: company-y.example
tlsrpt:
  listen_address: "127.0.0.1:0"
  spool_directory: )" + base + R"(/spool
  spool_interval: 1s
  data_directory: )" + base + R"(/data
  max_body_bytes: )" + std::to_string(max_body) + R"(
  max_report_bytes: )" + std::to_string(max_report) + "\n";
}

// The receiver's port, from its "tlsrpt receiver listening address=127.0.0.1:N" log line.
int ReceiverPort(const ExporterProcess& exporter) {
  REQUIRE(exporter.WaitForLog("tlsrpt receiver listening", seconds(10)));
  const std::string logs = exporter.Logs();
  size_t at = logs.find("tlsrpt receiver listening");
  size_t addr = logs.find("address=127.0.0.1:", at);
  REQUIRE(addr != std::string::npos);
  return std::atoi(logs.c_str() + addr + std::string("address=127.0.0.1:").size());
}

int Post(int port, const std::string& body, const std::string& type) {
  auto client = NewLoopbackClient(port);
  httplib::Result r = client->Post("/tlsrpt", body, type.c_str());
  return r ? r->status : -1;
}

// A connected TCP socket to 127.0.0.1:`port` whose reads give up after `timeout_seconds`.
int ConnectLoopback(int port, int timeout_seconds) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  timeval tv{timeout_seconds, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  return fd;
}

// Everything the server sends until it closes (or the read timeout), then closes `fd`.
std::string ReadUntilClosed(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

// Sends only `head` (request line and headers) and returns everything the server answers
// before it closes: a refused body must be refused before it is sent, like a large one still
// in flight.
std::string RawExchange(int port, const std::string& head) {
  int fd = ConnectLoopback(port, 5);
  REQUIRE(send(fd, head.data(), head.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(head.size()));
  return ReadUntilClosed(fd);
}

std::string Metrics(const ExporterProcess& exporter) {
  httplib::Result r = exporter.NewClient()->Get("/metrics");
  REQUIRE(r);
  REQUIRE(r->status == 200);
  return r->body;
}

void WriteSpoolFile(const std::string& spool, const std::string& name, const std::string& data) {
  // As a mail delivery agent does: written under a dot name, then renamed into place.
  const std::string tmp = spool + "/." + name;
  std::ofstream(tmp, std::ios::binary) << data;
  REQUIRE(rename(tmp.c_str(), (spool + "/" + name).c_str()) == 0);
}

size_t CountFiles(const std::string& dir) {
  size_t n = 0;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
    closedir(d);
  }
  return n;
}

bool WaitForFiles(const std::string& dir, size_t n) {
  for (int i = 0; i < 200; ++i) {
    if (CountFiles(dir) >= n) return true;
    std::this_thread::sleep_for(milliseconds(50));
  }
  return false;
}

std::string Failed(const std::string& domain, const std::string& type,
                   const std::string& result, const std::string& org, const std::string& mx) {
  return "mxtls_tlsrpt_failed_sessions_total{policy_domain=\"" + domain + "\",policy_type=\"" +
         type + "\",result_type=\"" + result + "\",organization=\"" + org +
         "\",receiving_mx=\"" + mx + "\"}";
}

TEST_CASE("tlsrpt receiver: HTTP and spool reports counted exactly, once, across a restart",
          "[tlsrpt][integration]") {
  TempDir base;
  REQUIRE(mkdir((base.path + "/spool").c_str(), 0750) == 0);
  const std::string spool = base.path + "/spool";
  const std::string rfc = TlsRptTestdata("rfc8460_example.json");
  const std::string google = TlsRptTestdata("google_shaped.json");
  const std::string microsoft = TlsRptTestdata("microsoft_shaped.json");
  const std::string mailed = SimpleTlsRptReport("Mailer", "m-1", "example.org", 50, 4,
                                                "certificate-not-trusted", "mx1.example.org", 4);

  auto check_counts = [&](const std::string& m) {
    CHECK(MetricValue(m, "mxtls_tlsrpt_successful_sessions_total{policy_domain=\"company-y."
                         "example\",policy_type=\"sts\"}") == 5326);
    CHECK(MetricValue(m, "mxtls_tlsrpt_summarized_failed_sessions_total{policy_domain=\"company-"
                         "y.example\",policy_type=\"sts\"}") == 303);
    CHECK(MetricValue(m, Failed("company-y.example", "sts", "certificate-expired", "company-x",
                                "mx1.mail.company-y.example")) == 100);
    CHECK(MetricValue(m, Failed("company-y.example", "sts", "starttls-not-supported",
                                "company-x", "mx2.mail.company-y.example")) == 200);
    CHECK(MetricValue(m, Failed("company-y.example", "sts", "validation-failure", "company-x",
                                "mx-backup.mail.company-y.example")) == 3);
    // Google (HTTP, gzip) and the mailed report both count into example.org/sts.
    CHECK(MetricValue(m, "mxtls_tlsrpt_successful_sessions_total{policy_domain=\"example."
                         "org\",policy_type=\"sts\"}") == 812 + 50);
    CHECK(MetricValue(m, "mxtls_tlsrpt_summarized_failed_sessions_total{policy_domain=\"example."
                         "org\",policy_type=\"sts\"}") == 7 + 4);
    CHECK(MetricValue(m, Failed("example.org", "sts", "certificate-host-mismatch", "google_inc.",
                                "mx2.example.org")) == 5);
    CHECK(MetricValue(m, Failed("example.org", "sts", "sts-policy-fetch-error", "google_inc.",
                                "unknown")) == 1);
    CHECK(MetricValue(m, Failed("example.org", "sts", "certificate-not-trusted", "mailer",
                                "mx1.example.org")) == 4);
    // Microsoft (spool, .json.gz): no-policy-found, its own result type as "other".
    CHECK(MetricValue(m, "mxtls_tlsrpt_successful_sessions_total{policy_domain=\"example."
                         "org\",policy_type=\"no-policy-found\"}") == 40);
    CHECK(MetricValue(m, "mxtls_tlsrpt_summarized_failed_sessions_total{policy_domain=\"example."
                         "org\",policy_type=\"no-policy-found\"}") == 9);
    CHECK(MetricValue(m, Failed("example.org", "no-policy-found", "validation-failure",
                                "microsoft_corporation", "mx1.example.org")) == 2);
    CHECK(MetricValue(m, Failed("example.org", "no-policy-found", "other",
                                "microsoft_corporation", "unknown")) == 3);
    CHECK(MetricValue(m, "mxtls_tlsrpt_last_report_end_timestamp_seconds{policy_domain="
                         "\"example.org\"}") == 1796083199);  // the mailed report's end
    CHECK(MetricValue(m, "mxtls_tlsrpt_last_report_end_timestamp_seconds{policy_domain="
                         "\"company-y.example\"}") == 1459555199);
    CHECK(MetricValue(m, "mxtls_tlsrpt_reports_accepted_total{source=\"http\"}") == 2);
    CHECK(MetricValue(m, "mxtls_tlsrpt_reports_accepted_total{source=\"spool\"}") == 2);
  };

  {
    ExporterProcess exporter(Config(base.path));
    const int port = ReceiverPort(exporter);
    CHECK(Post(port, rfc, "application/tlsrpt+json") == 200);
    CHECK(Post(port, Gzip(google), "application/tlsrpt+gzip") == 200);
    CHECK(Post(port, google, "application/tlsrpt+json") == 200);  // duplicate: still 2xx
    WriteSpoolFile(spool, "microsoft.json.gz", Gzip(microsoft));
    WriteSpoolFile(spool, "google-mail.eml", TlsRptMailMessage(mailed, "example.org"));
    WriteSpoolFile(spool, "again.json", rfc);  // came by HTTP first: counted once
    REQUIRE(WaitForFiles(spool + "/processed", 3));
    CHECK(CountFiles(spool) == 1);  // only processed/ is left
    CHECK(CountFiles(spool + "/rejected") == 0);
    std::this_thread::sleep_for(milliseconds(200));  // the last file is counted before it moves
    const std::string m = Metrics(exporter);
    check_counts(m);
    CHECK(MetricValue(m, "mxtls_tlsrpt_reports_duplicate_total{source=\"http\"}") == 1);
    CHECK(MetricValue(m, "mxtls_tlsrpt_reports_duplicate_total{source=\"spool\"}") == 1);
    exporter.Signal(SIGTERM);
    CHECK(exporter.WaitForExit(seconds(10)) == 0);
  }
  // The same data directory: the counts are back, and a report seen before is not counted
  // again, whichever way it comes.
  ExporterProcess exporter(Config(base.path));
  const int port = ReceiverPort(exporter);
  CHECK(Post(port, Gzip(rfc), "application/tlsrpt+gzip") == 200);
  WriteSpoolFile(spool, "google-again.json", google);
  REQUIRE(WaitForFiles(spool + "/processed", 4));
  std::this_thread::sleep_for(milliseconds(200));
  const std::string m = Metrics(exporter);
  check_counts(m);
  CHECK(MetricValue(m, "mxtls_tlsrpt_reports_duplicate_total{source=\"http\"}") == 2);
  CHECK(MetricValue(m, "mxtls_tlsrpt_reports_duplicate_total{source=\"spool\"}") == 2);
}

// Sends `parts` one after the other with a pause between them (a body arriving in pieces, or a
// head trickled), and returns the answer.
std::string SlowExchange(int port, const std::vector<std::string>& parts,
                         std::chrono::milliseconds pause) {
  int fd = ConnectLoopback(port, 15);
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) std::this_thread::sleep_for(pause);
    if (send(fd, parts[i].data(), parts[i].size(), MSG_NOSIGNAL) < 0) break;
  }
  shutdown(fd, SHUT_WR);
  return ReadUntilClosed(fd);
}

TEST_CASE("tlsrpt receiver: the internet-facing listener bounds heads and reads bodies whole",
          "[tlsrpt][integration]") {
  TempDir base;
  ExporterProcess exporter(Config(base.path, /*max_body=*/8192, /*max_report=*/65536));
  const int port = ReceiverPort(exporter);
  const std::string report = SimpleTlsRptReport("Split", "s-1", "example.org", 7, 0,
                                                 "certificate-expired", "mx1.example.org", 0);
  const std::string head = "POST /tlsrpt HTTP/1.1\r\nHost: x\r\nContent-Type: "
                           "application/tlsrpt+json\r\nConnection: close\r\nContent-Length: " +
                           std::to_string(report.size()) + "\r\n\r\n";
  // The body in three pieces, 200 ms apart: read whole, then counted.
  const size_t third = report.size() / 3;
  std::string answer = SlowExchange(
      port, {head + report.substr(0, third), report.substr(third, third), report.substr(2 * third)},
      std::chrono::milliseconds(200));
  CHECK(answer.rfind("HTTP/1.1 200 ", 0) == 0);
  // Oversized request line and header: refused before any handler, like the exporter's own.
  CHECK(RawExchange(port, "POST /tlsrpt?" + std::string(9000, 'a') + " HTTP/1.1\r\n\r\n")
            .rfind("HTTP/1.1 414 ", 0) == 0);
  CHECK(RawExchange(port, "POST /tlsrpt HTTP/1.1\r\nX-Junk: " + std::string(20000, 'b') +
                              "\r\n\r\n")
            .rfind("HTTP/1.1 431 ", 0) == 0);
  // A body that stops short of its Content-Length is never handed to the parser.
  answer = SlowExchange(port, {head + report.substr(0, third)}, std::chrono::milliseconds(0));
  CHECK(answer.find(" 200 ") == std::string::npos);
  const std::string m = Metrics(exporter);
  CHECK(MetricValue(m, "mxtls_tlsrpt_successful_sessions_total{policy_domain=\"example."
                       "org\",policy_type=\"sts\"}") == 7);
}

TEST_CASE("tlsrpt receiver: TLS from tlsrpt.web_config_file, without authentication",
          "[tlsrpt][integration]") {
  TempDir base;
  testing::CertSpec ca_spec;
  ca_spec.common_name = "tlsrpt test ca";
  ca_spec.is_ca = true;
  const testing::TestCert ca = testing::MakeSelfSigned(ca_spec);
  testing::CertSpec server_spec;
  server_spec.common_name = "127.0.0.1";
  server_spec.ip_sans = {"127.0.0.1"};
  const testing::TestCert server = testing::MakeIssued(server_spec, ca);
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(base.path + "/" + name) << text;
  };
  write("ca.crt", ca.CertPem());
  write("server.crt", server.CertPem());
  write("server.key", server.KeyPem());
  write("tlsrpt-web.yml", "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n");
  write("report.json", SimpleTlsRptReport("Secure", "tls-1", "example.org", 9, 0,
                                          "certificate-expired", "mx1.example.org", 0));
  ExporterProcess exporter(Config(base.path) + "  web_config_file: " + base.path +
                           "/tlsrpt-web.yml\n");
  const int port = ReceiverPort(exporter);
  const std::string url = "https://127.0.0.1:" + std::to_string(port) + "/tlsrpt";
  auto curl = [&](const std::string& args) {
    const std::string cmd = "curl -sS --max-time 10 -o /dev/null -w '%{http_code}' " + args +
                            " -H 'Content-Type: application/tlsrpt+json' --data-binary @" +
                            base.path + "/report.json 2>/dev/null";
    std::string out;
    if (FILE* p = popen(cmd.c_str(), "r")) {
      char buf[64];
      while (fgets(buf, sizeof(buf), p)) out += buf;
      pclose(p);
    }
    return out;
  };
  // A reporter posting over TLS, without credentials: accepted.
  CHECK(curl("--cacert " + base.path + "/ca.crt '" + url + "'") == "200");
  // Plain HTTP on the TLS port gets nothing; a client that does not trust the certificate
  // neither.
  CHECK(curl("'http://127.0.0.1:" + std::to_string(port) + "/tlsrpt'") != "200");
  CHECK(curl("'" + url + "'") == "000");
  const std::string m = Metrics(exporter);
  CHECK(MetricValue(m, "mxtls_tlsrpt_successful_sessions_total{policy_domain=\"example."
                       "org\",policy_type=\"sts\"}") == 9);
}

TEST_CASE("tlsrpt receiver: refusals are 4xx, counted by reason, and create no series",
          "[tlsrpt][integration]") {
  TempDir base;
  REQUIRE(mkdir((base.path + "/spool").c_str(), 0750) == 0);
  const std::string spool = base.path + "/spool";
  ExporterProcess exporter(Config(base.path, /*max_body=*/8192, /*max_report=*/65536));
  const int port = ReceiverPort(exporter);

  CHECK(Post(port, "{not json", "application/tlsrpt+json") == 400);
  CHECK(Post(port, "{\"organization-name\":\"x\"}", "application/tlsrpt+json") == 400);
  // Over max_body_bytes: refused from the Content-Length, before the body is read.
  CHECK(RawExchange(port, "POST /tlsrpt HTTP/1.1\r\nHost: x\r\nContent-Type: "
                          "application/tlsrpt+json\r\nContent-Length: 9000\r\n\r\n")
            .rfind("HTTP/1.1 413 ", 0) == 0);
  // Chunked bodies: refused before they are read (a Content-Length is required).
  CHECK(RawExchange(port, "POST /tlsrpt HTTP/1.1\r\nHost: x\r\nContent-Type: "
                          "application/tlsrpt+json\r\nTransfer-Encoding: chunked\r\n\r\n")
            .rfind("HTTP/1.1 411 ", 0) == 0);
  const std::string foreign = SimpleTlsRptReport("x", "f-1", "victim.test", 5, 1,
                                                 "certificate-expired", "mx.victim.test", 1);
  CHECK(Post(port, foreign, "application/tlsrpt+json") == 403);
  // 4 MiB of spaces: about 4 KiB of gzip, under the body limit, far over the report limit.
  const std::string bomb = Gzip(std::string(4 << 20, ' '), 9);
  REQUIRE(bomb.size() < 8192);
  CHECK(Post(port, bomb, "application/tlsrpt+gzip") == 413);
  CHECK(Post(port, "not gzip at all", "application/tlsrpt+gzip") == 400);
  CHECK(Post(port, SimpleTlsRptReport("x", "t-1", "example.org", 1, 0, "certificate-expired",
                                      "mx.example.org", 0),
             "application/json") == 415);
  {
    auto client = NewLoopbackClient(port);
    httplib::Result get = client->Get("/tlsrpt");
    REQUIRE(get);
    CHECK(get->status == 405);
  }
  WriteSpoolFile(spool, "spam.eml", "Subject: hello\r\n\r\nno report in here\r\n");
  WriteSpoolFile(spool, "bomb.json.gz", bomb);
  REQUIRE(WaitForFiles(spool + "/rejected", 2));
  std::this_thread::sleep_for(milliseconds(200));

  const std::string m = Metrics(exporter);
  CHECK(MetricValue(m, "mxtls_tlsrpt_reports_rejected_total{reason=\"malformed\"}") == 2);
  CHECK(MetricValue(m, "mxtls_tlsrpt_reports_rejected_total{reason=\"too_large\"}") == 1);
  CHECK(MetricValue(m, "mxtls_tlsrpt_reports_rejected_total{reason=\"foreign_domain\"}") == 1);
  CHECK(MetricValue(m, "mxtls_tlsrpt_reports_rejected_total{reason=\"decompressed_too_large\"}") ==
        2);
  CHECK(MetricValue(m, "mxtls_tlsrpt_reports_rejected_total{reason=\"bad_gzip\"}") == 1);
  CHECK(MetricValue(m, "mxtls_tlsrpt_reports_rejected_total{reason=\"unsupported_media_type\"}") ==
        1);
  CHECK(MetricValue(m, "mxtls_tlsrpt_reports_rejected_total{reason=\"bad_mime\"}") == 1);
  CHECK(MetricValue(m, "mxtls_tlsrpt_reports_rejected_total{reason=\"length_required\"}") == 1);
  CHECK(m.find("victim.test") == std::string::npos);
  CHECK_FALSE(HasMetric(m, "mxtls_tlsrpt_reports_accepted_total"));
  CHECK_FALSE(HasMetric(m, "mxtls_tlsrpt_successful_sessions_total"));
}

TEST_CASE("tlsrpt settings that differ between two configs are named by their fields",
          "[tlsrpt]") {
  const config::TlsRptConfig running;
  CHECK(TlsRptSettingsChanged(running, running).empty());
  auto changed_by = [&](auto change) {
    config::TlsRptConfig loaded = running;
    change(loaded);
    return TlsRptSettingsChanged(running, loaded);
  };
  using V = std::vector<std::string>;
  CHECK(changed_by([](auto& t) { t.listen_address = "127.0.0.1:8443"; }) == V{"listen_address"});
  CHECK(changed_by([](auto& t) { t.spool_directory = "/var/spool"; }) == V{"spool_directory"});
  CHECK(changed_by([](auto& t) { t.spool_interval = std::chrono::minutes(1); }) ==
        V{"spool_interval"});
  CHECK(changed_by([](auto& t) { t.data_directory = "/var/lib/x"; }) == V{"data_directory"});
  CHECK(changed_by([](auto& t) { t.web_config_file = "/etc/web.yml"; }) == V{"web_config_file"});
  CHECK(changed_by([](auto& t) { t.max_body_bytes = 1; }) == V{"max_body_bytes"});
  CHECK(changed_by([](auto& t) { t.max_report_bytes = 1; }) == V{"max_report_bytes"});
  CHECK(changed_by([](auto& t) { t.retention = std::chrono::hours(1); }) == V{"retention"});
  CHECK(changed_by([](auto& t) {
          t.retention = std::chrono::hours(1);
          t.listen_address = "x:1";
        }) == V{"listen_address", "retention"});
}

TEST_CASE("tlsrpt receiver: a reload that changes its settings says they need a restart, and "
          "the receiver keeps running",
          "[tlsrpt][integration]") {
  TempDir base;
  REQUIRE(mkdir((base.path + "/spool").c_str(), 0750) == 0);
  ExporterProcess exporter(Config(base.path));
  const int port = ReceiverPort(exporter);
  const std::string warning = "tlsrpt settings changed in the reloaded config";
  auto reload = [&](const std::string& yaml) {
    exporter.RewriteConfig(yaml);
    httplib::Result r = exporter.NewClient()->Post("/-/reload");
    REQUIRE(r);
    CHECK(r->status == 200);
  };
  // Only the targets change: nothing to say about tlsrpt.
  reload(Config(base.path) + "allow_unlisted_targets: true\n");
  CHECK_FALSE(exporter.WaitForLog(warning, milliseconds(300)));
  // The retention and the body bound change: named, and the old receiver still answers.
  reload(Config(base.path, /*max_body=*/4096) + "  retention: 7d\n");
  REQUIRE(exporter.WaitForLog(warning, seconds(5)));
  const std::string logs = exporter.Logs();
  const size_t at = logs.find(warning);
  const size_t begin = logs.rfind('\n', at) == std::string::npos ? 0 : logs.rfind('\n', at) + 1;
  const std::string line = logs.substr(begin, logs.find('\n', at) - begin);
  INFO(line);
  CHECK(line.find("level=warn ") != std::string::npos);
  CHECK(line.find("fields=max_body_bytes,retention") != std::string::npos);
  CHECK(Post(port, TlsRptTestdata("rfc8460_example.json"), "application/tlsrpt+json") == 200);
}

}  // namespace
}  // namespace mxtls::testing
