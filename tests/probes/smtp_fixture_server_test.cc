// Tests of the scripted SMTP/STARTTLS fixture server itself, with a minimal blocking client:
// the probe engine's integration tests rely on each behaviour shown here.
#include "tests/support/smtp_fixture_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace mxtls::testing {
namespace {

using namespace std::chrono_literals;
using Lines = std::vector<std::string>;
using SteadyClock = std::chrono::steady_clock;

const Lines kDefaultEhlo = {"250-mx.test", "250-PIPELINING", "250-SIZE 10240000", "250-STARTTLS",
                            "250 8BITMIME"};

// A minimal blocking SMTP client: plain text on a socket, then OpenSSL on the same fd after
// STARTTLS. Every read times out after `io_timeout`, so a broken fixture fails, never hangs.
class TestClient {
 public:
  TestClient(const std::string& address, uint16_t port, std::chrono::milliseconds io_timeout = 2s) {
    sockaddr_storage addr{};
    socklen_t len = 0;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
    if (inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
      v4->sin_family = AF_INET;
      v4->sin_port = htons(port);
      len = sizeof(*v4);
    } else {
      REQUIRE(inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1);
      v6->sin6_family = AF_INET6;
      v6->sin6_port = htons(port);
      len = sizeof(*v6);
    }
    fd_ = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    timeval tv{};
    tv.tv_sec = io_timeout.count() / 1000;
    tv.tv_usec = (io_timeout.count() % 1000) * 1000;
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    REQUIRE(connect(fd_, reinterpret_cast<sockaddr*>(&addr), len) == 0);
  }
  ~TestClient() { Close(); }
  TestClient(const TestClient&) = delete;
  TestClient& operator=(const TestClient&) = delete;

  // Closes at once; with `reset`, with a RST instead of a FIN (SO_LINGER 0).
  void Close(bool reset = false) {
    ssl_.reset();
    if (fd_ < 0) return;
    if (reset) {
      linger lin{1, 0};
      setsockopt(fd_, SOL_SOCKET, SO_LINGER, &lin, sizeof(lin));
    }
    close(fd_);
    fd_ = -1;
  }

  void Send(const std::string& line) { SendRaw(line + "\r\n"); }
  void SendRaw(const std::string& bytes) {
    if (ssl_) {
      REQUIRE(SSL_write(ssl_.get(), bytes.data(), static_cast<int>(bytes.size())) ==
              static_cast<int>(bytes.size()));
    } else {
      REQUIRE(SendAll(fd_, bytes));
    }
  }

  // One reply's lines (a multi-line reply ends at "NNN "); what arrived before EOF or a
  // timeout otherwise (empty if nothing).
  Lines ReadReply() {
    Lines lines;
    std::string line;
    while (ReadLine(&line)) {
      lines.push_back(line);
      if (line.size() < 4 || line[3] != '-') break;
    }
    return lines;
  }

  Lines Command(const std::string& line) {
    Send(line);
    return ReadReply();
  }

