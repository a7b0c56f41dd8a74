#include "probes/smtp_tls_session.h"

#include "probes/session_limiter.h"

#include <openssl/err.h>

#include <optional>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl/error.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/this_coro.hpp>
#include <asio/write.hpp>

#include "probes/chain_interner.h"
#include "probes/first_bytes_socket.h"
#include "probes/judgement/greeting_host.h"
#include "probes/judgement/smtp_reply.h"
#include "probes/judgement/tls_record_header.h"
#include "probes/socket_watchdog.h"
#include "probes/tls_client_context.h"

namespace mxtls {
namespace {

using SteadyTime = SocketWatchdog::SteadyTime;
// QUIT and close_notify are courtesies: never let them hold a finished probe for long.
constexpr std::chrono::milliseconds kQuitLimit{1000};
// What the handshake keeps of the server's first bytes: enough to judge a record header and
// to quote what a non-TLS server said.
constexpr size_t kFirstBytesKept = 64;

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

// Everything one session's connection is made of. The probe and the courtesy tail it leaves
// behind (EndPolitely) share it, so that the socket, the SSL and the buffers they read into
// stay alive until the last of the two is done with them.
struct Connection {
  explicit Connection(const asio::any_io_executor& executor)
      : watchdog(std::make_shared<SocketWatchdog>(executor, "answer", "probe deadline")) {}

  // Puts the TLS stream over the socket, taking `ssl`: at STARTTLS, not before. The stream's
  // buffers (two 17 KiB vectors and a 34 KiB BIO pair) would otherwise be held through the
  // connect, greeting, EHLO and STARTTLS round trips, which is most of a session; with a
  // thousand sessions in flight that was about a third of the exporter's peak memory.
  asio::ssl::stream<FirstBytesSocket>& StartTls(SslPtr ssl) {
    return tls.emplace(FirstBytesSocket(watchdog->socket(), &first_bytes, kFirstBytesKept),
                       ssl.release());  // owned by the stream from here
  }

