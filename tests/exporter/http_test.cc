// End-to-end tests of the mxtls_exporter binary over HTTP: routes, status codes, content
// types, the request guards, reloads (HTTP and SIGHUP), shutdown and flag handling. Each
// test starts its own exporter on an ephemeral loopback port.
//
// The probe engine is not what is under test here: every config points DNS at a closed
// loopback port, so probes fail fast with probe_success 0 and never leave the machine. The
// tests assert that probe_success exists, never its value.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/build_info.h"
#include "tests/support/dns_fixture_server.h"
#include "tests/support/exporter_process.h"

namespace mxtls::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Exactly what Prometheus 3 expects for the text format (see CONVENTIONS.md).
constexpr const char* kMetricsType = "text/plain; version=0.0.4; charset=utf-8";

// Port 1 on loopback is closed: resolution fails at once (ICMP port unreachable).
constexpr const char* kDns = R"(dns:
  resolvers: ["127.0.0.1:1"]
  timeout: 50ms
  attempts: 1
)";

// The config most tests run with: two listed targets, the default module (30 s timeout) and
// a `fast` one with a 1 s timeout.
std::string BaseConfig(bool allow_unlisted = false) {
  return std::string(kDns) + R"(modules:
  default: {}
  fast:
    timeout: 1s
targets:
  - domain: alpha.example
  - domain: beta.example
    module: fast
allow_unlisted_targets: )" +
         (allow_unlisted ? "true" : "false") + "\n";
}

// Valid, but with a different target list: alpha.example is gone, delta.example is new.
std::string ChangedConfig() {
  return std::string(kDns) + R"(targets:
  - domain: delta.example
)";
}

// Invalid (an unknown key), although it lists delta.example: none of it may be applied.
std::string BadConfig() {
  return std::string(kDns) + R"(targets:
  - domain: delta.example
    modul: default
)";
}

std::string ProbePath(const std::string& target, const std::string& extra = "") {
  return "/probe?target=" + target + extra;
}

int StatusOf(const httplib::Result& r) { return r ? r->status : -1; }

std::string Error(const httplib::Result& r) { return httplib::to_string(r.error()); }

// GETs `path` and requires an answer (any status); fails the test with the error otherwise.
httplib::Response Get(const ExporterProcess& exporter, const std::string& path,
                      const httplib::Headers& headers = {}) {
  auto client = exporter.NewClient();
  httplib::Result r = client->Get(path, headers);
  INFO("GET " << path << ": " << Error(r) << "\nexporter log:\n" << exporter.Logs());
  REQUIRE(r);
  return *r;
}

httplib::Response PostReload(const ExporterProcess& exporter) {
  auto client = exporter.NewClient();
  httplib::Result r = client->Post("/-/reload");
  INFO("POST /-/reload: " << Error(r));
  REQUIRE(r);
  return *r;
}

// The line of `exposition` that starts with `prefix`, or "".
std::string SampleLine(const std::string& exposition, const std::string& prefix) {
  size_t at = exposition.rfind("\n" + prefix);
  if (at == std::string::npos) return "";
  size_t end = exposition.find('\n', at + 1);
  return exposition.substr(at + 1, end == std::string::npos ? std::string::npos : end - at - 1);
}

double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Polls `path` until it answers `status` or `timeout` passes; returns the last status seen.
int PollStatus(const ExporterProcess& exporter, const std::string& path, int status,
               milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int last = -1;
  for (;;) {
    last = StatusOf(exporter.NewClient()->Get(path));
    if (last == status || std::chrono::steady_clock::now() >= deadline) return last;
    std::this_thread::sleep_for(milliseconds(50));
  }
}

