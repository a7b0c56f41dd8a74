// Tests of the bounded HTTPS GET used for MTA-STS policy fetches: a real io_context against
// the HTTPS fixture server on loopback, plus table-driven tests of the response parser.
#include "probes/https_fetch.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "probes/tls_client_context.h"
#include "tests/support/cert_factory.h"
#include "tests/support/https_fixture_server.h"
#include "tests/support/smtp_fixture_server.h"

namespace mxtls::testing {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

constexpr char kHost[] = "mta-sts.example.com";
constexpr char kPolicy[] =
    "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmax_age: 86400\r\n";

// One PKI for the whole file: generating roots is the slow part.
const TestPki& Pki() {
  static const TestPki pki("https fetch test");
  return pki;
}

// The fixture presenting `leaf` + the intermediate, answering with `response`.
HttpsFixtureOptions Serving(HttpsResponse response, const TestCert& leaf) {
  HttpsFixtureOptions options;
  options.certs = {CertEntry::FromCerts({}, leaf, {&Pki().intermediate()})};
  options.response = std::move(response);
  return options;
}

HttpsFixtureOptions Serving(HttpsResponse response) {
  static const TestCert leaf = Pki().Leaf({kHost});
  return Serving(std::move(response), leaf);
}

// Runs fetches on a fresh io_context in the test's thread, the way the engine's loop would.
class Harness {
 public:
  Harness() : trust_(Pki().TrustStore()) {
    Result<SslCtxPtr> ctx = MakeProbeSslContext();
    REQUIRE(ctx.ok());
    tls_ = std::make_unique<asio::ssl::context>(std::move(ctx).value().release());
  }

  HttpsFetchSpec SpecFor(const std::string& address, uint16_t port,
                         std::chrono::milliseconds budget = 3s) const {
    HttpsFetchSpec spec;
    spec.host = kHost;
    spec.address = address;
    spec.port = port;
    spec.deadline = SteadyClock::now() + budget;
    return spec;
  }
  HttpsFetchSpec SpecFor(const HttpsFixtureServer& server,
                         std::chrono::milliseconds budget = 3s) const {
    return SpecFor(server.address(), server.port(), budget);
  }

  HttpsFetchResult Fetch(HttpsFetchSpec spec) {
    asio::io_context io;
    HttpsFetchEnv env;
    env.tls = tls_.get();
    env.trust = trust_.get();
    env.clock = &clock_;
    env.log = log_;
    auto future = asio::co_spawn(io, FetchHttps(std::move(spec), env), asio::use_future);
    io.run();
    return future.get();
  }

  const ProbeLog& log() const { return *log_; }

