#include "probes/endpoint_probe.h"

#include <openssl/err.h>

#include <asio/ip/tcp.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/this_coro.hpp>
#include <asio/write.hpp>

#include "probes/judgement/certificate_report.h"
#include "probes/judgement/smtp_reply.h"
#include "probes/socket_watchdog.h"
#include "probes/tls_client_context.h"

namespace mxtls {
namespace {

using SteadyTime = SocketWatchdog::SteadyTime;
// QUIT is a courtesy: never let it hold a finished probe for long.
constexpr std::chrono::milliseconds kQuitLimit{1000};

struct ReplyRead {
  bool ok = false;
  SmtpReply reply;
  size_t consumed = 0;
  std::string reason;
  std::string message;
};

ReplyRead Failed(const Status& status) {
  ReplyRead r;
  r.reason = status.reason();
  r.message = status.message();
  return r;
}

// Reads until one complete reply is at the front of `buffer`. The buffer is not consumed:
// the caller erases `consumed` bytes, so that leftovers stay visible (STARTTLS injection).
template <typename Stream>
asio::awaitable<ReplyRead> ReadReply(Stream& stream, std::string& buffer, const SocketWatchdog& s) {
  for (;;) {
    ParseOutcome out = ParseReply(buffer);
    if (out.state == ParseState::kComplete) {
      ReplyRead r;
      r.ok = true;
      r.reply = std::move(out.reply);
      r.consumed = out.consumed;
      co_return r;
    }
    if (out.state == ParseState::kError) co_return Failed(out.error);
    // ParseReply rescans the buffer from its start on every call. A server that trickles
    // its reply one byte per segment would make that quadratic, so read on without parsing
    // until a line ends or the unfinished line could break the line-length limit; the
    // verdict is the same, since ParseReply's reasons do not depend on segmentation.
    const size_t parse_limit = ReplyLimits().max_line_length + 2;
    size_t unparsed = 0;
    for (;;) {
      char chunk[4096];
      auto [ec, n] = co_await stream.async_read_some(asio::buffer(chunk), kNoThrow);
      if (ec) co_return Failed(IoFailure(ec, s));
      buffer.append(chunk, n);
      unparsed += n;
      if (std::string_view(chunk, n).find('\n') != std::string_view::npos) break;
      if (unparsed > parse_limit) break;
    }
  }
}

template <typename Stream>
asio::awaitable<ReplyRead> Command(Stream& stream, std::string_view command, std::string& buffer,
                                   const SocketWatchdog& s) {
  auto [ec, n] = co_await asio::async_write(stream, asio::buffer(command.data(), command.size()),
                                            kNoThrow);
  if (ec) co_return Failed(IoFailure(ec, s));
  co_return co_await ReadReply(stream, buffer, s);
}

// A courtesy QUIT; its outcome does not matter. (A template function rather than a
// capturing lambda: lambda coroutines lose their captures, and GCC 12 has bugs there.)
template <typename Stream>
asio::awaitable<void> Quit(Stream& stream, std::string& buffer, SocketWatchdog& s,
                           SteadyTime deadline) {
  s.StartPhase("quit", kQuitLimit, deadline);
  buffer.clear();
  co_await Command(stream, kQuitCommand, buffer, s);
}

}  // namespace

asio::awaitable<EndpointReport> ProbeSmtpEndpoint(EndpointSpec spec, EndpointEnv env) {
  EndpointReport r;
  r.mx = spec.mx;
  r.address = spec.address;
  r.family = spec.family;
  const std::string who = spec.mx + " [" + spec.address + "]:" + std::to_string(spec.port);
  auto log = [&](const std::string& line) { env.log->Add(who + ": " + line); };
  auto fail = [&](const std::string& stage, const std::string& reason, const std::string& msg) {
    r.failure_stage = stage;
    r.failure_reason = reason;
    r.failure_message = msg;
    log(stage + " failed: " + reason + ": " + msg);
  };

  auto executor = co_await asio::this_coro::executor;
  auto s = std::make_shared<SocketWatchdog>(executor, "answer", "probe deadline");
  std::string buffer;

  asio::error_code addr_ec;
  asio::ip::address address = asio::ip::make_address(spec.address, addr_ec);
  if (addr_ec) {
    fail("connect", "bad_address", "not an IP address: " + spec.address);
    co_return r;
  }

  // Connect.
  s->StartPhase("connect", spec.timeouts.connect, spec.deadline);
  // Connect turns on TCP_NODELAY: otherwise the EHLO after the handshake waits for the
  // server's delayed ACK.
  Status connected = co_await s->Connect(asio::ip::tcp::endpoint(address, spec.port));
  r.phase_seconds.emplace_back("connect", s->PhaseSeconds());
  if (!connected.ok()) {
    fail("connect", connected.reason(), connected.message());
    s->Finish();
    co_return r;
  }
  r.connected = true;
  log("connected");

  // Greeting: wait for the final "220 " line; speaking early gets a client dropped by
  // postscreen-style pre-greet checks.
  s->StartPhase("greeting", spec.timeouts.greeting, spec.deadline);
  ReplyRead greeting = co_await ReadReply(s->socket(), buffer, *s);
  r.phase_seconds.emplace_back("greeting", s->PhaseSeconds());
  if (!greeting.ok) {
    fail("greeting", greeting.reason, greeting.message);
    s->Finish();
    co_return r;
  }
  buffer.erase(0, greeting.consumed);
  Status greeting_status = CheckGreeting(greeting.reply);
  if (!greeting_status.ok()) {
    fail("greeting", greeting_status.reason(), greeting_status.message());
    s->Finish();
    co_return r;
  }
  r.greeted = true;
  log("greeting: " + SanitizeServerText(greeting.reply.Text(), 200));

  // EHLO.
  s->StartPhase("ehlo", spec.timeouts.ehlo, spec.deadline);
  ReplyRead ehlo = co_await Command(s->socket(), EhloCommand(spec.ehlo_name), buffer, *s);
  r.phase_seconds.emplace_back("ehlo", s->PhaseSeconds());
  if (!ehlo.ok) {
    fail("ehlo", ehlo.reason, ehlo.message);
    s->Finish();
    co_return r;
  }
  buffer.erase(0, ehlo.consumed);
  Result<EhloCapabilities> caps = ParseEhloReply(ehlo.reply);
  if (!caps.ok()) {
    fail("ehlo", caps.status().reason(), caps.status().message());
    s->Finish();
    co_return r;
  }
  r.starttls_offered = caps->starttls;

  if (!caps->starttls) {
    // A definitive answer: this endpoint cannot be reached over TLS.
    r.verdict_reached = true;
    fail("starttls", "no_starttls", "STARTTLS is not offered in the EHLO reply");
    co_await Quit(s->socket(), buffer, *s, spec.deadline);
    s->Finish();
    co_return r;
  }

  // STARTTLS.
  s->StartPhase("starttls", spec.timeouts.starttls, spec.deadline);
  ReplyRead starttls = co_await Command(s->socket(), kStarttlsCommand, buffer, *s);
  r.phase_seconds.emplace_back("starttls", s->PhaseSeconds());
  if (!starttls.ok) {
    fail("starttls", starttls.reason, starttls.message);
    s->Finish();
    co_return r;
  }
  Status starttls_status = CheckStarttlsReply(starttls.reply);
  if (!starttls_status.ok()) {
    r.verdict_reached = true;
    fail("starttls", starttls_status.reason(), starttls_status.message());
    buffer.erase(0, starttls.consumed);
    co_await Quit(s->socket(), buffer, *s, spec.deadline);
    s->Finish();
    co_return r;
  }
  Status injection = CheckNothingAfterStarttlsReply(buffer, starttls.consumed);
  if (!injection.ok()) {
    // A strict client must not read plaintext bytes as if they came over TLS: abort.
    r.verdict_reached = true;
    fail("starttls", injection.reason(), injection.message());
    s->Finish();
    co_return r;
  }
  buffer.clear();

  // TLS handshake. The chain is captured during the handshake and judged afterwards, so a
  // bad certificate never fails the handshake and a failing handshake keeps what was seen.
  s->StartPhase("handshake", spec.timeouts.handshake, spec.deadline);
  asio::ssl::stream<asio::ip::tcp::socket&> tls(s->socket(), *env.tls);
  ChainCapture capture;
  AttachChainCapture(tls.native_handle(), &capture);
  if (!spec.sni.empty()) SSL_set_tlsext_host_name(tls.native_handle(), spec.sni.c_str());
  auto [handshake_ec] = co_await tls.async_handshake(asio::ssl::stream_base::client, kNoThrow);
  r.phase_seconds.emplace_back("handshake", s->PhaseSeconds());
  r.handshake_ok = !handshake_ec;
  if (!capture.presented.empty()) {
    auto captured = std::make_shared<std::vector<X509Ptr>>(std::move(capture.presented));
    capture.presented.clear();
    std::vector<X509*> chain;
    for (const auto& c : *captured) chain.push_back(c.get());
    r.cert = JudgeCertificate(chain, env.trust, spec.mx, env.clock->Now());
    r.chain = std::move(captured);
    log(std::string(spec.sni.empty() ? "certificate without SNI: " : "certificate: ") +
        r.cert->leaf().subject + " (" + r.cert->chain.reason + ", " +
        std::to_string(chain.size()) + " presented)");
  }
  if (handshake_ec) {
    // A handshake the server broke is a verdict (TLS does not work there); one that ran out
    // of time is not.
    r.verdict_reached = !s->timed_out();
    Status failure = HandshakeFailure(handshake_ec, *s);
    ERR_clear_error();
    fail("handshake", failure.reason(), failure.message());
    s->Finish();
    co_return r;
  }
  SSL* ssl = tls.native_handle();
  r.tls_version = SSL_get_version(ssl);
  r.tls_cipher = SSL_get_cipher_name(ssl);
  r.verdict_reached = r.cert.has_value();
  if (!r.cert) fail("handshake", "no_certificate", "the server presented no certificate");
  log("TLS established: " + r.tls_version + " " + r.tls_cipher);

  // EHLO again over TLS, as a sending MTA does, then QUIT. Failures here are logged but do
  // not change the verdict: the certificate has been seen.
  s->StartPhase("ehlo", spec.timeouts.ehlo, spec.deadline);
  ReplyRead ehlo_tls = co_await Command(tls, EhloCommand(spec.ehlo_name), buffer, *s);
  if (ehlo_tls.ok) {
    buffer.erase(0, ehlo_tls.consumed);
    log("EHLO over TLS: " + std::to_string(ehlo_tls.reply.code));
    co_await Quit(tls, buffer, *s, spec.deadline);
  } else {
    log("EHLO over TLS failed: " + ehlo_tls.reason + ": " + ehlo_tls.message);
  }
  ERR_clear_error();
  s->Finish();
  co_return r;
}

}  // namespace mxtls