// A plain TCP connection to the exporter, so that framing an HTTP library would never
// produce can be sent, in as many writes as the test wants.
class RawConnection {
 public:
  explicit RawConnection(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      int err = errno;
      close(fd_);
      FAIL("connect to 127.0.0.1:" << port << ": " << std::strerror(err));
    }
  }
  ~RawConnection() { close(fd_); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  // Sends all of `bytes`. A server that already closed makes this fail, which is fine: what
  // it answered before is still read by ReadUntil().
  void Send(const std::string& bytes) {
    size_t sent = 0;
    while (sent < bytes.size()) {
      ssize_t n = send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      sent += static_cast<size_t>(n);
    }
  }

  // Reads until data() contains `marker` (empty: until the server closes), the server closes,
  // or `timeout` passes.
  void ReadUntil(const std::string& marker, milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!closed_ && (marker.empty() || data_.find(marker) == std::string::npos)) {
      auto left =
          std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return;
      pollfd p{fd_, POLLIN, 0};
      int ready = poll(&p, 1, static_cast<int>(left.count()));
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) return;
      char buf[4096];
      ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n > 0) {
        data_.append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        closed_ = true;  // EOF or reset: either way the server dropped the connection
      }
    }
  }

  const std::string& data() const { return data_; }
  bool closed() const { return closed_; }

 private:
  int fd_ = -1;
  std::string data_;
  bool closed_ = false;
};

