// Scripted SMTP/STARTTLS servers on loopback for integration tests of the probe engine.
// SmtpFixtureServer plays a mail server whose every step can be bent into a real-world
// failure (slow or hostile greeting, missing or late STARTTLS, command injection, garbage
// instead of TLS, a hanging handshake, certificates chosen by SNI, a restricted TLS version
// range) and keeps a transcript of each session for assertions. RawTcpFixture runs any
// scripted byte exchange for one-off hostile behaviours.
//
// Both own one listening socket, one accept thread and one thread per connection. Sockets are
// blocking with receive/send timeouts, so nothing waits forever; the destructor closes the
// listener, shuts down live connections and joins every thread. A client may disconnect at
// any point: constructing either fixture makes the process ignore SIGPIPE (OpenSSL writes
// through write(2), which would otherwise raise it).
//
// Setup errors (an address that cannot be bound, an unusable certificate or key) are bugs in
// the test, so constructors throw std::runtime_error instead of returning a Status.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/openssl_util.h"
#include "tests/support/cert_factory.h"

namespace mxtls::testing {

// True when a socket can be bound to [::1] (IPv6 tests skip themselves otherwise).
bool Ipv6LoopbackAvailable();

// Writes all of `data` to `fd` with MSG_NOSIGNAL. False on error or timeout.
bool SendAll(int fd, std::string_view data);

// A listening socket whose every accepted connection runs `handler(fd)` on its own thread.
// The fixture sets SO_RCVTIMEO/SO_SNDTIMEO to `io_timeout` on the connection, and closes the
// fd after the handler returns: the handler must not close it. The close is a lingering one
// (half-close, then read until the client's FIN for at most 500 ms), so that unread client
// bytes cannot turn it into a RST that destroys the last bytes sent. Handlers should write with
// SendAll()/MSG_NOSIGNAL, treat a failed read or write as "the peer left", and wait with
// SleepUnlessStopping() rather than sleep_for, so that the destructor never waits for them.
// An exception escaping a handler ends that connection only.
// Thread-safe: every method may be called from any thread.
class RawTcpFixture {
 public:
  using Handler = std::function<void(int fd)>;

  // `address` is a numeric IPv4 or IPv6 address ("127.0.0.1", "::1"); port 0 picks an
  // ephemeral port. Accepting starts before the constructor returns.
  RawTcpFixture(const std::string& address, uint16_t port, Handler handler,
                std::chrono::milliseconds io_timeout = std::chrono::seconds(5));
  ~RawTcpFixture();
  RawTcpFixture(const RawTcpFixture&) = delete;
  RawTcpFixture& operator=(const RawTcpFixture&) = delete;

  const std::string& address() const { return address_; }
  uint16_t port() const { return port_; }

  // Connections accepted so far.
  size_t connection_count() const;
  // Waits until `n` handlers have returned. False on timeout.
  bool WaitForFinished(size_t n, std::chrono::milliseconds timeout) const;

  // True once the destructor has started.
  bool stopping() const { return stopping_.load(); }
  // Sleeps for `duration` or until the destructor starts. Returns false when stopping.
  bool SleepUnlessStopping(std::chrono::milliseconds duration) const;

 private:
  struct Connection {
    int fd = -1;        // guarded by mu_; -1 once closed
    bool done = false;  // guarded by mu_
    std::thread thread;
  };

  void AcceptLoop();
  void RunConnection(Connection* conn);
  void ReapFinishedLocked();

  const std::string address_;
  uint16_t port_ = 0;
  const Handler handler_;
  const std::chrono::milliseconds io_timeout_;
  int listen_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};  // written by the destructor to wake the accept loop
  std::atomic<bool> stopping_{false};

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;  // signalled on stop and whenever a handler returns
  std::list<Connection> connections_;   // guarded by mu_; finished ones are reaped on accept
  size_t accepted_ = 0;                 // guarded by mu_
  size_t finished_ = 0;                 // guarded by mu_
  std::thread accept_thread_;
};

