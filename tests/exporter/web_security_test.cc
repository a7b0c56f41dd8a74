// End-to-end tests of --web.config.file and the request bounds against the running binary:
// a real TLS client (curl, and OpenSSL's s_client for protocol versions), basic auth with
// right, wrong and missing credentials, client certificates, a certificate renewed without a
// restart, bad web configs, and slow or oversized request heads while scrapes go on.
#include <arpa/inet.h>
#include <crypt.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/cert_factory.h"
#include "tests/support/exporter_process.h"

namespace mxtls::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kConfig = R"(dns:
  resolvers: ["127.0.0.1:1"]
  timeout: 50ms
  attempts: 1
targets:
  - domain: alpha.example
)";

std::string Hash(const std::string& password) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  REQUIRE(crypt_gensalt_rn("$2y$", 4, nullptr, 0, salt, sizeof(salt)) != nullptr);
  crypt_data data{};
  return crypt_r(password.c_str(), salt, &data);
}

// A private directory with the server's PKI and web config files.
class WebDir {
 public:
  WebDir() {
    char tmpl[] = "/tmp/mxtls_web_XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    dir_ = tmpl;
  }
  ~WebDir() { std::system(("rm -rf '" + dir_ + "'").c_str()); }
  std::string Write(const std::string& name, const std::string& text) const {
    std::string tmp = dir_ + "/." + name + ".tmp";
    std::ofstream(tmp) << text;
    std::string path = dir_ + "/" + name;
    std::rename(tmp.c_str(), path.c_str());
    return path;
  }
  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

 private:
  std::string dir_;
};

struct Run {
  int exit_code;
  std::string out;
};

Run Shell(const std::string& cmd);

// A CA and a server certificate for 127.0.0.1 issued by it, written as <prefix>ca.crt,
// <prefix>ca.key, <prefix>server.crt and <prefix>server.key.
CertSpec CaSpec() {
  CertSpec spec;
  spec.common_name = "web test ca";
  spec.is_ca = true;
  return spec;
}

CertSpec ServerSpec() {
  CertSpec spec;
  spec.common_name = "127.0.0.1";
  spec.ip_sans = {"127.0.0.1"};
  return spec;
}

struct Pki {
  TestCert ca = MakeSelfSigned(CaSpec());
  TestCert server = MakeIssued(ServerSpec(), ca);

  void WriteTo(const WebDir& d, const std::string& prefix = "") const {
    d.Write(prefix + "ca.crt", ca.CertPem());
    d.Write(prefix + "ca.key", ca.KeyPem());
    d.Write(prefix + "server.crt", server.CertPem());
    d.Write(prefix + "server.key", server.KeyPem());
  }
};

// A client certificate (extendedKeyUsage clientAuth, which the test PKI's leaves lack) with
// one DNS SAN, issued by the CA written with `ca_prefix`: <name>.crt and <name>.key.
void IssueClientCert(const WebDir& d, const std::string& ca_prefix, const std::string& name,
                     const std::string& dns_san) {
  std::string p = d.Path(name);
  d.Write(name + ".ext", "subjectAltName=DNS:" + dns_san + "\nextendedKeyUsage=clientAuth\n");
  Run r = Shell("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + p +
                ".key -out " + p + ".csr -subj /CN=" + name + " && openssl x509 -req -in " + p +
                ".csr -CA " + d.Path(ca_prefix + "ca.crt") + " -CAkey " + d.Path(ca_prefix + "ca.key") +
                " -set_serial " + std::to_string(std::rand() + 1) + " -out " + p + ".crt -days 2 -extfile " +
                p + ".ext");
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
}

Run Shell(const std::string& cmd) {
  FILE* p = popen(("(" + cmd + ") 2>&1").c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

// The HTTP status curl saw ("000" when TLS or the connection failed).
std::string CurlStatus(const std::string& args, const std::string& url) {
  Run r = Shell("curl -sS --max-time 10 -o /dev/null -w '%{http_code}' " + args + " '" + url + "'");
  size_t n = r.out.size();
  return n >= 3 ? r.out.substr(n - 3) : r.out;
}

int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
  return fd;
}

// Everything the server sends until it closes or `timeout` passes.
std::string ReadAll(int fd, milliseconds timeout, bool* closed = nullptr) {
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  if (closed) *closed = false;
  for (;;) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return out;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return out;
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) {
      if (closed) *closed = true;
      return out;
    }
    out.append(buf, static_cast<size_t>(n));
  }
}

