// The one SMTP/STARTTLS session behind every session of an endpoint probe, against real
// fixture servers on loopback: the greeting host, and that a server sending non-TLS bytes
// after the STARTTLS 220 gets the same facts however TCP segments them.
#include "probes/smtp_tls_session.h"

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "probes/tls_client_context.h"
#include "tests/support/probe_client_context.h"
#include "tests/support/smtp_fixture_server.h"

namespace mxtls::testing {
namespace {

using namespace std::chrono_literals;

EndpointSpec SpecFor(const std::string& address, uint16_t port) {
  EndpointSpec spec;
  spec.mx = "mx.test";
  spec.address = address;
  spec.family = "ipv4";
  spec.port = port;
  spec.sni = "mx.test";
  spec.ehlo_name = "probe.test";
  spec.deadline = std::chrono::steady_clock::now() + 5s;
  return spec;
}

// Runs one main-style session (EHLO over TLS, QUIT) on a fresh io_context.
SessionOutcome RunSession(const std::string& address, uint16_t port) {
  SessionOptions options;
  options.ctx = SharedProbeSslContext();
  asio::io_context io;
  auto future = asio::co_spawn(
      io, RunSmtpTlsSession(SpecFor(address, port), options, std::make_shared<ProbeLog>()),
      asio::use_future);
  io.run();
  return future.get();
}

SessionOutcome RunSession(const SmtpFixtureServer& server) {
  return RunSession(server.address(), server.port());
}

// The facts a report and its metrics are built from.
auto Facts(const SessionOutcome& o) {
  const EndpointReport& r = o.facts;
  return std::make_tuple(r.failure_stage, r.failure_reason, r.handshake_ok, r.verdict_reached,
                         r.starttls_offered);
}

// Regression: the report used to wait for the 221 reply to QUIT (a full round trip, or as long
// as a slow server holds it back). The session now reports right after the EHLO over TLS and
// leaves QUIT, close_notify and the rest of the goodbye to run on their own.
TEST_CASE("a session reports without waiting for the 221 to QUIT", "[smtp_tls_session]") {
  SmtpFixtureOptions slow_goodbye;
  slow_goodbye.quit_reply_delay = 2s;
  SmtpFixtureServer server(slow_goodbye);
  SessionOptions options;
  options.ctx = SharedProbeSslContext();
  asio::io_context io;
  const auto start = std::chrono::steady_clock::now();
  std::optional<SessionOutcome> outcome;
  std::chrono::steady_clock::duration took{};
  asio::co_spawn(io, RunSmtpTlsSession(SpecFor(server.address(), server.port()), options,
                                       std::make_shared<ProbeLog>()),
                 [&](std::exception_ptr e, SessionOutcome o) {
                   REQUIRE_FALSE(e);
                   took = std::chrono::steady_clock::now() - start;
                   outcome = std::move(o);
                 });
  io.run();  // returns when the detached goodbye has ended too: the socket is not leaked
  REQUIRE(outcome);
  INFO(outcome->facts.failure_reason << " " << outcome->facts.failure_message);
  CHECK(outcome->facts.handshake_ok == std::optional<bool>(true));
  CHECK(outcome->facts.failure_reason.empty());
  CHECK(took < 1s);
  // Its own short timer ended the goodbye: run() did not wait for the 2 s either.
  CHECK(std::chrono::steady_clock::now() - start < 1900ms);

  REQUIRE(server.WaitForSessions(1, 5s));
  const SessionRecord record = server.sessions().front();
  CHECK(record.tls_commands == std::vector<std::string>{"EHLO probe.test", "QUIT"});
  CHECK(record.quit_received);
  CHECK(record.close_notify_received);
}

TEST_CASE("a session still says goodbye: QUIT, 221, close_notify", "[smtp_tls_session]") {
  SmtpFixtureServer server;
  SessionOutcome o = RunSession(server);
  CHECK(o.facts.handshake_ok == std::optional<bool>(true));
  REQUIRE(server.WaitForSessions(1, 3s));
  const SessionRecord record = server.sessions().front();
  CHECK(record.quit);
  CHECK(record.close_notify_received);
}

// Postfix logs a session that ends after STARTTLS without QUIT as "lost connection after
// STARTTLS", which fail2ban's postfix filter counts in its ddos and aggressive modes: the short
// sessions (TLS versions, key types) say QUIT too, without EHLO, with close_notify.
TEST_CASE("a short session says QUIT over TLS and close_notify, without EHLO",
          "[smtp_tls_session]") {
  SmtpFixtureServer server;
  SessionOptions options;
  options.ctx = SharedProbeSslContext();
  options.smtp_after_tls = false;
  asio::io_context io;
  auto future = asio::co_spawn(
      io,
      RunSmtpTlsSession(SpecFor(server.address(), server.port()), options,
                        std::make_shared<ProbeLog>()),
      asio::use_future);
  io.run();
  SessionOutcome o = future.get();
  CHECK(o.facts.handshake_ok == std::optional<bool>(true));
  REQUIRE(server.WaitForSessions(1, 3s));
  const SessionRecord record = server.sessions().front();
  CHECK(record.tls_commands == std::vector<std::string>{"QUIT"});
  CHECK(record.quit_received);
  CHECK(record.close_notify_received);
}

TEST_CASE("a healthy session", "[smtp_tls_session]") {
  SmtpFixtureServer server;
  SessionOutcome o = RunSession(server);
  INFO(o.facts.failure_stage << " " << o.facts.failure_reason << " " << o.facts.failure_message);
  CHECK(o.connect_attempted);
  CHECK_FALSE(o.client_unsupported);
  CHECK(o.facts.handshake_ok == std::optional<bool>(true));
  CHECK(o.facts.failure_reason.empty());
  CHECK(o.facts.verdict_reached);
  REQUIRE(o.facts.chain);
  CHECK(o.facts.chain->size() == 1);
  CHECK_FALSE(o.facts.cert.has_value());  // judging is the caller's
  CHECK(o.facts.greeting_host == "mx.test");
  REQUIRE(server.WaitForSessions(1, 3s));
  CHECK(server.sessions().front().tls_commands ==
        std::vector<std::string>{"EHLO probe.test", "QUIT"});
}

TEST_CASE("the greeting host is the first word of the first greeting line", "[smtp_tls_session]") {
  SmtpFixtureOptions o;
  o.greeting_lines = {"220-relay7.example.net ESMTP ready", "220-mx.other.example says hi",
                      "220 last line"};
  SmtpFixtureServer server(o);
  CHECK(RunSession(server).facts.greeting_host == "relay7.example.net");
}

TEST_CASE("no greeting host without a 220 greeting", "[smtp_tls_session]") {
  SmtpFixtureOptions o;
  o.greeting_raw = "554 5.7.1 blocked.example.net go away\r\n";
  SmtpFixtureServer server(o);
  SessionOutcome out = RunSession(server);
  CHECK(out.facts.failure_reason == "greeting_554");
  CHECK(out.facts.greeting_host.empty());
}

// Regression: the same server used to be reported either as starttls/starttls_injection with
// no handshake_ok (the injected bytes came in the 220's segment) or as a handshake failure
// (they came in a later one), so the handshake-success series came and went.
TEST_CASE("non-TLS bytes after the STARTTLS 220 give the same facts whatever the segmentation",
          "[smtp_tls_session][determinism]") {
  const auto expected = std::make_tuple(std::string("starttls"), std::string("starttls_injection"),
                                        std::optional<bool>(false), true, std::optional<bool>(true));

  SmtpFixtureOptions same_write;
  same_write.inject_after_starttls = "250-injected\r\n";
  SmtpFixtureOptions second_write = same_write;
  second_write.inject_delay = 150ms;  // the ClientHello is on its way by then
  SmtpFixtureOptions answer_to_hello;
  answer_to_hello.garbage_instead_of_tls = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";

  for (int round = 0; round < 3; ++round) {
    for (const SmtpFixtureOptions* options : {&same_write, &second_write, &answer_to_hello}) {
      SmtpFixtureServer server(*options);
      SessionOutcome o = RunSession(server);
      INFO("round " << round << ", delay " << options->inject_delay.count()
                    << " ms, garbage: " << !options->garbage_instead_of_tls.empty() << ": "
                    << o.facts.failure_message);
      CHECK(Facts(o) == expected);
      CHECK(o.facts.chain == nullptr);
    }
  }
}

TEST_CASE("a TLS record that breaks later is a handshake failure, not injection",
          "[smtp_tls_session][determinism]") {
  // A scripted server: SMTP up to the STARTTLS 220, then, in answer to the ClientHello, a
  // handshake record header followed by bytes that are no ServerHello.
  RawTcpFixture server("127.0.0.1", 0, [](int fd) {
    char buf[4096];
    auto read_some = [&] { return recv(fd, buf, sizeof(buf), 0) > 0; };
    if (!SendAll(fd, "220 mx.test ESMTP\r\n") || !read_some()) return;
    if (!SendAll(fd, "250-mx.test\r\n250 STARTTLS\r\n") || !read_some()) return;
    if (!SendAll(fd, "220 2.0.0 go ahead\r\n") || !read_some()) return;
    SendAll(fd, std::string("\x16\x03\x03\x00\x08", 5) + "notahelo");
  });
  SessionOutcome o = RunSession(server.address(), server.port());
  INFO(o.facts.failure_message);
  CHECK(o.facts.failure_stage == "handshake");
  CHECK(o.facts.failure_reason == "handshake");
  CHECK(o.facts.handshake_ok == std::optional<bool>(false));
  CHECK(o.facts.verdict_reached);
}

}  // namespace
}  // namespace mxtls::testing