  // Plain text only: collects bytes for `window` (or until `stop_at` bytes are buffered) and
  // returns and clears the buffer.
  std::string ReadFor(std::chrono::milliseconds window, size_t stop_at = SIZE_MAX) {
    auto deadline = SteadyClock::now() + window;
    while (in_.size() < stop_at) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - SteadyClock::now());
      if (left.count() <= 0) break;
      pollfd pfd{fd_, POLLIN, 0};
      if (poll(&pfd, 1, static_cast<int>(left.count())) <= 0) break;
      char buf[4096];
      ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) break;
      in_.append(buf, static_cast<size_t>(n));
    }
    return std::exchange(in_, {});
  }

  // Bytes received but not consumed by ReadReply.
  const std::string& buffered() const { return in_; }

  // The TLS handshake on the connection, after the server's 220 to STARTTLS.
  bool StartTls(const std::optional<std::string>& sni, int max_version = 0, int min_version = 0) {
    REQUIRE(in_.empty());  // a byte buffered here would be an injected one
    ctx_.reset(SSL_CTX_new(TLS_client_method()));
    REQUIRE(ctx_);
    SSL_CTX_set_security_level(ctx_.get(), 0);
    REQUIRE(SSL_CTX_set_cipher_list(ctx_.get(), "DEFAULT:@SECLEVEL=0") == 1);
    if (min_version != 0) SSL_CTX_set_min_proto_version(ctx_.get(), min_version);
    if (max_version != 0) SSL_CTX_set_max_proto_version(ctx_.get(), max_version);
    SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_NONE, nullptr);
    ssl_.reset(SSL_new(ctx_.get()));
    REQUIRE(ssl_);
    SSL_set_fd(ssl_.get(), fd_);
    if (sni) SSL_set_tlsext_host_name(ssl_.get(), sni->c_str());
    bool ok = SSL_connect(ssl_.get()) == 1;
    handshake_error_ = DrainOpenSslErrors();
    if (!ok) ssl_.reset();
    return ok;
  }

  SSL* ssl() const { return ssl_.get(); }
  const std::string& handshake_error() const { return handshake_error_; }

 private:
  bool ReadLine(std::string* line) {
    for (;;) {
      size_t end = in_.find("\r\n");
      if (end != std::string::npos) {
        line->assign(in_, 0, end);
        in_.erase(0, end + 2);
        return true;
      }
      char buf[4096];
      int n = ssl_ ? SSL_read(ssl_.get(), buf, sizeof(buf))
                   : static_cast<int>(recv(fd_, buf, sizeof(buf), 0));
      if (n <= 0) {
        ERR_clear_error();
        return false;
      }
      in_.append(buf, static_cast<size_t>(n));
    }
  }

  int fd_ = -1;
  SslCtxPtr ctx_;
  SslPtr ssl_;
  std::string in_;
  std::string handshake_error_;
};

// Greeting, EHLO and STARTTLS up to the server's 220 reply.
void UpToStartTls(TestClient& client) {
  REQUIRE(client.ReadReply().size() >= 1);
  REQUIRE(client.Command("EHLO client.test").size() >= 1);
  REQUIRE(client.Command("STARTTLS") == Lines{"220 2.0.0 Ready to start TLS"});
}

std::string Subject(X509* cert) {
  if (cert == nullptr) return "(none)";
  char buf[256];
  X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof(buf));
  return buf;
}

SessionRecord OnlySession(const SmtpFixtureServer& server) {
  REQUIRE(server.WaitForSessions(1, 3s));
  std::vector<SessionRecord> sessions = server.sessions();
  REQUIRE(sessions.size() == 1);
  return sessions[0];
}

// The whole happy path on one address.
void CheckFullSession(const std::string& address) {
  SmtpFixtureServer server({}, address);
  TestClient client(address, server.port());
  UpToStartTls(client);
  CHECK(client.buffered().empty());
  REQUIRE(client.StartTls("mx.test"));
  CHECK(client.Command("EHLO client.test") ==
        Lines{"250-mx.test", "250-PIPELINING", "250-SIZE 10240000", "250 8BITMIME"});
  CHECK(client.Command("MAIL FROM:<a@client.test>") == Lines{"250 2.0.0 Ok"});
  CHECK(client.Command("QUIT") == Lines{"221 2.0.0 Bye"});
  std::string client_version = SSL_get_version(client.ssl());

  SessionRecord s = OnlySession(server);
  CHECK(s.id == 1);
  CHECK(s.peer.rfind(address.find(':') == std::string::npos ? address + ":" : "[" + address + "]:",
                     0) == 0);
  CHECK(s.commands == Lines{"EHLO client.test", "STARTTLS"});
  CHECK(s.tls_commands == Lines{"EHLO client.test", "MAIL FROM:<a@client.test>", "QUIT"});
  CHECK_FALSE(s.pre_greet_talk);
  CHECK(s.starttls_accepted);
  CHECK(s.bytes_after_starttls == 0);
  CHECK(s.tls_established);
  CHECK(s.tls_error.empty());
  CHECK(s.sni == std::optional<std::string>("mx.test"));
  CHECK(s.tls_version == client_version);
  CHECK_FALSE(s.tls_cipher.empty());
  CHECK(s.quit);
  CHECK(s.finished);
  CHECK(server.connection_count() == 1);
}

