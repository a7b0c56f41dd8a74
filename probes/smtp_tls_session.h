// One SMTP/STARTTLS session to one endpoint: the single implementation behind every session an
// endpoint probe opens (the main session with SNI, the one without SNI, the TLS version
// sessions, the key-type session). Connect, wait for the whole 220 greeting, EHLO, STARTTLS, a
// TLS handshake shaped by SessionOptions, then either EHLO over TLS and QUIT or just
// close_notify, bounded by per-phase timeouts and the probe deadline. It records facts;
// judging the captured chain is the caller's business.
//
// The session reports as soon as its facts are known. Its courtesy part -- QUIT and
// close_notify, then reading the 221 and the server's close_notify -- runs detached on the same
// executor after the report, bounded by its own short timer (about a second, not the probe
// deadline), and owns the connection (socket, SSL, buffers) until it ends. Whoever waits for
// the session's coroutine therefore never waits for it; an io_context that is run until it has
// no work does.
#pragma once

#include <openssl/ssl.h>

#include <asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "config/config.h"
#include "probes/judgement/domain_report.h"
#include "probes/judgement/probe_log.h"

namespace mxtls {

class SessionLimiter;

struct EndpointSpec {
  std::string mx;       // as published; the name the certificate must match
  std::string address;  // numeric IPv4 or IPv6
  std::string family;   // "ipv4" or "ipv6"
  uint16_t port = 25;
  std::string sni;  // server name sent in the ClientHello; empty sends none
  std::string ehlo_name;
  config::PhaseTimeouts timeouts;
  std::chrono::steady_clock::time_point deadline;
  // Where the session takes its slot before connecting (null: no limit). Borrowed: it must
  // outlive the session. A session that gets no slot by `deadline` fails at stage "connect"
  // with reason "queue_timeout" and counts as not opened.
  SessionLimiter* limiter = nullptr;
};

// How one session's handshake differs from the main one.
struct SessionOptions {
  // The client context the session's SSL is made from (its version range, security level and
  // chain capture apply). Borrowed: it must outlive the session; it is only read.
  SSL_CTX* ctx = nullptr;
  // Non-empty: the only signature algorithms offered (SSL_set1_sigalgs_list syntax).
  std::string sigalgs;
  // Non-empty: replaces the context's TLS <= 1.2 cipher list for this session.
  std::string cipher_list;
  // True: EHLO over TLS and QUIT, as a sending MTA does. False: a short session that sends
  // QUIT and close_notify right after a successful handshake, without EHLO. Either way the
  // ending runs detached.
  bool smtp_after_tls = true;
  // Names the session in log lines ("no SNI", "TLSv1.1", "rsa"); empty for the main session.
  std::string label;
};

// What one session found.
struct SessionOutcome {
  // The dialogue's facts: connected ... handshake_ok, tls_version, failure_*, verdict_reached,
  // phase_seconds, greeting_host, and `chain` when a certificate was captured. `cert` is never
  // set here (judging is the caller's), and neither are the fields about other sessions.
  EndpointReport facts;
  // Our own OpenSSL could not offer what the options ask for (no protocol version or no
  // cipher left): found before connecting, or by OpenSSL before the ClientHello went out.
  // It says nothing about the server. facts.failure_reason is then "client_unsupported".
  bool client_unsupported = false;
  // A connection was attempted: the session counts as opened (a server's connection limits
  // see it), whatever came of it.
  bool connect_attempted = false;
};

// Never throws for anything the network does: a hostile server yields a failure reason.
// Completes by spec.deadline (plus scheduling slack).
//
// A handshake that was due (STARTTLS answered 220) and did not complete always sets
// facts.handshake_ok = false. Bytes that are not TLS after that 220 -- left over in the 220's
// own read, or the first bytes read during the handshake -- give stage "starttls", reason
// "starttls_injection", whatever TCP segmentation did; a server whose first bytes are a TLS
// record and that breaks the handshake later gives stage "handshake".
asio::awaitable<SessionOutcome> RunSmtpTlsSession(EndpointSpec spec, SessionOptions options,
                                                  std::shared_ptr<ProbeLog> log);

}  // namespace mxtls