void SendAll(int fd, const std::string& s) {
  REQUIRE(send(fd, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size()));
}

std::string StatusLine(const std::string& response) { return response.substr(0, response.find("\r\n")); }

TEST_CASE("TLS with basic auth: right, wrong and missing credentials", "[web_security]") {
  WebDir d;
  Pki pki;
  pki.WriteTo(d);
  std::string web = d.Write("web.yml", "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
                                       "basic_auth_users:\n  prom: '" + Hash("right pass") + "'\n"
                                       "http_server_config:\n  headers:\n    X-Content-Type-Options: nosniff\n");
  ExporterProcess exp(kConfig, {"--web.config.file=" + web});
  std::string base = "https://127.0.0.1:" + std::to_string(exp.port());
  std::string ca = "--cacert " + d.Path("ca.crt");

  CHECK(CurlStatus(ca + " -u 'prom:right pass'", base + "/metrics") == "200");
  CHECK(CurlStatus(ca + " -u 'prom:wrong'", base + "/metrics") == "401");
  CHECK(CurlStatus(ca + " -u 'nobody:right pass'", base + "/metrics") == "401");
  CHECK(CurlStatus(ca, base + "/metrics") == "401");
  // As in exporter-toolkit, every path is protected, /-/healthy included.
  CHECK(CurlStatus(ca, base + "/-/healthy") == "401");
  CHECK(CurlStatus(ca + " -u 'prom:right pass'", base + "/-/healthy") == "200");
  // Plain HTTP on the TLS port gets no answer.
  CHECK(CurlStatus("", "http://127.0.0.1:" + std::to_string(exp.port()) + "/metrics") == "000");

  Run headers = Shell("curl -sS -D - -o /dev/null " + ca + " '" + base + "/metrics'");
  CHECK(headers.out.find("WWW-Authenticate: Basic realm=\"mxtls_exporter\"") != std::string::npos);
  CHECK(headers.out.find("X-Content-Type-Options: nosniff") != std::string::npos);

  // Keep-alive: two requests, one TLS connection.
  Run two = Shell("curl -sS -v -o /dev/null -o /dev/null " + ca + " -u 'prom:right pass' '" + base +
                  "/-/healthy' '" + base + "/metrics'");
  CHECK(two.out.find("Re-using existing connection") != std::string::npos);
  CHECK(two.out.find("Connection: keep-alive") != std::string::npos);
}

TEST_CASE("TLS versions: TLS 1.1 is refused by default, max_version caps", "[web_security]") {
  WebDir d;
  Pki pki;
  pki.WriteTo(d);
  std::string web = d.Write("web.yml", "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n");
  ExporterProcess exp(kConfig, {"--web.config.file=" + web});
  std::string connect = "openssl s_client -connect 127.0.0.1:" + std::to_string(exp.port()) + " </dev/null";
  Run tls11 = Shell(connect + " -tls1_1 -cipher DEFAULT@SECLEVEL=0");
  CHECK(tls11.exit_code != 0);
  CHECK(tls11.out.find("alert protocol version") != std::string::npos);  // the server refused
  Run tls12 = Shell(connect + " -tls1_2");
  CHECK(tls12.exit_code == 0);
  CHECK(tls12.out.find("Protocol  : TLSv1.2") != std::string::npos);

  d.Write("web.yml", "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
                     "  min_version: TLS13\n");
  std::this_thread::sleep_for(milliseconds(1100));  // changes are looked for once a second
  Shell(connect);  // the connection that notices the change
  CHECK(Shell(connect + " -tls1_2").exit_code != 0);
  CHECK(Shell(connect + " -tls1_3").exit_code == 0);
}

TEST_CASE("client certificates: RequireAndVerifyClientCert and client_allowed_sans", "[web_security]") {
  WebDir d;
  Pki pki;
  pki.WriteTo(d);
  IssueClientCert(d, "", "client", "prometheus.example");
  Pki other;  // a client certificate from a CA the exporter does not trust
  other.WriteTo(d, "other-");
  IssueClientCert(d, "other-", "other-client", "prometheus.example");
  // A certificate from the trusted CA whose SANs are not allowed.
  IssueClientCert(d, "", "stranger", "intruder.example");
  std::string web = d.Write("web.yml", "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
                                       "  client_auth_type: RequireAndVerifyClientCert\n"
                                       "  client_ca_file: ca.crt\n"
                                       "  client_allowed_sans: [prometheus.example]\n");
  ExporterProcess exp(kConfig, {"--web.config.file=" + web});
  std::string url = "https://127.0.0.1:" + std::to_string(exp.port()) + "/metrics";
  std::string ca = "--cacert " + d.Path("ca.crt");
  CHECK(CurlStatus(ca + " --cert " + d.Path("client.crt") + " --key " + d.Path("client.key"), url) == "200");
  CHECK(CurlStatus(ca, url) == "000");
  CHECK(CurlStatus(ca + " --cert " + d.Path("other-client.crt") + " --key " + d.Path("other-client.key"), url) ==
        "000");

  CHECK(CurlStatus(ca + " --cert " + d.Path("stranger.crt") + " --key " + d.Path("stranger.key"), url) == "000");
}