TEST_CASE("fixture: defaults are a healthy Postfix-like server", "[fixture]") {
  SmtpFixtureServer server;
  CHECK(server.port() != 0);
  TestClient client("127.0.0.1", server.port());
  CHECK(client.ReadReply() == Lines{"220 mx.test ESMTP fixture"});
  CHECK(client.Command("EHLO client.test") == kDefaultEhlo);
  CHECK(client.Command("NOOP") == Lines{"250 2.0.0 Ok"});
  CHECK(client.Command("VRFY x") == Lines{"502 5.5.2 Error: command not recognized"});
  CHECK(client.Command("QUIT") == Lines{"221 2.0.0 Bye"});
  SessionRecord s = OnlySession(server);
  CHECK(s.commands == Lines{"EHLO client.test", "NOOP", "VRFY x", "QUIT"});
  CHECK(s.quit);
  CHECK_FALSE(s.pre_greet_talk);
  CHECK_FALSE(s.tls_established);
}

TEST_CASE("fixture: greeting and EHLO lines arrive as configured", "[fixture]") {
  struct Case {
    std::string name;
    SmtpFixtureOptions options;
    Lines greeting;
    Lines ehlo;
  };
  const std::vector<Case> cases = {
      {"multi-line greeting",
       {.greeting_lines = {"220-mx.test ESMTP", "220-more text", "220 mx.test ready"}},
       {"220-mx.test ESMTP", "220-more text", "220 mx.test ready"},
       kDefaultEhlo},
      {"STARTTLS not offered",
       {.offer_starttls = false},
       {"220 mx.test ESMTP fixture"},
       {"250-mx.test", "250-PIPELINING", "250-SIZE 10240000", "250 8BITMIME"}},
      {"STARTTLS on the last line",
       {.starttls_last = true},
       {"220 mx.test ESMTP fixture"},
       {"250-mx.test", "250-PIPELINING", "250-SIZE 10240000", "250-8BITMIME", "250 STARTTLS"}},
      {"raw EHLO reply",
       {.ehlo_raw = "250-mx.test\r\n250 STARTTLS\r\n"},
       {"220 mx.test ESMTP fixture"},
       {"250-mx.test", "250 STARTTLS"}},
      {"raw 554 greeting rejects commands",
       {.greeting_raw = "554 5.7.1 access denied\r\n"},
       {"554 5.7.1 access denied"},
       {"554 5.7.1 Error: access denied"}},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    SmtpFixtureServer server(c.options);
    TestClient client("127.0.0.1", server.port());
    CHECK(client.ReadReply() == c.greeting);
    CHECK(client.Command("EHLO client.test") == c.ehlo);
    CHECK(client.Command("QUIT") == Lines{"221 2.0.0 Bye"});
  }
}

TEST_CASE("fixture: 421 greeting closes the connection", "[fixture]") {
  SmtpFixtureServer server({.greeting_raw = "421 4.3.2 try again later\r\n"});
  TestClient client("127.0.0.1", server.port());
  CHECK(client.ReadReply() == Lines{"421 4.3.2 try again later"});
  CHECK(client.ReadReply().empty());  // EOF
}

TEST_CASE("fixture: STARTTLS and handshake over 127.0.0.1", "[fixture]") {
  CheckFullSession("127.0.0.1");
}

TEST_CASE("fixture: STARTTLS and handshake over ::1", "[fixture]") {
  if (!Ipv6LoopbackAvailable()) {
    WARN("no IPv6 loopback on this machine: skipped");
    return;
  }
  CheckFullSession("::1");
}