size_t CountOccurrences(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

TEST_CASE("/-/healthy answers 200", "[http]") {
  ExporterProcess exporter(BaseConfig());
  httplib::Response res = Get(exporter, "/-/healthy");
  CHECK(res.status == 200);
  CHECK(res.body == "Healthy\n");
}

TEST_CASE("the landing page links every configured target and escapes HTML", "[http]") {
  // Module names may hold HTML metacharacters; they must come out as text, not markup.
  ExporterProcess exporter(std::string(kDns) + R"(modules:
  "<b>&x": {}
targets:
  - domain: alpha.example
  - domain: beta.example
    module: "<b>&x"
)");
  httplib::Response res = Get(exporter, "/");
  CHECK(res.status == 200);
  CHECK(res.get_header_value("Content-Type") == "text/html; charset=utf-8");
  CHECK(res.body.find("<td>alpha.example</td>") != std::string::npos);
  CHECK(res.body.find("<td>beta.example</td>") != std::string::npos);
  CHECK(res.body.find("href=\"probe?target=alpha.example&amp;module=default\"") !=
        std::string::npos);
  CHECK(res.body.find("<td>&lt;b&gt;&amp;x</td>") != std::string::npos);
  CHECK(res.body.find("module=%3Cb%3E%26x") != std::string::npos);
  CHECK(res.body.find("<b>&x") == std::string::npos);
  CHECK(res.body.find("href=\"metrics\"") != std::string::npos);
}

TEST_CASE("/metrics serves the exporter's own metrics with the exact content type", "[http]") {
  ExporterProcess exporter(BaseConfig());
  // A probe first: its series must not leak into /metrics.
  REQUIRE(Get(exporter, ProbePath("alpha.example")).status == 200);

  httplib::Response res = Get(exporter, "/metrics");
  CHECK(res.status == 200);
  CHECK(res.get_header_value("Content-Type") == kMetricsType);

  std::string build_info = SampleLine(res.body, "mxtls_exporter_build_info{");
  INFO(res.body);
  CHECK(build_info.find("version=\"" + std::string(kVersion) + "\"") != std::string::npos);
  CHECK(build_info.find("revision=\"") != std::string::npos);
  CHECK(build_info.size() > 2);
  CHECK(build_info.substr(build_info.size() - 2) == " 1");

  CHECK(MetricValue(res.body, "mxtls_exporter_config_last_reload_successful") == 1);
  double loaded_at =
      MetricValue(res.body, "mxtls_exporter_config_last_reload_success_timestamp_seconds");
  CHECK(loaded_at > NowSeconds() - 60);
  CHECK(loaded_at <= NowSeconds() + 1);
  CHECK(HasMetric(res.body, "mxtls_exporter_probes_total{"));
  CHECK(HasMetric(res.body, "process_start_time_seconds"));
  CHECK_FALSE(HasMetric(res.body, "probe_success"));
  CHECK_FALSE(HasMetric(res.body, "probe_duration_seconds"));
}

TEST_CASE("/probe without a target is a 400", "[http]") {
  ExporterProcess exporter(BaseConfig());
  for (const char* path : {"/probe", "/probe?target=", "/probe?module=default"}) {
    INFO(path);
    httplib::Response res = Get(exporter, path);
    CHECK(res.status == 400);
    CHECK(res.body.find("target parameter is missing") != std::string::npos);
  }
}

TEST_CASE("/probe refuses unlisted targets unless allow_unlisted_targets is set", "[http]") {
  {
    ExporterProcess exporter(BaseConfig());
    httplib::Response res = Get(exporter, ProbePath("gamma.example"));
    CHECK(res.status == 400);
    CHECK(res.body.find("not configured") != std::string::npos);
    CHECK_FALSE(HasMetric(res.body, "probe_success"));
  }
  {
    ExporterProcess exporter(BaseConfig(/*allow_unlisted=*/true));
    httplib::Response res = Get(exporter, ProbePath("gamma.example"));
    CHECK(res.status == 200);
    CHECK(HasMetric(res.body, "probe_success"));
  }
}

TEST_CASE("/probe with an unknown module is a 400", "[http]") {
  ExporterProcess exporter(BaseConfig(/*allow_unlisted=*/true));
  for (const std::string target : {"alpha.example", "gamma.example"}) {
    INFO(target);
    httplib::Response res = Get(exporter, ProbePath(target, "&module=nosuch"));
    CHECK(res.status == 400);
    CHECK(res.body.find("unknown module \"nosuch\"") != std::string::npos);
  }
  // The same request with a known module is fine: the 400 was about the module.
  CHECK(Get(exporter, ProbePath("alpha.example", "&module=fast")).status == 200);
}

TEST_CASE("/probe rejects targets that are not domain names", "[http]") {
  // Unlisted targets allowed: a 400 here can only come from the syntax check.
  ExporterProcess exporter(BaseConfig(/*allow_unlisted=*/true));
  for (const char* target :
       {"a%20b", "../../etc", "a..b", ".alpha.example", "-x.example", "%3Cscript%3E",
        "alpha.example%2F25", "alpha.example:25", "127.0.0.1%0d%0aX:y"}) {
    INFO(target);
    httplib::Response res = Get(exporter, ProbePath(target));
    CHECK(res.status == 400);
    CHECK(res.body.find("must be a domain name") != std::string::npos);
  }
  // Case and a trailing dot are normalized away, not refused.
  httplib::Response res = Get(exporter, ProbePath("ALPHA.Example."));
  CHECK(res.status == 200);
}

// A listed U-label target, and the bytes Prometheus (Go's url.Values) and browsers send for
// it: the UTF-8 of "bücher.example" percent-encoded.
std::string IdnConfig(bool allow_unlisted = false) {
  return std::string(kDns) + "targets:\n  - domain: bücher.example\n  - domain: alpha.example\n" +
         "allow_unlisted_targets: " + (allow_unlisted ? "true" : "false") + "\n";
}

TEST_CASE("/probe accepts a U-label target percent-encoded, and its A-label", "[http][idn]") {
  ExporterProcess exporter(IdnConfig());
  for (const char* target : {"b%C3%BCcher.example", "B%C3%9CCHER.Example.", "xn--bcher-kva.example",
                             "b%C3%BCcher%E3%80%82example"}) {
    INFO(target);
    httplib::Response res = Get(exporter, ProbePath(target));
    CHECK(res.status == 200);
    CHECK(HasMetric(res.body, "probe_success"));
  }
  // The debug view names both forms.
  httplib::Response debug = Get(exporter, ProbePath("b%C3%BCcher.example", "&debug=true"));
  CHECK(debug.status == 200);
  CHECK(debug.body.find("\nbücher.example (xn--bcher-kva.example)\n") != std::string::npos);
  // Another U-label is not the listed one, and the refusal shows both of its forms.
  httplib::Response other = Get(exporter, ProbePath("b%C3%A4cher.example"));
  CHECK(other.status == 400);
  CHECK(other.body.find("target \"bächer.example (xn--bcher-gra.example)\" is not configured") !=
        std::string::npos);
}

TEST_CASE("/probe refuses names IDNA2008 does not allow, saying why", "[http][idn]") {
  // Unlisted targets allowed: a 400 here can only come from the name check.
  ExporterProcess exporter(IdnConfig(/*allow_unlisted=*/true));
  struct Case {
    const char* target;
    const char* why;
  };
  const Case cases[] = {
      {"%F0%9F%98%80.example", "holds a code point that IDNA2008 does not allow"},
      {"xn--abc--.example", "is not a valid A-label"},
      {"b%FFcher.example", "is not valid UTF-8"},
      {"a_b.example", "holds characters other than letters, digits and hyphens"},
  };
  for (const Case& c : cases) {
    INFO(c.target);
    httplib::Response res = Get(exporter, ProbePath(c.target));
    CHECK(res.status == 400);
    CHECK(res.body.find("must be a domain name") != std::string::npos);
    CHECK(res.body.find(c.why) != std::string::npos);
  }
}

TEST_CASE("the landing page shows a U-label target in both forms and links its A-label",
          "[http][idn]") {
  ExporterProcess exporter(IdnConfig());
  httplib::Response res = Get(exporter, "/");
  CHECK(res.status == 200);
  CHECK(res.body.find("<td>bücher.example (xn--bcher-kva.example)</td>") != std::string::npos);
  CHECK(res.body.find("<td>alpha.example</td>") != std::string::npos);
  CHECK(res.body.find("href=\"probe?target=xn--bcher-kva.example&amp;module=default\"") !=
        std::string::npos);
}

TEST_CASE("/probe answers 200 with probe metrics in the exposition format", "[http]") {
  ExporterProcess exporter(BaseConfig());
  httplib::Response res = Get(exporter, ProbePath("alpha.example"));
  CHECK(res.status == 200);
  CHECK(res.get_header_value("Content-Type") == kMetricsType);
  INFO(res.body);
  CHECK(HasMetric(res.body, "probe_success"));
  CHECK(HasMetric(res.body, "probe_duration_seconds"));
  CHECK(HasMetric(res.body, "probe_timeout_seconds"));
  CHECK_FALSE(HasMetric(res.body, "mxtls_exporter_build_info"));
}

TEST_CASE("/probe?debug=true returns the diagnosis, the probe log, its metrics and the module",
          "[http]") {
  ExporterProcess exporter(BaseConfig());
  httplib::Response res = Get(exporter, ProbePath("beta.example", "&debug=true"));
  CHECK(res.status == 200);
  CHECK(res.get_header_value("Content-Type") == "text/plain; charset=utf-8");
  INFO(res.body);
  size_t diagnosis = res.body.find("Diagnosis (as `mxtls_exporter check` prints it)");
  size_t logs = res.body.find("Logs for the probe");
  size_t metrics = res.body.find("Metrics that would have been returned");
  size_t module = res.body.find("Module configuration");
  CHECK(diagnosis == 0);
  // The same findings as `check`: this probe fails, and the domain is named in the heading.
  CHECK(res.body.find("beta.example", diagnosis) < logs);
  CHECK(logs != std::string::npos);
  CHECK(logs < metrics);
  CHECK(metrics != std::string::npos);
  CHECK(module != std::string::npos);
  CHECK(logs < metrics);
  CHECK(metrics < module);
  CHECK(res.body.find("probe_success") != std::string::npos);
  // beta.example uses the `fast` module: its 1 s timeout is what the view must show.
  CHECK(res.body.find("timeout: 1000ms", module) != std::string::npos);
}

TEST_CASE("the scrape timeout header sets the probe deadline", "[http]") {
  ExporterProcess exporter(BaseConfig());
  auto timeout_of = [&](const std::string& target, const std::string& header) {
    httplib::Headers headers;
    if (!header.empty()) headers.emplace("X-Prometheus-Scrape-Timeout-Seconds", header);
    httplib::Response res = Get(exporter, ProbePath(target), headers);
    REQUIRE(res.status == 200);
    return MetricValue(res.body, "probe_timeout_seconds");
  };
  // Default offset 0.5 s; the default module allows 30 s.
  CHECK(timeout_of("alpha.example", "3") == Approx(2.5));
  CHECK(timeout_of("alpha.example", "10.5") == Approx(10));
  // An offset that would leave nothing falls back to the whole scrape timeout.
  CHECK(timeout_of("alpha.example", "0.4") == Approx(0.4));
  // The module timeout caps it (beta.example uses `fast`, 1 s).
  CHECK(timeout_of("beta.example", "3") == Approx(1));
  // No header, or one that is not a positive number: the module timeout.
  CHECK(timeout_of("alpha.example", "") == Approx(30));
  CHECK(timeout_of("alpha.example", "soon") == Approx(30));
  CHECK(timeout_of("alpha.example", "-3") == Approx(30));
}

TEST_CASE("--timeout-offset changes the offset from the scrape timeout", "[http]") {
  ExporterProcess exporter(BaseConfig(), {"--timeout-offset=1"});
  httplib::Response res =
      Get(exporter, ProbePath("alpha.example"), {{"X-Prometheus-Scrape-Timeout-Seconds", "3"}});
  REQUIRE(res.status == 200);
  CHECK(MetricValue(res.body, "probe_timeout_seconds") == Approx(2));
}

// The two tests below send the headers, wait for the 413, and only then send the body, as a
// slow client (or a large body split over TCP segments) would. A server that keeps the
// connection open after refusing a body it did not read parses that body as the next request:
// here a smuggled GET /-/healthy, which must never be answered.
const char* kSmuggled = "GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n";
const char* kRefusedBody = "request bodies are not accepted\n";

void ExpectRefusedAndClosed(RawConnection& conn, const std::string& late_body) {
  conn.ReadUntil(kRefusedBody, seconds(5));
  INFO("before the body:\n" << conn.data());
  REQUIRE(conn.data().rfind("HTTP/1.1 413 ", 0) == 0);
  CHECK(conn.data().find("Connection: close\r\n") != std::string::npos);
  conn.Send(late_body);
  conn.ReadUntil("", seconds(2));
  INFO("in all:\n" << conn.data());
  CHECK(CountOccurrences(conn.data(), "HTTP/1.1 ") == 1);
  CHECK(conn.data().find("Healthy") == std::string::npos);
  CHECK(conn.closed());
}

TEST_CASE("a request with a Content-Length body is refused with 413", "[http]") {
  ExporterProcess exporter(BaseConfig());
  auto client = exporter.NewClient();
  httplib::Result r = client->Post(ProbePath("alpha.example"), "hello", "text/plain");
  INFO(Error(r));
  REQUIRE(r);
  CHECK(r->status == 413);
  CHECK(r->get_header_value("Connection") == "close");
  CHECK_FALSE(HasMetric(r->body, "probe_success"));

  const std::string body = kSmuggled;
  for (const char* method : {"POST", "GET"}) {
    INFO(method);
    RawConnection conn(exporter.port());
    conn.Send(std::string(method) + " /probe?target=alpha.example HTTP/1.1\r\nHost: x\r\n" +
              "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n");
    ExpectRefusedAndClosed(conn, body);
  }
}

TEST_CASE("a chunked request body is refused with 413 and the connection closed", "[http]") {
  ExporterProcess exporter(BaseConfig());
  const std::string smuggled = kSmuggled;
  char size[16];
  std::snprintf(size, sizeof(size), "%zx", smuggled.size());
  for (const char* method : {"POST", "GET"}) {
    INFO(method);
    RawConnection conn(exporter.port());
    conn.Send(std::string(method) + " /probe?target=alpha.example HTTP/1.1\r\nHost: x\r\n" +
              "Transfer-Encoding: chunked\r\n\r\n");
    // A chunk that ends the body, then the smuggled request right behind it.
    ExpectRefusedAndClosed(conn,
                           std::string(size) + "\r\n" + smuggled + "\r\n0\r\n\r\n" + smuggled);
  }
  // The exporter is still fine afterwards.
  CHECK(Get(exporter, "/-/healthy").status == 200);
}

TEST_CASE("a request with a Content-Encoding is refused with 415", "[http]") {
  ExporterProcess exporter(BaseConfig());
  for (const char* path : {"/probe?target=alpha.example", "/metrics", "/-/healthy"}) {
    INFO(path);
    httplib::Response res = Get(exporter, path, {{"Content-Encoding", "gzip"}});
    CHECK(res.status == 415);
    CHECK(res.get_header_value("Connection") == "close");
  }
}

TEST_CASE("/-/reload answers other methods than POST with 405 and Allow: POST", "[http]") {
  ExporterProcess exporter(BaseConfig());
  auto client = exporter.NewClient();
  httplib::Result get = client->Get("/-/reload");
  REQUIRE(get);
  CHECK(get->status == 405);
  CHECK(get->get_header_value("Allow") == "POST");
  httplib::Result del = client->Delete("/-/reload");
  REQUIRE(del);
  CHECK(del->status == 405);
  CHECK(del->get_header_value("Allow") == "POST");

  // `curl -X POST` sends no Content-Length at all; that is a valid reload request.
  RawConnection conn(exporter.port());
  conn.Send("POST /-/reload HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  conn.ReadUntil("", seconds(5));
  INFO(conn.data());
  CHECK(conn.data().rfind("HTTP/1.1 200 ", 0) == 0);
  CHECK(conn.data().find("configuration reloaded") != std::string::npos);
}

TEST_CASE("a failed POST /-/reload is a 500 and the old config keeps running", "[http]") {
  ExporterProcess exporter(BaseConfig());
  std::string first = Get(exporter, "/metrics").body;
  double first_success =
      MetricValue(first, "mxtls_exporter_config_last_reload_success_timestamp_seconds");
  REQUIRE(first_success > 0);

  exporter.RewriteConfig(BadConfig());
  httplib::Response failed = PostReload(exporter);
  CHECK(failed.status == 500);
  CHECK(failed.body.find(exporter.config_path()) != std::string::npos);
  CHECK(failed.body.find("targets[0].modul") != std::string::npos);

  // The old targets still work; the bad file's new target was not applied.
  CHECK(Get(exporter, ProbePath("alpha.example")).status == 200);
  CHECK(Get(exporter, ProbePath("delta.example")).status == 400);
  std::string metrics = Get(exporter, "/metrics").body;
  CHECK(MetricValue(metrics, "mxtls_exporter_config_last_reload_successful") == 0);
  CHECK(MetricValue(metrics, "mxtls_exporter_config_last_reload_success_timestamp_seconds") ==
        first_success);

  // Fixing the file and reloading applies it.
  exporter.RewriteConfig(ChangedConfig());
  httplib::Response fixed = PostReload(exporter);
  CHECK(fixed.status == 200);
  CHECK(Get(exporter, ProbePath("delta.example")).status == 200);
  CHECK(Get(exporter, ProbePath("alpha.example")).status == 400);
  metrics = Get(exporter, "/metrics").body;
  CHECK(MetricValue(metrics, "mxtls_exporter_config_last_reload_successful") == 1);
  CHECK(MetricValue(metrics, "mxtls_exporter_config_last_reload_success_timestamp_seconds") >=
        first_success);
}

TEST_CASE("SIGHUP reloads a changed config", "[http]") {
  ExporterProcess exporter(BaseConfig());
  REQUIRE(Get(exporter, ProbePath("delta.example")).status == 400);
  exporter.RewriteConfig(ChangedConfig());
  exporter.Signal(SIGHUP);
  CHECK(PollStatus(exporter, ProbePath("delta.example"), 200, seconds(5)) == 200);
  CHECK(Get(exporter, ProbePath("alpha.example")).status == 400);
  CHECK(exporter.WaitForLog("reloading config on SIGHUP", seconds(1)));
  CHECK(MetricValue(Get(exporter, "/metrics").body,
                    "mxtls_exporter_config_last_reload_successful") == 1);
}

TEST_CASE("SIGHUP with a bad config keeps the old one", "[http]") {
  ExporterProcess exporter(BaseConfig());
  size_t mark = exporter.LogSize();
  exporter.RewriteConfig(BadConfig());
  exporter.Signal(SIGHUP);
  REQUIRE(exporter.WaitForLog("error loading config", seconds(5), mark));
  CHECK(Get(exporter, ProbePath("alpha.example")).status == 200);
  CHECK(Get(exporter, ProbePath("delta.example")).status == 400);
  CHECK(MetricValue(Get(exporter, "/metrics").body,
                    "mxtls_exporter_config_last_reload_successful") == 0);
  // The process is still alive and serving.
  CHECK(Get(exporter, "/-/healthy").status == 200);
}

TEST_CASE("SIGTERM shuts the exporter down with exit status 0", "[http]") {
  ExporterProcess exporter(BaseConfig());
  REQUIRE(Get(exporter, "/-/healthy").status == 200);
  exporter.Signal(SIGTERM);
  int code = exporter.WaitForExit(seconds(5));
  INFO(exporter.Logs());
  CHECK(code == 0);
  CHECK(exporter.Logs().find("msg=stopped") != std::string::npos);
  // Nothing listens any more.
  CHECK(StatusOf(NewLoopbackClient(exporter.port())->Get("/-/healthy")) == -1);
}

// Regression: HttpFront::Stop() waited up to 1 s for each listener to report it was running,
// and a listener that has already stopped never does, so the second Stop() from the
// destructor cost a second per listen address on every shutdown.
TEST_CASE("SIGTERM does not wait a second per listener", "[http]") {
  ExporterProcess exporter(BaseConfig(), {"--web.listen-address=127.0.0.1:0"});
  REQUIRE(exporter.WaitForLog("msg=listening", seconds(5), exporter.Logs().find("listening") + 1));
  auto start = std::chrono::steady_clock::now();
  exporter.Signal(SIGTERM);
  int code = exporter.WaitForExit(seconds(5));
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  INFO(exporter.Logs());
  CHECK(code == 0);
  CHECK(elapsed < 1.0);
}

TEST_CASE("SIGTERM right after start still exits 0", "[http]") {
  ExporterProcess exporter(BaseConfig());
  exporter.Signal(SIGTERM);
  int code = exporter.WaitForExit(seconds(5));
  INFO(exporter.Logs());
  CHECK(code == 0);
}

TEST_CASE("--config.check exits 0 for a valid file and 1 naming an invalid one", "[http]") {
  const std::string valid = MXTLS_TESTDATA_DIR "/http/valid.yml";
  const std::string invalid = MXTLS_TESTDATA_DIR "/http/invalid.yml";
  const std::string missing = MXTLS_TESTDATA_DIR "/http/no-such-file.yml";

  CommandResult ok = RunExporter({"--config.check", "--config.file=" + valid});
  INFO(ok.out << ok.err);
  CHECK(ok.exit_code == 0);
  CHECK(ok.out.find(valid + ": config is valid (2 targets, 2 modules)") != std::string::npos);

  CommandResult bad = RunExporter({"--config.check", "--config.file", invalid});
  INFO(bad.out << bad.err);
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.find(invalid + ":8: targets[0].modul: unknown key") != std::string::npos);

  CommandResult gone = RunExporter({"--config.file=" + missing, "--config.check"});
  INFO(gone.out << gone.err);
  CHECK(gone.exit_code == 1);
  CHECK(gone.err.find(missing) != std::string::npos);
}

TEST_CASE("an unknown flag exits 2 with the usage text", "[http]") {
  CommandResult r = RunExporter({"--no-such-flag=1"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("unknown flag --no-such-flag") != std::string::npos);
  CHECK(r.err.find("usage: mxtls_exporter") != std::string::npos);
}

TEST_CASE("an invalid config at startup exits 1 naming the file", "[http]") {
  const std::string invalid = MXTLS_TESTDATA_DIR "/http/invalid.yml";
  CommandResult r = RunExporter({"--config.file=" + invalid, "--web.listen-address=127.0.0.1:0"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.err.find(invalid + ":8:") != std::string::npos);
}

TEST_CASE("ExporterProcess reports an exporter that never listens and shows its log", "[http]") {
  REQUIRE_THROWS_WITH(ExporterProcess(BadConfig()),
                      Catch::Contains("did not log \"msg=listening\"") &&
                          Catch::Contains("targets[0].modul: unknown key"));
}

TEST_CASE("a scrape that waited for a handler thread gets only what is left of its timeout",
          "[http][timing]") {
  // A resolver that never answers for the target: its probe waits for its whole deadline.
  DnsFixtureServer dns;
  dns.SetDrop("alpha.example");
  ExporterProcess exporter("dns:\n  resolvers: [\"127.0.0.1:" + std::to_string(dns.port()) +
                               "\"]\n  timeout: 10s\n  attempts: 1\n"
                               "targets:\n  - domain: alpha.example\n",
                           {"--web.handler-threads=1"});
  // The only handler thread waits for this connection's first request.
  RawConnection hog(exporter.port());
  // A scrape with a 2.5 s timeout (2 s for the probe, after the 0.5 s offset) queues behind it.
  using Clock = std::chrono::steady_clock;
  const Clock::time_point sent = Clock::now();
  std::optional<httplib::Response> scraped;
  std::string scrape_error;
  std::thread scrape([&] {
    auto client = exporter.NewClient();
    client->set_read_timeout(seconds(20));
    httplib::Result r = client->Get(ProbePath("alpha.example"),
                                    {{"X-Prometheus-Scrape-Timeout-Seconds", "2.5"}});
    if (r) scraped = *r; else scrape_error = Error(r);
  });
  // After 1.5 s the hog's request frees the thread: 0.5 s of the probe's 2 s are left.
  std::this_thread::sleep_for(milliseconds(1500));
  hog.Send("GET /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  hog.ReadUntil("", seconds(5));
  CHECK(hog.data().find("Healthy") != std::string::npos);
  scrape.join();
  const double took = std::chrono::duration<double>(Clock::now() - sent).count();
  INFO("scrape: " << scrape_error << "\nexporter log:\n" << exporter.Logs());
  REQUIRE(scraped.has_value());
  CHECK(scraped->status == 200);
  CHECK(MetricValue(scraped->body, "probe_success") == 0);
  CHECK(MetricValue(scraped->body, "probe_timeout_seconds") == Approx(2));
  // Counted from its arrival, the probe ends about 2 s after the scrape was sent (a probe
  // given its whole 2 s after the wait would end at 3.5 s, past Prometheus' 2.5 s).
  CHECK(took >= 1.4);
  CHECK(took < 2.6);
  CHECK(MetricValue(scraped->body, "probe_duration_seconds") < 1.0);
}

TEST_CASE("200 concurrent probes are all answered", "[http]") {
  ExporterProcess exporter(BaseConfig());
  constexpr int kThreads = 50;
  constexpr int kPerThread = 4;
  std::atomic<int> ok{0};
  std::mutex mu;
  std::vector<std::string> failures;
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Its own client per thread, keep-alive off: every request is a new connection.
      auto client = NewLoopbackClient(exporter.port());
      for (int i = 0; i < kPerThread; ++i) {
        const char* target = (t + i) % 2 ? "alpha.example" : "beta.example";
        httplib::Result r = client->Get(ProbePath(target));
        if (r && r->status == 200 && HasMetric(r->body, "probe_success")) {
          ++ok;
        } else {
          std::lock_guard<std::mutex> lock(mu);
          failures.push_back(r ? "status " + std::to_string(r->status) : Error(r));
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  INFO("first failures: " << (failures.empty() ? "" : failures.front()) << " (" << failures.size()
                          << " in all)");
  CHECK(ok == kThreads * kPerThread);
  CHECK(elapsed < 20);
  // The exporter counted them all.
  std::string metrics = Get(exporter, "/metrics").body;
  double counted = 0;
  for (const char* module : {"default", "fast"}) {
    for (const char* result : {"success", "failure"}) {
      double v = MetricValue(metrics, std::string("mxtls_exporter_probes_total{module=\"") +
                                          module + "\",result=\"" + result + "\"}");
      if (!std::isnan(v)) counted += v;
    }
  }
  CHECK(counted == kThreads * kPerThread);
}

}  // namespace
}  // namespace mxtls::testing