TEST_CASE("a renewed certificate is served without a restart; a bad new file keeps the old one",
          "[web_security]") {
  WebDir d;
  Pki first;
  first.WriteTo(d);
  std::string web = d.Write("web.yml", "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n");
  ExporterProcess exp(kConfig, {"--web.config.file=" + web});
  std::string url = "https://127.0.0.1:" + std::to_string(exp.port()) + "/-/healthy";
  REQUIRE(CurlStatus("--cacert " + d.Path("ca.crt"), url) == "200");

  Pki second;  // a new CA, so the old trust cannot accept the new certificate
  d.Write("new-ca.crt", second.ca.CertPem());
  d.Write("server.key", second.server.KeyPem());
  d.Write("server.crt", second.server.CertPem());
  std::string fresh;
  for (int i = 0; i < 30 && fresh != "200"; ++i) {
    std::this_thread::sleep_for(milliseconds(200));
    fresh = CurlStatus("--cacert " + d.Path("new-ca.crt"), url);
  }
  CHECK(fresh == "200");
  CHECK(CurlStatus("--cacert " + d.Path("ca.crt"), url) == "000");

  size_t from = exp.LogSize();
  d.Write("web.yml", "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: TLS9\n");
  // Changes are looked for when a connection arrives, at most once a second.
  std::this_thread::sleep_for(milliseconds(1100));
  CHECK(CurlStatus("--cacert " + d.Path("new-ca.crt"), url) == "200");
  CHECK(exp.WaitForLog("tls_server_config.min_version: unknown TLS version", seconds(5), from));
  // Also on SIGHUP; the old settings keep serving.
  exp.Signal(SIGHUP);
  CHECK(CurlStatus("--cacert " + d.Path("new-ca.crt"), url) == "200");
}

TEST_CASE("a bad web config at startup exits 1 naming the file and the field", "[web_security]") {
  WebDir d;
  std::string cfg = d.Write("config.yml", kConfig);
  std::string web = d.Write("web.yml", "basic_auth_users:\n  prom: hunter2\n");
  CommandResult r = RunExporter({"--config.file=" + cfg, "--web.listen-address=127.0.0.1:0",
                                 "--web.config.file=" + web});
  INFO(r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("web config " + web + ": basic_auth_users.prom: must be a bcrypt hash") !=
        std::string::npos);

  d.Write("web.yml", "tls_server_config:\n  cert_file: missing.crt\n  key_file: missing.key\n");
  r = RunExporter({"--config.file=" + cfg, "--web.listen-address=127.0.0.1:0", "--web.config.file=" + web});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("web config " + web + ": tls_server_config.cert_file: " + d.Path("missing.crt")) !=
        std::string::npos);
}