TEST_CASE("fixture: SNI selects the certificate, no SNI gets the default", "[fixture]") {
  TestPki pki;
  TestCert fallback = pki.Leaf({"default.test"});
  TestCert mx1 = pki.Leaf({"mx1.test"});
  TestCert mx2 = pki.Leaf({"mx2.test", "alt.test"});
  SmtpFixtureOptions options;
  // The default entry is deliberately not the first one.
  options.certs = {CertEntry::FromCerts({"mx1.test"}, mx1, {&pki.intermediate()}),
                   CertEntry::FromCerts({}, fallback),
                   CertEntry::FromCerts({"mx2.test", "ALT.test"}, mx2)};
  SmtpFixtureServer server(options);

  struct Case {
    std::optional<std::string> sni;
    const TestCert* expected;
  };
  const std::vector<Case> cases = {
      {"mx1.test", &mx1}, {"MX1.Test", &mx1},        {"alt.test", &mx2},
      {"mx2.test", &mx2}, {"other.test", &fallback}, {std::nullopt, &fallback},
  };
  for (const Case& c : cases) {
    INFO("sni " << c.sni.value_or("(none)"));
    TestClient client("127.0.0.1", server.port());
    UpToStartTls(client);
    REQUIRE(client.StartTls(c.sni));
    X509* peer = SSL_get0_peer_certificate(client.ssl());
    INFO("got " << Subject(peer) << ", want " << Subject(c.expected->get()));
    CHECK(X509_cmp(peer, c.expected->get()) == 0);
  }
  REQUIRE(server.WaitForSessions(cases.size(), 3s));
  std::vector<SessionRecord> sessions = server.sessions();
  REQUIRE(sessions.size() == cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    CHECK(sessions[i].sni == cases[i].sni);
    CHECK(sessions[i].tls_established);
  }
}

TEST_CASE("fixture: the configured chain is what the client receives", "[fixture]") {
  TestPki pki;
  TestCert leaf = pki.Leaf({"mx.test"});
  const TestCert& inter = pki.intermediate();
  const TestCert& root = pki.root();
  struct Case {
    std::string name;
    CertEntry entry;
    std::vector<const TestCert*> expected;
  };
  const std::vector<Case> cases = {
      {"leaf only", CertEntry::FromCerts({}, leaf), {&leaf}},
      {"leaf + intermediate", CertEntry::FromCerts({}, leaf, {&inter}), {&leaf, &inter}},
      {"root included", CertEntry::FromCerts({}, leaf, {&inter, &root}), {&leaf, &inter, &root}},
      {"misordered", CertEntry::FromCerts({}, leaf, {&root, &inter}), {&leaf, &root, &inter}},
      {"PEM with the leaf not first",
       {.chain_pem = inter.CertPem() + leaf.CertPem(), .key_pem = leaf.KeyPem()},
       {&leaf, &inter}},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    SmtpFixtureOptions options;
    options.certs = {c.entry};
    SmtpFixtureServer server(options);
    TestClient client("127.0.0.1", server.port());
    UpToStartTls(client);
    REQUIRE(client.StartTls("mx.test"));
    STACK_OF(X509)* chain = SSL_get_peer_cert_chain(client.ssl());
    REQUIRE(chain != nullptr);
    REQUIRE(sk_X509_num(chain) == static_cast<int>(c.expected.size()));
    for (size_t i = 0; i < c.expected.size(); ++i) {
      X509* got = sk_X509_value(chain, static_cast<int>(i));
      INFO("position " << i << ": got " << Subject(got));
      CHECK(X509_cmp(got, c.expected[i]->get()) == 0);
    }
  }
}

TEST_CASE("fixture: injected bytes arrive right after the 220", "[fixture]") {
  const std::string injected = "250-injected\r\n250 reply\r\n";
  SmtpFixtureServer server({.inject_after_starttls = injected});
  TestClient client("127.0.0.1", server.port());
  client.ReadReply();
  client.Command("EHLO client.test");
  CHECK(client.Command("STARTTLS") == Lines{"220 2.0.0 Ready to start TLS"});
  CHECK(client.ReadFor(1s, injected.size()) == injected);
}

TEST_CASE("fixture: client-side pipelining after STARTTLS is recorded", "[fixture]") {
  SmtpFixtureServer server;
  TestClient client("127.0.0.1", server.port());
  client.ReadReply();
  client.Command("EHLO client.test");
  client.SendRaw("STARTTLS\r\nRSET\r\n");
  CHECK(client.ReadReply() == Lines{"220 2.0.0 Ready to start TLS"});
  client.Close();
  SessionRecord s = OnlySession(server);
  CHECK(s.commands == Lines{"EHLO client.test", "STARTTLS"});
  CHECK(s.bytes_after_starttls == 6);
}