// One certificate the server can present, with the SNI names that select it.
struct CertEntry {
  // Names (case-insensitive, exact match; a trailing dot is ignored) that select this entry.
  // Empty: this is the default entry, served without SNI or for an unknown name. Without an
  // empty-named entry, the first entry is the default.
  std::vector<std::string> sni_names{};
  // PEM certificates. The one matching `key_pem` is the leaf and is always sent first (TLS
  // and OpenSSL put it there); the others follow in the order given here, so a chain may
  // leave out the intermediate, include the root, or be misordered. Nothing is added: the
  // server never completes a chain by itself.
  std::string chain_pem{};
  std::string key_pem{};  // PEM private key of the leaf
  // Optional second certificate of another key type (e.g. an ECDSA leaf beside an RSA one),
  // in the same form. OpenSSL serves the one the client's signature algorithms (and, below
  // TLS 1.3, cipher suites) ask for, and the first one when both would do.
  std::string second_chain_pem{};
  std::string second_key_pem{};

  // `leaf` first, then `extra` in this order; the key is `leaf`'s.
  static CertEntry FromCerts(std::vector<std::string> sni_names, const TestCert& leaf,
                             const std::vector<const TestCert*>& extra = {});
  // Sets the second certificate: `leaf` first, then `extra`; the key is `leaf`'s.
  CertEntry& WithSecond(const TestCert& leaf, const std::vector<const TestCert*>& extra = {});
};

// What the server does; the defaults are a healthy Postfix-like server. Reply lines are
// given without CRLF; raw fields are sent byte for byte.
struct SmtpFixtureOptions {
  // --- Greeting.
  // Sent as one reply: every line but the last first, then `greeting_delay`, then the last
  // line (postscreen's "220-" trick: a client that talks before the last line is pre-greet
  // talk). Lines carry their own "220-"/"220 " prefixes.
  std::vector<std::string> greeting_lines = {"220 mx.test ESMTP fixture"};
  std::chrono::milliseconds greeting_delay{0};
  // Non-empty: sent instead of greeting_lines (after greeting_delay), e.g.
  // "554 5.7.1 access denied\r\n". After a greeting that does not start with "220", every
  // command but QUIT is answered "554 5.7.1 Error: access denied"; after "421" the server
  // closes the connection.
  std::string greeting_raw{};
  bool close_after_greeting = false;
  // Accept, never send a byte, read (and record as pre-greet talk) until the client leaves.
  bool never_greet = false;

  // --- EHLO. Reply lines without the "250-"/"250 " prefix: the first is the host name.
  std::vector<std::string> ehlo_lines = {"mx.test", "PIPELINING", "SIZE 10240000", "STARTTLS",
                                         "8BITMIME"};
  // False: "STARTTLS" is removed from the EHLO reply and the command gets 502.
  bool offer_starttls = true;
  // True: "STARTTLS" is moved to the last line ("250 STARTTLS").
  bool starttls_last = false;
  // Non-empty: sent instead of the EHLO reply built above.
  std::string ehlo_raw{};

  // --- STARTTLS.
  // The reply; anything not starting with "220" (e.g. "454 4.7.0 TLS not available") keeps
  // the session in plain text.
  std::string starttls_reply = "220 2.0.0 Ready to start TLS";
  // Bytes sent right after the reply (a command-injection / MITM case), then the server goes
  // on with the handshake.
  std::string inject_after_starttls{};
  // 0: the injected bytes go in the reply's own write (one segment). Otherwise they are
  // written this long after the reply, in a second segment that reaches a client already
  // sending its ClientHello.
  std::chrono::milliseconds inject_delay{0};
  // Non-empty: after the 220, these bytes (e.g. "HTTP/1.1 400 Bad Request\r\n\r\n") are sent
  // instead of a ServerHello, and the connection is closed.
  std::string garbage_instead_of_tls{};
  // After the 220, read and discard until the client leaves: the handshake never completes.
  bool handshake_hang = false;

  // --- TLS.
  // Empty: one default entry, a self-signed certificate for mx.test.
  std::vector<CertEntry> certs{};
  // OpenSSL protocol versions (TLS1_VERSION ... TLS1_3_VERSION); 0 = no limit.
  int tls_min_version = 0;
  int tls_max_version = 0;
  // TLS <= 1.2 cipher list. Security level 0 lets legacy versions, weak keys and SHA-1
  // signatures through: the server presents whatever the test configured.
  std::string tls_cipher_list = "DEFAULT:@SECLEVEL=0";