  // The session's place under the engine's limits: released when the connection goes, which
  // is after the detached goodbye (a server sees the connection until it is closed).
  SessionLimiter::Slot slot;
  // Declared before the stream, which borrows the socket and `first_bytes`.
  std::shared_ptr<SocketWatchdog> watchdog;
  std::string buffer;
  std::string first_bytes;  // what the server sends once TLS has begun
  ChainCapture capture;
  // Present from StartTls on; it borrows the socket and `first_bytes`.
  std::optional<asio::ssl::stream<FirstBytesSocket>> tls;
};

// How a session that has its facts ends.
enum class Courtesy {
  kQuitPlain,  // QUIT in plain text, read the 221
  kQuitTls,    // QUIT over TLS, close_notify, read the 221 and the server's close_notify
};

// The courtesy part of a session: what servers expect of a polite client (fail2ban's postfix
// rules ban clients that vanish mid-dialogue), and nothing the report needs. It runs detached
// from the probe, bounded by its own short timer rather than the probe deadline; whatever the
// server does, the socket is closed when it ends. The QUIT and the close_notify go out at once;
// only the 221 and the server's close_notify are waited for.
asio::awaitable<void> EndPolitely(std::shared_ptr<Connection> c, Courtesy courtesy) {
  SocketWatchdog& s = *c->watchdog;
  s.StartPhase("quit", kQuitLimit, SteadyTime::max());
  c->buffer.clear();
  if (courtesy == Courtesy::kQuitPlain) {
    co_await Command(s.socket(), kQuitCommand, c->buffer, s);
  } else {
    bool quit_sent = true;
    if (courtesy == Courtesy::kQuitTls) {
      // QUIT is only encrypted here, into the stream's pending output (Asio's BIO pair, with
      // room for a whole record): async_shutdown then writes it together with close_notify,
      // one TCP segment and one send() instead of two, for us and for the server. No read is
      // outstanding on the stream at this point, so nothing else touches the SSL meanwhile.
      ERR_clear_error();
      const int size = static_cast<int>(kQuitCommand.size());
      quit_sent = SSL_write(c->tls->native_handle(), kQuitCommand.data(), size) == size;
    }
    // Sends (QUIT and) close_notify, then reads until the server's: the 221 arrives on the way
    // and is discarded by OpenSSL, since nothing more is sent after our close_notify.
    if (quit_sent) co_await c->tls->async_shutdown(kNoThrow);
    ERR_clear_error();
  }
  s.Finish();
}

// Leaves the courtesy part of the session to run on its own: the caller can report now.
void EndPolitelyDetached(const asio::any_io_executor& executor, std::shared_ptr<Connection> c,
                         Courtesy courtesy) {
  asio::co_spawn(executor, EndPolitely(std::move(c), courtesy), asio::detached);
}

// Applies the session's options to a fresh SSL from options.ctx and, when `check_offerable`,
// checks that something can still be offered, so that a version or key type our OpenSSL
// cannot do is known before a single byte goes out. OK, or reason "client_unsupported" (also
// for a list OpenSSL rejects: either way the session cannot be what was asked for).
Status PrepareSsl(SSL* ssl, const SessionOptions& options, const std::string& sni,
                  bool check_offerable) {
  if (!options.sigalgs.empty() && SSL_set1_sigalgs_list(ssl, options.sigalgs.c_str()) != 1) {
    return Status::Error("client_unsupported",
                         "signature algorithms \"" + options.sigalgs + "\": " +
                             DrainOpenSslErrors());
  }
  if (!options.cipher_list.empty() && SSL_set_cipher_list(ssl, options.cipher_list.c_str()) != 1) {
    return Status::Error("client_unsupported",
                         "cipher list \"" + options.cipher_list + "\": " + DrainOpenSslErrors());
  }
  // None left (for the version range, level, ciphers and signature algorithms): OpenSSL would
  // refuse to start the handshake.
  if (check_offerable && OfferableCipherCount(ssl) == 0) {
    return Status::Error("client_unsupported",
                         "this OpenSSL offers no cipher for the session's protocol versions");
  }
  if (!sni.empty()) SSL_set_tlsext_host_name(ssl, sni.c_str());
  ERR_clear_error();
  return Status();
}

// A handshake OpenSSL ended before sending anything because nothing could be offered.
bool IsClientSideRefusal(const asio::error_code& ec) {
  if (ec.category() != asio::error::get_ssl_category()) return false;
  int reason = ERR_GET_REASON(static_cast<unsigned long>(ec.value()));
  return reason == SSL_R_NO_PROTOCOLS_AVAILABLE || reason == SSL_R_NO_CIPHERS_AVAILABLE;
}

}  // namespace

asio::awaitable<SessionOutcome> RunSmtpTlsSession(EndpointSpec spec, SessionOptions options,
                                                  std::shared_ptr<ProbeLog> probe_log) {
  SessionOutcome outcome;
  EndpointReport& r = outcome.facts;
  r.mx = spec.mx;
  r.address = spec.address;
  r.family = spec.family;
  const std::string who = spec.mx + " [" + spec.address + "]:" + std::to_string(spec.port) +
                          (options.label.empty() ? "" : " (" + options.label + ")");
  auto log = [&](const std::string& line) { probe_log->Add(who + ": " + line); };
  auto fail = [&](const std::string& stage, const std::string& reason, const std::string& msg) {
    r.failure_stage = stage;
    r.failure_reason = reason;
    r.failure_message = msg;
    log(stage + " failed: " + reason + ": " + msg);
  };

  auto executor = co_await asio::this_coro::executor;

  asio::error_code addr_ec;
  asio::ip::address address = asio::ip::make_address(spec.address, addr_ec);
  if (addr_ec) {
    fail("connect", "bad_address", "not an IP address: " + spec.address);
    co_return outcome;
  }

  // An SSL is made and checked before connecting: a session our OpenSSL cannot offer costs
  // the server nothing and is never mistaken for the server refusing it. It is not kept: the
  // session's own SSL is made at STARTTLS (below), so that sessions queued behind the limits
  // and sessions in their plain-text round trips hold none (about 6 KiB each, with thousands
  // of them at once). Making it twice costs about 2 us (more with a cipher list of its own).
  {
    SslPtr checked(SSL_new(options.ctx));
    if (!checked) {
      fail("handshake", "tls_setup", "SSL_new: " + DrainOpenSslErrors());
      co_return outcome;
    }
    Status prepared = PrepareSsl(checked.get(), options, spec.sni, /*check_offerable=*/true);
    if (!prepared.ok()) {
      outcome.client_unsupported = true;
      fail("handshake", prepared.reason(), prepared.message());
      co_return outcome;
    }
  }

  // A slot under the engine's session limits, held until the connection is closed: it moves
  // into the connection, which the detached goodbye keeps. The wait is not a phase: the
  // server never saw it. It comes before the connection exists (whose TLS stream, made at
  // STARTTLS, holds about 70 KiB), so that sessions queued behind the limits cost almost no
  // memory.
  SessionLimiter::Slot slot;
  if (spec.limiter != nullptr) {
    const auto queued_at = std::chrono::steady_clock::now();
    slot = co_await spec.limiter->Acquire(spec.address, spec.deadline);
    const double waited =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - queued_at).count();
    if (!slot) {
      fail("connect", "queue_timeout",
           "no session slot for " + spec.address + " before the probe deadline (waited " +
               std::to_string(waited) + "s behind other sessions)");
      co_return outcome;
    }
    if (waited >= 0.001) log("waited " + std::to_string(waited) + "s for a session slot");
  }