 private:
  X509StorePtr trust_;
  std::unique_ptr<asio::ssl::context> tls_;
  SystemClock clock_;
  std::shared_ptr<ProbeLog> log_ = std::make_shared<ProbeLog>();
};

// The single finished connection of `server`.
HttpsRequestRecord OnlyRecord(const HttpsFixtureServer& server) {
  REQUIRE(server.WaitForFinished(1, 3s));
  std::vector<HttpsRequestRecord> records = server.records();
  REQUIRE(records.size() == 1);
  return records.front();
}

// A loopback port nobody listens on.
uint16_t UnusedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

HttpsResponse Raw(std::string bytes) {
  HttpsResponse r;
  r.raw = std::move(bytes);
  return r;
}

// ---- successful fetches ----

TEST_CASE("FetchHttps fetches a policy over verified TLS with SNI and Host", "[https]") {
  HttpsFixtureServer server(Serving(HttpsResponse::Ok(kPolicy)));
  Harness h;
  HttpsFetchResult r = h.Fetch(h.SpecFor(server));

  CHECK(r.ok());
  CHECK(r.failure_reason.empty());
  CHECK(r.connected);
  CHECK(r.tls_ok);
  CHECK_FALSE(r.tls_version.empty());
  CHECK(r.status_code == 200);
  CHECK(r.content_type == "text/plain");
  CHECK(r.location.empty());
  CHECK(r.body == kPolicy);
  CHECK_FALSE(r.body_truncated);
  CHECK(r.seconds > 0);
  CHECK(r.seconds < 2);
  REQUIRE(r.cert.has_value());
  CHECK(r.cert->chain.verified);
  CHECK(r.cert->chain.reason == "ok");
  CHECK(r.cert->name_match == NameMatch::kMatch);
  CHECK(r.cert->checked_name == kHost);
  CHECK(r.cert->presented.size() == 2);
  CHECK(r.cert->days_to_expiry > 80);

  HttpsRequestRecord rec = OnlyRecord(server);
  CHECK(rec.sni == std::optional<std::string>(kHost));
  CHECK(rec.request_line == "GET /.well-known/mta-sts.txt HTTP/1.1");
  // Not port 443, so the Host header carries the port (RFC 9112 §3.2).
  CHECK(rec.host == std::optional<std::string>(std::string(kHost) + ":" +
                                               std::to_string(server.port())));
  using Header = std::pair<std::string, std::string>;
  CHECK(rec.headers == std::vector<Header>{{"Host", *rec.host},
                                           {"User-Agent", "mxtls_exporter"},
                                           {"Accept", "text/plain"},
                                           {"Connection", "close"}});
  CHECK(rec.response_complete);
  CHECK_THAT(h.log().Text(), Catch::Contains("HTTP 200") && Catch::Contains("body: "));
}

TEST_CASE("FetchHttps sends the configured path", "[https]") {
  HttpsFixtureServer server(Serving(HttpsResponse::Ok("x")));
  Harness h;
  HttpsFetchSpec spec = h.SpecFor(server);
  spec.path = "/other.txt?q=1";
  CHECK(h.Fetch(spec).ok());
  CHECK(OnlyRecord(server).target == "/other.txt?q=1");
}

TEST_CASE("FetchHttps reports a redirect and does not follow it", "[https]") {
  HttpsFixtureServer server(
      Serving(HttpsResponse::Redirect("https://elsewhere.example/.well-known/mta-sts.txt")));
  Harness h;
  HttpsFetchResult r = h.Fetch(h.SpecFor(server));
  CHECK(r.ok());
  CHECK(r.status_code == 301);
  CHECK(r.location == "https://elsewhere.example/.well-known/mta-sts.txt");
  CHECK(r.content_type == "text/html");
  OnlyRecord(server);
  CHECK(server.connection_count() == 1);
  CHECK(server.request_count() == 1);
}

TEST_CASE("FetchHttps reports a 404 as a status, not a failure", "[https]") {
  HttpsFixtureServer server(Serving(HttpsResponse::NotFound()));
  Harness h;
  HttpsFetchResult r = h.Fetch(h.SpecFor(server));
  CHECK(r.ok());
  CHECK(r.status_code == 404);
  CHECK_THAT(r.body, Catch::Contains("not found"));
}

TEST_CASE("FetchHttps reports the media type as sent", "[https]") {
  std::string type = GENERATE(as<std::string>{}, "text/html", "text/plain; charset=utf-8",
                              "TEXT/PLAIN;charset=\"utf-8\"");
  HttpsFixtureServer server(Serving(HttpsResponse::Ok(kPolicy, type)));
  Harness h;
  HttpsFetchResult r = h.Fetch(h.SpecFor(server));
  CHECK(r.ok());
  CHECK(r.content_type == type);
  CHECK(r.body == kPolicy);
}

TEST_CASE("FetchHttps reports a missing Content-Type as empty", "[https]") {
  HttpsResponse response = HttpsResponse::Ok(kPolicy);
  response.headers.clear();
  HttpsFixtureServer server(Serving(response));
  Harness h;
  HttpsFetchResult r = h.Fetch(h.SpecFor(server));
  CHECK(r.ok());
  CHECK(r.content_type.empty());
}

TEST_CASE("FetchHttps decodes a chunked body", "[https]") {
  HttpsResponse response = HttpsResponse::Ok(kPolicy);
  response.framing = HttpsResponse::Framing::kChunked;
  response.chunk_size = GENERATE(1, 7, 4096);
  HttpsFixtureServer server(Serving(response));
  Harness h;
  HttpsFetchResult r = h.Fetch(h.SpecFor(server));
  CHECK(r.ok());
  CHECK(r.body == kPolicy);
}

TEST_CASE("FetchHttps reads a body without length until the server closes", "[https]") {
  HttpsResponse response = HttpsResponse::Ok(kPolicy);
  response.framing = HttpsResponse::Framing::kClose;
  // With and without a TLS close_notify before the FIN.
  response.close_notify = GENERATE(true, false);
  HttpsFixtureServer server(Serving(response));
  Harness h;
  HttpsFetchResult r = h.Fetch(h.SpecFor(server));
  CHECK(r.ok());
  CHECK(r.body == kPolicy);
}

TEST_CASE("FetchHttps skips 1xx interim responses", "[https]") {
  HttpsFixtureServer server(Serving(
      Raw("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
          "Content-Length: 2\r\n\r\nok")));
  Harness h;
  HttpsFetchResult r = h.Fetch(h.SpecFor(server));
  CHECK(r.ok());
  CHECK(r.status_code == 200);
  CHECK(r.body == "ok");
}

TEST_CASE("FetchHttps works over IPv6", "[https]") {
  if (!Ipv6LoopbackAvailable()) {
    WARN("no IPv6 loopback: skipped");
    return;
  }
  HttpsFixtureServer server(Serving(HttpsResponse::Ok(kPolicy)), "::1");
  Harness h;
  HttpsFetchResult r = h.Fetch(h.SpecFor(server));
  CHECK(r.ok());
  CHECK(r.body == kPolicy);
}

// ---- certificates: reported, never a reason to fail the fetch ----

TEST_CASE("FetchHttps completes over an expired certificate and reports it", "[https]") {
  auto now = std::chrono::system_clock::now();
  TestCert expired = Pki().Leaf({kHost}, now - 48h, now - 24h * 60);
  HttpsFixtureServer server(Serving(HttpsResponse::Ok(kPolicy), expired));
  Harness h;
  HttpsFetchResult r = h.Fetch(h.SpecFor(server));
  CHECK(r.ok());
  CHECK(r.tls_ok);
  CHECK(r.status_code == 200);
  CHECK(r.body == kPolicy);
  REQUIRE(r.cert.has_value());
  CHECK_FALSE(r.cert->chain.verified);
  CHECK(r.cert->chain.reason == "expired");
  CHECK(r.cert->days_to_expiry < -1.9);
  CHECK(r.cert->name_match == NameMatch::kMatch);
}

TEST_CASE("FetchHttps reports a certificate for another name", "[https]") {
  TestCert other = Pki().Leaf({"www.example.com"});
  HttpsFixtureServer server(Serving(HttpsResponse::Ok(kPolicy), other));
  Harness h;
  HttpsFetchResult r = h.Fetch(h.SpecFor(server));
  CHECK(r.ok());
  REQUIRE(r.cert.has_value());
  CHECK(r.cert->chain.verified);
  CHECK(r.cert->name_match == NameMatch::kMismatch);
  CHECK(r.cert->leaf().dns_sans == std::vector<std::string>{"www.example.com"});
}

TEST_CASE("FetchHttps reports an untrusted self-signed certificate", "[https]") {
  HttpsFixtureOptions options;  // the fixture's default: self-signed for mta-sts.test
  options.response = HttpsResponse::Ok(kPolicy);
  HttpsFixtureServer server(options);
  Harness h;
  HttpsFetchResult r = h.Fetch(h.SpecFor(server));
  CHECK(r.ok());
  REQUIRE(r.cert.has_value());
  CHECK_FALSE(r.cert->chain.verified);
  CHECK(r.cert->name_match == NameMatch::kMismatch);
}

// ---- limits ----

TEST_CASE("FetchHttps refuses a declared oversize body without reading it", "[https]") {
  HttpsFixtureServer server(Serving(HttpsResponse::Ok(std::string(100 * 1024, 'a'))));
  Harness h;
  HttpsFetchResult r = h.Fetch(h.SpecFor(server));
  CHECK(r.failure_reason == "body_too_large");
  CHECK(r.failure_stage == "body");
  CHECK_THAT(r.failure_message, Catch::Contains("102400"));
  CHECK(r.body_truncated);
  CHECK(r.status_code == 200);
  CHECK(r.body.size() <= 65536);
  CHECK(r.seconds < 1);
}

TEST_CASE("FetchHttps stops reading a body without end at max_body", "[https]") {
  HttpsResponse response = HttpsResponse::Ok(std::string(1000, 'a'));
  response.framing = GENERATE(HttpsResponse::Framing::kClose, HttpsResponse::Framing::kChunked);
  response.endless_body = true;
  HttpsFixtureServer server(Serving(response));
  Harness h;
  HttpsFetchSpec spec = h.SpecFor(server);
  spec.max_body = 20000;
  HttpsFetchResult r = h.Fetch(spec);
  CHECK(r.failure_reason == "body_too_large");
  CHECK(r.body_truncated);
  CHECK(r.body == std::string(20000, 'a'));
  CHECK(r.seconds < 1);
  // The server was still writing when the client left.
  CHECK_FALSE(OnlyRecord(server).response_complete);
}

TEST_CASE("FetchHttps accepts a body of exactly max_body bytes", "[https]") {
  HttpsResponse response = HttpsResponse::Ok(std::string(5000, 'b'));
  response.framing = GENERATE(HttpsResponse::Framing::kContentLength,
                              HttpsResponse::Framing::kChunked, HttpsResponse::Framing::kClose);
  HttpsFixtureServer server(Serving(response));
  Harness h;
  HttpsFetchSpec spec = h.SpecFor(server);
  spec.max_body = 5000;
  HttpsFetchResult r = h.Fetch(spec);
  CHECK(r.ok());
  CHECK(r.body.size() == 5000);
  CHECK_FALSE(r.body_truncated);
}

TEST_CASE("FetchHttps cuts a trickled body at the deadline", "[https]") {
  HttpsResponse response = HttpsResponse::Ok("0123456789");  // 10 bytes, 2 s at 200 ms each
  response.byte_delay = 200ms;
  HttpsFixtureServer server(Serving(response));
  Harness h;
  HttpsFetchResult r = h.Fetch(h.SpecFor(server, 600ms));
  CHECK(r.failure_reason == "timeout");
  CHECK(r.failure_stage == "body");
  CHECK_THAT(r.failure_message, Catch::Contains("deadline"));
  CHECK(r.status_code == 200);
  CHECK(r.body.size() < 10);
  CHECK(r.seconds >= 0.55);
  CHECK(r.seconds < 0.6 + 0.25);
}

TEST_CASE("FetchHttps times out on a server that never answers the request", "[https]") {
  HttpsResponse response;
  response.never_answer = true;
  HttpsFixtureServer server(Serving(response));
  Harness h;
  HttpsFetchResult r = h.Fetch(h.SpecFor(server, 300ms));
  CHECK(r.failure_reason == "timeout");
  CHECK(r.failure_stage == "response");
  CHECK(r.tls_ok);
  CHECK(r.cert.has_value());
  CHECK(r.status_code == 0);
  CHECK(r.seconds < 0.3 + 0.25);
}

TEST_CASE("FetchHttps limits the handshake by its own timeout", "[https]") {
  // Accepts TCP, never speaks TLS.
  RawTcpFixture silent("127.0.0.1", 0, [](int fd) {
    char buf[4096];
    while (recv(fd, buf, sizeof(buf), 0) > 0) {
    }
  });
  Harness h;
  HttpsFetchSpec spec = h.SpecFor(silent.address(), silent.port());
  spec.handshake_timeout = 200ms;
  HttpsFetchResult r = h.Fetch(spec);
  CHECK(r.connected);
  CHECK(r.failure_reason == "timeout");
  CHECK(r.failure_stage == "handshake");
  CHECK_THAT(r.failure_message, !Catch::Contains("deadline"));
  CHECK(r.seconds < 0.2 + 0.25);
}

// ---- broken servers ----

TEST_CASE("FetchHttps reports a refused connection", "[https]") {
  Harness h;
  HttpsFetchResult r = h.Fetch(h.SpecFor("127.0.0.1", UnusedPort()));
  CHECK(r.failure_reason == "refused");
  CHECK(r.failure_stage == "connect");
  CHECK_FALSE(r.connected);
  CHECK_FALSE(r.cert.has_value());
}

TEST_CASE("FetchHttps refuses an address that is not an IP", "[https]") {
  Harness h;
  HttpsFetchResult r = h.Fetch(h.SpecFor("mta-sts.example.com", 443));
  CHECK(r.failure_reason == "bad_request");
  CHECK_FALSE(r.connected);
}

TEST_CASE("FetchHttps refuses a path that could split the request", "[https]") {
  Harness h;
  HttpsFetchSpec spec = h.SpecFor("127.0.0.1", UnusedPort());
  spec.path = "/x HTTP/1.1\r\nX-Injected: 1\r\n";
  HttpsFetchResult r = h.Fetch(spec);
  CHECK(r.failure_reason == "bad_request");
  CHECK_FALSE(r.connected);
}

TEST_CASE("FetchHttps reports a server that does not speak TLS", "[https]") {
  RawTcpFixture plain("127.0.0.1", 0, [](int fd) {
    char buf[4096];
    recv(fd, buf, sizeof(buf), 0);
    SendAll(fd, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
  });
  Harness h;
  HttpsFetchResult r = h.Fetch(h.SpecFor(plain.address(), plain.port()));
  CHECK(r.connected);
  CHECK_FALSE(r.tls_ok);
  CHECK(r.failure_reason == "handshake");
  CHECK(r.failure_stage == "handshake");
}

TEST_CASE("FetchHttps reports garbage instead of HTTP as malformed", "[https]") {
  std::string garbage = GENERATE(as<std::string>{}, "SSH-2.0-OpenSSH_9.2\r\n",
                                 "220 mx.example.com ESMTP\r\n", "\x16\x03\x01garbage");
  HttpsFixtureServer server(Serving(Raw(garbage)));
  Harness h;
  HttpsFetchResult r = h.Fetch(h.SpecFor(server));
  CHECK(r.failure_reason == "http_malformed");
  CHECK(r.failure_stage == "response");
  CHECK(r.status_code == 0);
  CHECK(r.tls_ok);
}

TEST_CASE("FetchHttps rejects response headers over the limits", "[https]") {
  HttpsResponse response = HttpsResponse::Ok(kPolicy);
  SECTION("one huge header") {
    response.headers.emplace_back("X-Padding", std::string(20000, 'p'));
    CHECK(response.headers.back().second.size() > kMaxHttpHeadBytes);
  }
  SECTION("too many headers") {
    for (int i = 0; i < 150; ++i) response.headers.emplace_back("X-H" + std::to_string(i), "v");
    CHECK(response.headers.size() > kMaxHttpHeaders);
  }
  HttpsFixtureServer server(Serving(response));
  Harness h;
  HttpsFetchResult r = h.Fetch(h.SpecFor(server));
  CHECK(r.failure_reason == "http_malformed");
  CHECK(r.status_code == 0);
  CHECK(r.seconds < 1);
}

TEST_CASE("FetchHttps reports a body cut short of its Content-Length", "[https]") {
  HttpsResponse response = HttpsResponse::Ok("0123456789");
  response.headers.emplace_back("Content-Length", "100");
  HttpsFixtureServer server(Serving(response));
  Harness h;
  HttpsFetchResult r = h.Fetch(h.SpecFor(server));
  CHECK(r.failure_reason == "closed");
  CHECK(r.failure_stage == "body");
  CHECK(r.body == "0123456789");
  CHECK_THAT(r.failure_message, Catch::Contains("10 of 100"));
}

TEST_CASE("FetchHttps reports a chunked body without its last chunk", "[https]") {
  HttpsFixtureServer server(Serving(
      Raw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")));
  Harness h;
  HttpsFetchResult r = h.Fetch(h.SpecFor(server));
  CHECK(r.failure_reason == "closed");
  CHECK(r.body == "hello");
}

TEST_CASE("FetchHttps rejects unusable body framing", "[https]") {
  std::string head = GENERATE(as<std::string>{},
                              "Transfer-Encoding: gzip, chunked\r\n",
                              "Content-Length: 5\r\nContent-Length: 6\r\n",
                              "Content-Length: -1\r\n",
                              "Content-Length: 99999999999999999999999\r\n");
  HttpsFixtureServer server(Serving(Raw("HTTP/1.1 200 OK\r\n" + head + "\r\nhello")));
  Harness h;
  HttpsFetchResult r = h.Fetch(h.SpecFor(server));
  CHECK(r.failure_reason == "http_malformed");
  CHECK(r.failure_stage == "body");
  CHECK(r.status_code == 200);
}

TEST_CASE("FetchHttps reports a server closing before any response", "[https]") {
  HttpsResponse response;
  response.close_after_request = true;
  HttpsFixtureServer server(Serving(response));
  Harness h;
  HttpsFetchResult r = h.Fetch(h.SpecFor(server));
  CHECK(r.failure_reason == "closed");
  CHECK(r.failure_stage == "response");
  CHECK(r.tls_ok);
  CHECK(r.status_code == 0);
}

TEST_CASE("FetchHttps reports a response cut inside its headers as malformed", "[https]") {
  HttpsFixtureServer server(Serving(Raw("HTTP/1.1 200 OK\r\nContent-Ty")));
  Harness h;
  HttpsFetchResult r = h.Fetch(h.SpecFor(server));
  CHECK(r.failure_reason == "http_malformed");
  CHECK_THAT(r.failure_message, Catch::Contains("inside the response headers"));
}

// ---- the parser ----

struct HeadCase {
  std::string name;
  std::string input;
  HttpParseState state;
  int status = 0;
  std::string error = "";
};

TEST_CASE("ParseHttpResponseHead", "[https]") {
  const std::string big_header = "X: " + std::string(kMaxHttpHeadBytes, 'a') + "\r\n";
  std::string many;
  for (size_t i = 0; i <= kMaxHttpHeaders; ++i) many += "H" + std::to_string(i) + ": v\r\n";
  const std::vector<HeadCase> cases = {
      {"complete", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nbody",
       HttpParseState::kComplete, 200},
      {"HTTP/1.0", "HTTP/1.0 404 Not Found\r\n\r\n", HttpParseState::kComplete, 404},
      {"no reason phrase", "HTTP/1.1 204\r\n\r\n", HttpParseState::kComplete, 204},
      {"bare LF", "HTTP/1.1 200 OK\nA: b\n\n", HttpParseState::kComplete, 200},
      {"empty", "", HttpParseState::kIncomplete},
      {"partial prefix", "HTT", HttpParseState::kIncomplete},
      {"partial status line", "HTTP/1.1 20", HttpParseState::kIncomplete},
      {"no blank line yet", "HTTP/1.1 200 OK\r\nA: b\r\n", HttpParseState::kIncomplete},
      {"garbage", "SSH-2.0", HttpParseState::kError, 0, "not an HTTP response"},
      {"garbage, short", "<h", HttpParseState::kError, 0, "not an HTTP response"},
      {"lower-case http", "http/1.1 200 OK\r\n\r\n", HttpParseState::kError, 0, "not an HTTP"},
      {"HTTP/2", "HTTP/2.0 200 OK\r\n\r\n", HttpParseState::kError, 0, "unsupported HTTP"},
      {"bad code", "HTTP/1.1 2x0 OK\r\n\r\n", HttpParseState::kError, 0, "malformed status"},
      {"code 600", "HTTP/1.1 600 What\r\n\r\n", HttpParseState::kError, 0, "out of range"},
      {"no space", "HTTP/1.1 200OK\r\n\r\n", HttpParseState::kError, 0, "malformed status"},
      {"header without colon", "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", HttpParseState::kError, 0,
       "malformed header"},
      {"space before colon", "HTTP/1.1 200 OK\r\nName : v\r\n\r\n", HttpParseState::kError, 0,
       "malformed header"},
      {"folded header", "HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n", HttpParseState::kError, 0,
       "folding"},
      {"NUL in a value", "HTTP/1.1 200 OK\r\nA: b" + std::string(1, '\0') + "c\r\n\r\n",
       HttpParseState::kError, 0, "control character"},
      {"huge header", "HTTP/1.1 200 OK\r\n" + big_header + "\r\n", HttpParseState::kError, 0,
       "exceed"},
      {"huge header, incomplete", "HTTP/1.1 200 OK\r\nX: " + std::string(17000, 'a'),
       HttpParseState::kError, 0, "exceed"},
      {"too many headers", "HTTP/1.1 200 OK\r\n" + many + "\r\n", HttpParseState::kError, 0,
       "more than 100"},
  };
  for (const HeadCase& c : cases) {
    INFO(c.name);
    HttpHeadParse p = ParseHttpResponseHead(c.input);
    CHECK(p.state == c.state);
    if (c.state == HttpParseState::kComplete) CHECK(p.head.status_code == c.status);
    if (c.state == HttpParseState::kError) CHECK_THAT(p.error, Catch::Contains(c.error));
  }
}

TEST_CASE("ParseHttpResponseHead keeps headers in order and finds them by any case",
          "[https]") {
  std::string input =
      "HTTP/1.1 301 Moved Permanently\r\nLocation:  https://x.example/ \r\n"
      "content-type:text/html\r\nContent-Type: text/plain\r\n\r\nrest";
  HttpHeadParse p = ParseHttpResponseHead(input);
  REQUIRE(p.state == HttpParseState::kComplete);
  CHECK(p.head.reason_phrase == "Moved Permanently");
  CHECK(p.head.size == input.size() - 4);
  CHECK(p.head.headers.size() == 3);
  REQUIRE(p.head.Find("LOCATION") != nullptr);
  CHECK(*p.head.Find("LOCATION") == "https://x.example/");
  CHECK(*p.head.Find("Content-Type") == "text/html");
  CHECK(p.head.Find("Content-Length") == nullptr);
}

struct ChunkCase {
  std::string name;
  std::string input;
  HttpParseState state;
  std::string body = "";
  std::string leftover = "";
};

TEST_CASE("ChunkedDecoder", "[https]") {
  const std::vector<ChunkCase> cases = {
      {"two chunks", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", HttpParseState::kComplete,
       "hello world"},
      {"upper-case hex, extension", "A;name=value\r\n0123456789\r\n0\r\n\r\n",
       HttpParseState::kComplete, "0123456789"},
      {"trailers and leftovers", "3\r\nabc\r\n0\r\nX-T: 1\r\n\r\nmore",
       HttpParseState::kComplete, "abc", "more"},
      {"bare LF", "3\nabc\n0\n\n", HttpParseState::kComplete, "abc"},
      {"incomplete data", "5\r\nhel", HttpParseState::kIncomplete, "hel"},
      {"no last chunk", "5\r\nhello\r\n", HttpParseState::kIncomplete, "hello"},
      {"no hex", "zz\r\n", HttpParseState::kError},
      {"empty size", "\r\n", HttpParseState::kError},
      {"negative", "-5\r\nhello\r\n", HttpParseState::kError},
      {"data longer than size", "3\r\nabcdef\r\n0\r\n\r\n", HttpParseState::kError, "abc"},
      {"huge size", "1000000000000000\r\n", HttpParseState::kError},
      {"long size line", std::string(5000, '0'), HttpParseState::kError},
  };
  for (const ChunkCase& c : cases) {
    INFO(c.name);
    // All at once, and one byte at a time: the result must not depend on how bytes arrive.
    for (bool bytewise : {false, true}) {
      INFO("bytewise " << bytewise);
      ChunkedDecoder decoder;
      std::string in;
      std::string out;
      HttpParseState state = HttpParseState::kIncomplete;
      if (bytewise) {
        for (char ch : c.input) {
          in += ch;
          state = decoder.Feed(in, out);
          if (state != HttpParseState::kIncomplete) break;
        }
      } else {
        in = c.input;
        state = decoder.Feed(in, out);
      }
      CHECK(state == c.state);
      if (state == HttpParseState::kError) CHECK_FALSE(decoder.error().empty());
      CHECK(out == c.body);
      if (c.state == HttpParseState::kComplete && !bytewise) CHECK(in == c.leftover);
    }
  }
}

}  // namespace
}  // namespace mxtls::testing