TEST_CASE("fixture: never_greet stays silent until the client leaves", "[fixture]") {
  auto server = std::make_unique<SmtpFixtureServer>(SmtpFixtureOptions{.never_greet = true});
  TestClient client("127.0.0.1", server->port());
  auto start = SteadyClock::now();
  CHECK(client.ReadFor(300ms).empty());
  CHECK(SteadyClock::now() - start >= 300ms);
  client.Send("EHLO impatient.test");
  CHECK(client.ReadFor(100ms).empty());

  SECTION("the client leaves: pre-greet talk is recorded") {
    client.Close();
    SessionRecord s = OnlySession(*server);
    CHECK(s.pre_greet_talk);
    CHECK(s.commands.empty());
  }
  SECTION("the server stops under a connected client without waiting for it") {
    auto stop = SteadyClock::now();
    server.reset();
    CHECK(SteadyClock::now() - stop < 1s);
  }
}

TEST_CASE("fixture: talking before the greeting ends is recorded", "[fixture]") {
  SmtpFixtureServer server(
      {.greeting_lines = {"220-mx.test ESMTP", "220 mx.test ready"}, .greeting_delay = 300ms});
  TestClient client("127.0.0.1", server.port());
  client.Send("EHLO early.test");  // before reading the greeting
  CHECK(client.ReadReply() == Lines{"220-mx.test ESMTP", "220 mx.test ready"});
  CHECK(client.ReadReply() == kDefaultEhlo);  // the early command is still answered
  CHECK(client.Command("QUIT") == Lines{"221 2.0.0 Bye"});
  SessionRecord s = OnlySession(server);
  CHECK(s.pre_greet_talk);
  CHECK(s.commands == Lines{"EHLO early.test", "QUIT"});
}

TEST_CASE("fixture: TLS version range", "[fixture]") {
  SECTION("TLS 1.3 only refuses a client capped at TLS 1.2") {
    SmtpFixtureServer server({.tls_min_version = TLS1_3_VERSION});
    {
      TestClient client("127.0.0.1", server.port());
      UpToStartTls(client);
      CHECK_FALSE(client.StartTls("mx.test", TLS1_2_VERSION));
      INFO(client.handshake_error());
    }
    {
      TestClient client("127.0.0.1", server.port());
      UpToStartTls(client);
      REQUIRE(client.StartTls("mx.test"));
      CHECK(std::string(SSL_get_version(client.ssl())) == "TLSv1.3");
    }
    REQUIRE(server.WaitForSessions(2, 3s));
    std::vector<SessionRecord> sessions = server.sessions();
    CHECK_FALSE(sessions[0].tls_established);
    CHECK_FALSE(sessions[0].tls_error.empty());
    CHECK(sessions[1].tls_established);
    CHECK(sessions[1].tls_version == "TLSv1.3");
  }
  SECTION("a legacy TLS 1.0/1.1-only server still handshakes") {
    SmtpFixtureServer server({.tls_min_version = TLS1_VERSION, .tls_max_version = TLS1_1_VERSION});
    TestClient client("127.0.0.1", server.port());
    UpToStartTls(client);
    INFO(client.handshake_error());
    REQUIRE(client.StartTls("mx.test"));
    CHECK(std::string(SSL_get_version(client.ssl())) == "TLSv1.1");
  }
}