TEST_CASE("oversized request lines and headers, slow heads: refused while scrapes go on",
          "[web_security]") {
  ExporterProcess exp(kConfig);
  std::atomic<bool> done{false};
  std::atomic<int> scrapes{0}, failures{0};
  std::thread scraper([&] {
    auto client = exp.NewClient();
    client->set_keep_alive(true);
    while (!done) {
      auto res = client->Get("/metrics");
      (res && res->status == 200 ? scrapes : failures)++;
      std::this_thread::sleep_for(milliseconds(20));
    }
  });

  // Slow clients: 20 connections that send half a head and then nothing.
  std::vector<int> slow;
  for (int i = 0; i < 20; ++i) {
    slow.push_back(Connect(exp.port()));
    SendAll(slow.back(), "GET /metrics HTTP/1.1\r\nHost: x\r\n");
  }
  int idle = Connect(exp.port());  // connects and never sends a byte

  int fd = Connect(exp.port());
  SendAll(fd, "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\n\r\n");
  bool closed = false;
  std::string r = ReadAll(fd, seconds(3), &closed);
  CHECK(StatusLine(r) == "HTTP/1.1 414 URI Too Long");
  CHECK(closed);
  close(fd);

  fd = Connect(exp.port());
  std::string many = "GET /metrics HTTP/1.1\r\n";
  for (int i = 0; i < 101; ++i) many += "X-H" + std::to_string(i) + ": v\r\n";
  SendAll(fd, many + "\r\n");
  CHECK(StatusLine(ReadAll(fd, seconds(3))) == "HTTP/1.1 431 Request Header Fields Too Large");
  close(fd);

  fd = Connect(exp.port());
  SendAll(fd, "GET /metrics HTTP/1.1\r\nX-Big: " + std::string(20000, 'b') + "\r\n\r\n");
  CHECK(StatusLine(ReadAll(fd, seconds(3))) == "HTTP/1.1 431 Request Header Fields Too Large");
  close(fd);

  // A head trickled one byte at a time: cut off 5 s after its first byte, with 408.
  fd = Connect(exp.port());
  auto start = std::chrono::steady_clock::now();
  std::string trickle = "GET /metrics HTTP/1.1\r\nX-Slow: " + std::string(200, 's');
  std::string answer;
  for (char c : trickle) {
    if (send(fd, &c, 1, MSG_NOSIGNAL) != 1) break;
    answer += ReadAll(fd, milliseconds(100), &closed);
    if (closed) break;
  }
  double cut_after = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(StatusLine(answer) == "HTTP/1.1 408 Request Timeout");
  CHECK(cut_after < 7);
  close(fd);

  // The idle connections are closed by the server too.
  CHECK(ReadAll(idle, seconds(7), &closed).empty());
  CHECK(closed);
  for (int s : slow) {
    CHECK(StatusLine(ReadAll(s, seconds(2))) == "HTTP/1.1 408 Request Timeout");
    close(s);
  }
  close(idle);
  done = true;
  scraper.join();
  CHECK(failures == 0);
  CHECK(scrapes > 50);
}

TEST_CASE("keep-alive: pipelined requests are answered in order; a refused body closes",
          "[web_security]") {
  ExporterProcess exp(kConfig);
  int fd = Connect(exp.port());
  SendAll(fd, "GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string r = ReadAll(fd, milliseconds(1500));
  CHECK(r.find("HTTP/1.1 200 OK") == 0);
  CHECK(r.find("HTTP/1.1 404 Not Found") != std::string::npos);
  // The second request on the same connection: a body, refused; then the connection closes
  // and the body's bytes (a request of their own) are never answered.
  SendAll(fd, "GET /metrics HTTP/1.1\r\nContent-Length: 38\r\n\r\nGET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n");
  bool closed = false;
  r = ReadAll(fd, seconds(3), &closed);
  CHECK(StatusLine(r) == "HTTP/1.1 413 Payload Too Large");
  CHECK(r.find("Connection: close") != std::string::npos);
  CHECK(r.find("200 OK") == std::string::npos);
  CHECK(closed);
  close(fd);
}

TEST_CASE("keep-alive connections idle between scrapes stay open without a thread; SIGTERM closes them",
          "[web_security]") {
  ExporterProcess exp(kConfig);
  std::vector<int> conns;
  for (int i = 0; i < 50; ++i) {
    conns.push_back(Connect(exp.port()));
    SendAll(conns.back(), "GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n");
    REQUIRE(StatusLine(ReadAll(conns.back(), milliseconds(500))) == "HTTP/1.1 200 OK");
  }
  // Longer than the head timeout (5 s): an idle keep-alive connection is not a slow client.
  std::this_thread::sleep_for(milliseconds(6500));
  auto metrics = exp.NewClient()->Get("/metrics");
  REQUIRE(metrics);
  for (int fd : conns) {
    SendAll(fd, "GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(StatusLine(ReadAll(fd, milliseconds(500))) == "HTTP/1.1 200 OK");
  }
  // 50 connections waited without holding 50 threads.
  CHECK(MetricValue(metrics->body, "mxtls_exporter_http_handler_threads") < 20);

  auto start = std::chrono::steady_clock::now();
  exp.Signal(SIGTERM);
  CHECK(exp.WaitForExit(seconds(5)) == 0);
  CHECK(std::chrono::steady_clock::now() - start < seconds(2));
  for (int fd : conns) close(fd);
}

}  // namespace
}  // namespace mxtls::testing