  // The plain-text dialogue uses the socket directly; the SSL and the TLS stream come at
  // STARTTLS.
  auto connection = std::make_shared<Connection>(executor);
  connection->slot = std::move(slot);
  const std::shared_ptr<SocketWatchdog>& s = connection->watchdog;
  std::string& buffer = connection->buffer;
  std::string& first_bytes = connection->first_bytes;
  ChainCapture& capture = connection->capture;

  // Connect.
  outcome.connect_attempted = true;
  s->StartPhase("connect", spec.timeouts.connect, spec.deadline);
  // Connect turns on TCP_NODELAY: otherwise the EHLO after the handshake waits for the
  // server's delayed ACK.
  Status connected = co_await s->Connect(asio::ip::tcp::endpoint(address, spec.port));
  r.phase_seconds.emplace_back("connect", s->PhaseSeconds());
  if (!connected.ok()) {
    fail("connect", connected.reason(), connected.message());
    s->Finish();
    co_return outcome;
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
    co_return outcome;
  }
  buffer.erase(0, greeting.consumed);
  Status greeting_status = CheckGreeting(greeting.reply);
  if (!greeting_status.ok()) {
    fail("greeting", greeting_status.reason(), greeting_status.message());
    s->Finish();
    co_return outcome;
  }
  r.greeted = true;
  r.greeting_host = GreetingHost(greeting.reply);
  log("greeting: " + SanitizeServerText(greeting.reply.Text(), 200));

  // EHLO.
  s->StartPhase("ehlo", spec.timeouts.ehlo, spec.deadline);
  ReplyRead ehlo = co_await Command(s->socket(), EhloCommand(spec.ehlo_name), buffer, *s);
  r.phase_seconds.emplace_back("ehlo", s->PhaseSeconds());
  if (!ehlo.ok) {
    fail("ehlo", ehlo.reason, ehlo.message);
    s->Finish();
    co_return outcome;
  }
  buffer.erase(0, ehlo.consumed);
  Result<EhloCapabilities> caps = ParseEhloReply(ehlo.reply);
  if (!caps.ok()) {
    fail("ehlo", caps.status().reason(), caps.status().message());
    s->Finish();
    co_return outcome;
  }
  r.starttls_offered = caps->starttls;

  if (!caps->starttls) {
    // A definitive answer: this endpoint cannot be reached over TLS.
    r.verdict_reached = true;
    fail("starttls", "no_starttls", "STARTTLS is not offered in the EHLO reply");
    EndPolitelyDetached(executor, connection, Courtesy::kQuitPlain);
    co_return outcome;
  }

  // STARTTLS.
  s->StartPhase("starttls", spec.timeouts.starttls, spec.deadline);
  ReplyRead starttls = co_await Command(s->socket(), kStarttlsCommand, buffer, *s);
  r.phase_seconds.emplace_back("starttls", s->PhaseSeconds());
  if (!starttls.ok) {
    fail("starttls", starttls.reason, starttls.message);
    s->Finish();
    co_return outcome;
  }
  Status starttls_status = CheckStarttlsReply(starttls.reply);
  if (!starttls_status.ok()) {
    r.verdict_reached = true;
    fail("starttls", starttls_status.reason(), starttls_status.message());
    EndPolitelyDetached(executor, connection, Courtesy::kQuitPlain);
    co_return outcome;
  }
  // From here a handshake is due: every way out without one is handshake_ok = false.
  Status injection = CheckNothingAfterStarttlsReply(buffer, starttls.consumed);
  if (!injection.ok()) {
    // A strict client must not read plaintext bytes as if they came over TLS: abort.
    r.handshake_ok = false;
    r.verdict_reached = true;
    fail("starttls", injection.reason(), injection.message());
    s->Finish();
    co_return outcome;
  }
  buffer.clear();