TEST_CASE("fixture: STARTTLS failure modes", "[fixture]") {
  SECTION("454 keeps the session in plain text") {
    SmtpFixtureServer server({.starttls_reply = "454 4.7.0 TLS not available"});
    TestClient client("127.0.0.1", server.port());
    client.ReadReply();
    client.Command("EHLO client.test");
    CHECK(client.Command("STARTTLS") == Lines{"454 4.7.0 TLS not available"});
    CHECK(client.Command("EHLO client.test") == kDefaultEhlo);
    CHECK(client.Command("QUIT") == Lines{"221 2.0.0 Bye"});
    SessionRecord s = OnlySession(server);
    CHECK_FALSE(s.starttls_accepted);
    CHECK(s.quit);
  }
  SECTION("STARTTLS not offered gets 502") {
    SmtpFixtureServer server({.offer_starttls = false});
    TestClient client("127.0.0.1", server.port());
    client.ReadReply();
    client.Command("EHLO client.test");
    CHECK(client.Command("STARTTLS") == Lines{"502 5.5.1 Error: command not implemented"});
  }
  SECTION("garbage instead of a ServerHello") {
    const std::string garbage = "HTTP/1.1 400 Bad Request\r\n\r\n";
    SmtpFixtureServer server({.garbage_instead_of_tls = garbage});
    TestClient client("127.0.0.1", server.port());
    UpToStartTls(client);
    client.SendRaw("\x16\x03\x01 not really a ClientHello");
    CHECK(client.ReadFor(1s, garbage.size()) == garbage);
    CHECK(client.ReadFor(1s).empty());  // then EOF
    SessionRecord s = OnlySession(server);
    CHECK(s.starttls_accepted);
    CHECK_FALSE(s.tls_established);
  }
  SECTION("the handshake hangs") {
    SmtpFixtureServer server({.handshake_hang = true});
    TestClient client("127.0.0.1", server.port(), 300ms);
    UpToStartTls(client);
    auto start = SteadyClock::now();
    CHECK_FALSE(client.StartTls("mx.test"));
    CHECK(SteadyClock::now() - start < 2s);
  }
}

TEST_CASE("fixture: a client may leave at any point", "[fixture]") {
  SmtpFixtureServer server({.greeting_delay = 50ms});
  int steps = 0;
  for (int stop_after = 0; stop_after < 6; ++stop_after) {
    for (bool reset : {false, true}) {
      INFO("stop after " << stop_after << (reset ? " with RST" : " with FIN"));
      TestClient client("127.0.0.1", server.port());
      ++steps;
      if (stop_after >= 1) client.ReadReply();
      if (stop_after >= 2) client.Send("EHLO client.test");
      if (stop_after >= 3) client.ReadReply();
      if (stop_after >= 4) client.Command("STARTTLS");
      if (stop_after >= 5) client.SendRaw(std::string("\x16\x03\x01\x02\x00\x01", 6));
      client.Close(reset);
    }
  }
  SECTION("the server still serves the next client") {
    TestClient client("127.0.0.1", server.port());
    UpToStartTls(client);
    REQUIRE(client.StartTls("mx.test"));
    CHECK(client.Command("QUIT") == Lines{"221 2.0.0 Bye"});
    CHECK(server.WaitForSessions(steps + 1, 3s));
    CHECK(server.connection_count() == static_cast<size_t>(steps + 1));
  }
  SECTION("an over-long line ends the session with 500") {
    TestClient client("127.0.0.1", server.port());
    client.ReadReply();
    client.SendRaw(std::string(100 * 1024, 'A'));
    CHECK(client.ReadReply() == Lines{"500 5.5.0 Error: line too long"});
  }
}

TEST_CASE("fixture: RawTcpFixture runs the scripted exchange per connection", "[fixture]") {
  RawTcpFixture fixture("127.0.0.1", 0, [&](int fd) {
    // Dribble the greeting out a byte at a time, then echo one line back.
    for (char c : std::string("220 slow\r\n")) {
      if (!SendAll(fd, std::string(1, c)) || !fixture.SleepUnlessStopping(5ms)) return;
    }
    char buf[256];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n > 0) SendAll(fd, std::string(buf, static_cast<size_t>(n)));
  });
  for (int i = 0; i < 2; ++i) {
    TestClient client("127.0.0.1", fixture.port());
    CHECK(client.ReadReply() == Lines{"220 slow"});
    CHECK(client.Command("echo me") == Lines{"echo me"});
  }
  CHECK(fixture.WaitForFinished(2, 3s));
  CHECK(fixture.connection_count() == 2);
}

}  // namespace
}  // namespace mxtls::testing