  // --- QUIT.
  // How long the 221 reply to QUIT is held back (a slow server; a client that waits for it
  // before reporting is slow too). Inside TLS, a close_notify the client sends meanwhile is
  // still noticed (SessionRecord::close_notify_received).
  std::chrono::milliseconds quit_reply_delay{0};

  // --- Connections.
  // Receive/send timeout of every socket operation.
  std::chrono::milliseconds io_timeout = std::chrono::seconds(5);
};

// The transcript of one connection.
struct SessionRecord {
  size_t id = 0;       // 1-based, in accept order
  std::string peer{};  // "127.0.0.1:port" or "[::1]:port"
  // Client commands without CRLF, in order: before TLS, and inside TLS.
  std::vector<std::string> commands{};
  std::vector<std::string> tls_commands{};
  // The client sent bytes before the greeting was complete (or at all, with never_greet).
  bool pre_greet_talk = false;
  bool starttls_accepted = false;  // a 220 was sent in reply to STARTTLS
  // Plain-text bytes the client had already sent after "STARTTLS\r\n" when the server read
  // it (a pipelined/injected command); they are discarded, like Postfix does.
  size_t bytes_after_starttls = 0;
  bool tls_established = false;
  std::optional<std::string> sni{};  // nullopt: the client sent no SNI
  std::string tls_version{};         // e.g. "TLSv1.3"; empty without TLS
  std::string tls_cipher{};
  std::string tls_error{};  // why the handshake failed
  bool quit = false;        // the client sent QUIT and got 221 (or QUIT, when the 221 failed)
  bool quit_received = false;  // the client sent QUIT (set before the 221 is written)
  // Inside TLS, after QUIT: the client's close_notify arrived (before or after the 221).
  bool close_notify_received = false;
  bool finished = false;    // the server is done with the connection
};

// A scripted SMTP server. Thread-safe: every method may be called from any thread.
class SmtpFixtureServer {
 public:
  // Builds the TLS contexts and starts listening on `address` ("127.0.0.1" or "::1");
  // port 0 picks an ephemeral port. Throws std::runtime_error on a setup error.
  explicit SmtpFixtureServer(SmtpFixtureOptions options = {},
                             const std::string& address = "127.0.0.1", uint16_t port = 0);
  ~SmtpFixtureServer();
  SmtpFixtureServer(const SmtpFixtureServer&) = delete;
  SmtpFixtureServer& operator=(const SmtpFixtureServer&) = delete;

  const std::string& address() const;
  uint16_t port() const;
  const SmtpFixtureOptions& options() const { return options_; }

  // Connections accepted so far.
  size_t connection_count() const;
  // Snapshots of every session so far, in accept order (live ones have finished == false).
  std::vector<SessionRecord> sessions() const;
  // The most sessions that were open at the same time, each counted from accept until the
  // client's QUIT arrived or the connection ended, whichever came first: the part of a session
  // its client certainly still held (the server's own teardown after a QUIT may overlap the
  // client's next connection).
  size_t max_concurrent_sessions() const;
  // Waits until `n` sessions have finished. False on timeout.
  bool WaitForSessions(size_t n, std::chrono::milliseconds timeout) const;

 private:
  struct TlsContext {
    std::vector<std::string> names;  // lower-case, no trailing dot
    SslCtxPtr ctx;
  };
  class Session;

  SslCtxPtr BuildContext(const CertEntry& entry) const;
  static int OnServerName(SSL* ssl, int* alert, void* arg);
  void Serve(int fd);
  // Applies `change` to `record` under mu_.
  void Update(SessionRecord* record, const std::function<void(SessionRecord&)>& change);
  // Ends `record`'s count in max_concurrent_sessions (idempotent).
  void EndActive(const SessionRecord* record);

  const SmtpFixtureOptions options_;
  std::vector<TlsContext> contexts_;  // immutable after construction
  size_t default_context_ = 0;
  std::atomic<bool> stopping_{false};

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<std::shared_ptr<SessionRecord>> records_;  // guarded by mu_
  size_t finished_ = 0;                                  // guarded by mu_
  std::set<const SessionRecord*> active_;                // guarded by mu_
  size_t max_live_ = 0;                                  // guarded by mu_

  // Last: it starts accepting when built and must be gone before the members above.
  std::unique_ptr<RawTcpFixture> tcp_;
};

}  // namespace mxtls::testing