  // TLS handshake. The chain is captured during the handshake and judged afterwards, so a
  // bad certificate never fails the handshake and a failing handshake keeps what was seen.
  s->StartPhase("handshake", spec.timeouts.handshake, spec.deadline);
  SslPtr owned_ssl(SSL_new(options.ctx));
  Status prepared = owned_ssl ? PrepareSsl(owned_ssl.get(), options, spec.sni,
                                           /*check_offerable=*/false)
                              : Status::Error("tls_setup", "SSL_new: " + DrainOpenSslErrors());
  if (!prepared.ok()) {  // it was accepted above: only a failing allocation gets here
    r.handshake_ok = false;
    fail("handshake", "tls_setup", prepared.message());
    s->Finish();
    co_return outcome;
  }
  SSL* ssl = owned_ssl.get();
  AttachChainCapture(ssl, &capture);
  asio::ssl::stream<FirstBytesSocket>& tls = connection->StartTls(std::move(owned_ssl));
  auto [handshake_ec] = co_await tls.async_handshake(asio::ssl::stream_base::client, kNoThrow);
  r.phase_seconds.emplace_back("handshake", s->PhaseSeconds());
  r.handshake_ok = !handshake_ec;
  if (!capture.presented.empty()) {
    // One copy per distinct chain in memory, however many sessions showed it.
    r.chain = ChainInterner::Global().Intern(std::move(capture.presented));
    capture.presented.clear();
  }
  if (handshake_ec) {
    if (IsClientSideRefusal(handshake_ec) && first_bytes.empty()) {
      // OpenSSL gave up before writing a ClientHello: nothing is known about the server.
      outcome.client_unsupported = true;
      Status failure = HandshakeFailure(handshake_ec, *s);
      ERR_clear_error();
      fail("handshake", "client_unsupported", failure.message());
      s->Finish();
      co_return outcome;
    }
    if (!first_bytes.empty() && !StartsLikeTlsRecord(first_bytes)) {
      // The server's first bytes after the 220 are not TLS: the same verdict as bytes left over
      // in the 220's own read, whichever segment carried them (and before any timeout: a
      // server that sends "2" and then waits is no TLS server either).
      ERR_clear_error();
      r.verdict_reached = true;
      Status not_tls = CheckNothingAfterStarttlsReply(first_bytes, 0);
      fail("starttls", not_tls.reason(), not_tls.message());
      s->Finish();
      co_return outcome;
    }
    // A handshake the server broke is a verdict (TLS does not work there); one that ran out
    // of time is not.
    r.verdict_reached = !s->timed_out();
    Status failure = HandshakeFailure(handshake_ec, *s);
    ERR_clear_error();
    fail("handshake", failure.reason(), failure.message());
    s->Finish();
    co_return outcome;
  }
  r.tls_version = SSL_get_version(ssl);
  r.tls_cipher = SSL_get_cipher_name(ssl);
  r.verdict_reached = r.chain != nullptr;
  if (!r.chain) fail("handshake", "no_certificate", "the server presented no certificate");
  log("TLS established: " + r.tls_version + " " + r.tls_cipher +
      (r.chain ? ", " + std::to_string(r.chain->size()) + " certificates presented" : ""));

  if (!options.smtp_after_tls) {
    // A short session: no EHLO, but QUIT all the same, in the same segment as close_notify.
    // Without it Postfix logs "lost connection after STARTTLS", which fail2ban's postfix filter
    // counts in its ddos and aggressive modes; with it the server logs an orderly quit=1.
    EndPolitelyDetached(executor, connection, Courtesy::kQuitTls);
    co_return outcome;
  }

  // EHLO again over TLS, as a sending MTA does (in TLS 1.3 some server-side failures show only
  // here), then QUIT. Failures here are logged but do
  // not change the verdict: the certificate has been seen.
  s->StartPhase("ehlo", spec.timeouts.ehlo, spec.deadline);
  ReplyRead ehlo_tls = co_await Command(tls, EhloCommand(spec.ehlo_name), buffer, *s);
  if (!ehlo_tls.ok) {
    log("EHLO over TLS failed: " + ehlo_tls.reason + ": " + ehlo_tls.message);
    ERR_clear_error();
    s->Finish();
    co_return outcome;
  }
  log("EHLO over TLS: " + std::to_string(ehlo_tls.reply.code));
  // The facts are known: QUIT and close_notify go out now, and the report does not wait for
  // the 221.
  EndPolitelyDetached(executor, connection, Courtesy::kQuitTls);
  co_return outcome;
}

}  // namespace mxtls
