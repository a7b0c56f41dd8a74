#include "tests/support/smtp_fixture_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstring>
#include <stdexcept>

#include "tests/support/tls_server_context.h"

namespace mxtls::testing {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Longest command line the server buffers. A longer one ends the session with 500, so a
// client streaming a huge line cannot make the fixture grow without bound.
constexpr size_t kMaxLineBytes = 64 * 1024;
// How long a closing connection waits for the client's FIN; see RunConnection.
constexpr std::chrono::milliseconds kLingerTime(500);

[[noreturn]] void Fail(const std::string& what) {
  std::string ssl_errors = DrainOpenSslErrors();
  throw std::runtime_error("smtp_fixture_server: " + what +
                           (ssl_errors.empty() ? "" : ": " + ssl_errors));
}

void IgnoreSigpipeOnce() {
  static std::once_flag once;
  std::call_once(once, [] { signal(SIGPIPE, SIG_IGN); });
}

// Fills `addr` from a numeric IPv4/IPv6 address. False if `address` is neither.
bool MakeSockaddr(const std::string& address, uint16_t port, sockaddr_storage* addr,
                  socklen_t* len) {
  std::memset(addr, 0, sizeof(*addr));
  auto* v4 = reinterpret_cast<sockaddr_in*>(addr);
  if (inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    *len = sizeof(sockaddr_in);
    return true;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(addr);
  if (inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    *len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

// A non-blocking listening socket (the accept loop polls it, so an accept can never block).
int ListenOn(const std::string& address, uint16_t port, uint16_t* bound_port) {
  sockaddr_storage addr;
  socklen_t len = 0;
  if (!MakeSockaddr(address, port, &addr, &len)) Fail("not a numeric address: " + address);
  int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) Fail("socket: " + std::string(std::strerror(errno)));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (addr.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 || listen(fd, 128) != 0) {
    std::string error = std::strerror(errno);
    close(fd);
    Fail("bind " + address + ": " + error);
  }
  sockaddr_storage bound;
  socklen_t bound_len = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_len);
  *bound_port =
      ntohs(bound.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                                       : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  return fd;
}

void SetTimeouts(int fd, std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The command verb, upper-cased ("ehlo x" -> "EHLO").
std::string Verb(const std::string& line) {
  std::string verb = line.substr(0, line.find(' '));
  for (char& c : verb) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return verb;
}

bool IsStartTlsKeyword(const std::string& line) { return Lower(line) == "starttls"; }

}  // namespace

bool Ipv6LoopbackAvailable() {
  int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_addr = in6addr_loopback;
  bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// ---------------------------------------------------------------------------------------
// RawTcpFixture

RawTcpFixture::RawTcpFixture(const std::string& address, uint16_t port, Handler handler,
                             std::chrono::milliseconds io_timeout)
    : address_(address), handler_(std::move(handler)), io_timeout_(io_timeout) {
  IgnoreSigpipeOnce();
  listen_fd_ = ListenOn(address, port, &port_);
  if (pipe2(wake_pipe_, O_CLOEXEC) != 0) {
    close(listen_fd_);
    Fail("pipe2: " + std::string(std::strerror(errno)));
  }
  accept_thread_ = std::thread([this] { AcceptLoop(); });
}

RawTcpFixture::~RawTcpFixture() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  char byte = 0;
  while (write(wake_pipe_[1], &byte, 1) < 0 && errno == EINTR) {
  }
  accept_thread_.join();
  close(listen_fd_);
  close(wake_pipe_[0]);
  close(wake_pipe_[1]);
  // No thread adds connections any more. Shutting a socket down wakes a handler blocked in
  // recv/send/poll on it; the handler then sees "peer left" and returns.
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (Connection& conn : connections_) {
      if (conn.fd >= 0) shutdown(conn.fd, SHUT_RDWR);
    }
  }
  for (Connection& conn : connections_) {
    if (conn.thread.joinable()) conn.thread.join();
  }
}

size_t RawTcpFixture::connection_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return accepted_;
}

bool RawTcpFixture::WaitForFinished(size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return finished_ >= n; });
}

bool RawTcpFixture::SleepUnlessStopping(std::chrono::milliseconds duration) const {
  std::unique_lock<std::mutex> lock(mu_);
  return !cv_.wait_for(lock, duration, [&] { return stopping_.load(); });
}

void RawTcpFixture::AcceptLoop() {
  while (!stopping_) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      // EAGAIN: the client gave up between poll and accept. Anything else (EMFILE...) would
      // repeat at once: back off a little instead of spinning.
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        SleepUnlessStopping(std::chrono::milliseconds(10));
      }
      continue;
    }
    SetTimeouts(fd, io_timeout_);
    std::lock_guard<std::mutex> lock(mu_);
    ReapFinishedLocked();
    if (stopping_) {
      close(fd);
      return;
    }
    ++accepted_;
    Connection& conn = connections_.emplace_back();
    conn.fd = fd;
    conn.thread = std::thread([this, &conn] { RunConnection(&conn); });
  }
}

void RawTcpFixture::ReapFinishedLocked() {
  // A finished connection's thread has nothing left to do but return, so joining it under the
  // lock cannot deadlock.
  for (auto it = connections_.begin(); it != connections_.end();) {
    if (it->done) {
      it->thread.join();
      it = connections_.erase(it);
    } else {
      ++it;
    }
  }
}

void RawTcpFixture::RunConnection(Connection* conn) {
  int fd;
  {
    std::lock_guard<std::mutex> lock(mu_);
    fd = conn->fd;
  }
  try {
    handler_(fd);
  } catch (...) {
    // One connection's failure must not take the test process down.
  }
  // Closing a socket whose receive buffer still holds unread bytes sends a RST, and the RST
  // can make the client lose the last bytes we sent (a 421, the garbage instead of TLS).
  // So half-close first and read until the client closes too, for a bounded time.
  if (!stopping_ && shutdown(fd, SHUT_WR) == 0) {
    auto deadline = SteadyClock::now() + kLingerTime;
    char buf[4096];
    for (;;) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - SteadyClock::now());
      if (left.count() <= 0 || stopping_) break;
      pollfd pfd{fd, POLLIN, 0};
      int rc = poll(&pfd, 1, static_cast<int>(left.count()));
      if (rc < 0 && errno == EINTR) continue;
      if (rc <= 0) break;
      ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) break;
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    close(conn->fd);
    conn->fd = -1;
    conn->done = true;
    ++finished_;
  }
  cv_.notify_all();
}

// ---------------------------------------------------------------------------------------
// CertEntry

CertEntry CertEntry::FromCerts(std::vector<std::string> sni_names, const TestCert& leaf,
                               const std::vector<const TestCert*>& extra) {
  CertEntry entry;
  entry.sni_names = std::move(sni_names);
  entry.chain_pem = leaf.CertPem();
  for (const TestCert* cert : extra) entry.chain_pem += cert->CertPem();
  entry.key_pem = leaf.KeyPem();
  return entry;
}

CertEntry& CertEntry::WithSecond(const TestCert& leaf, const std::vector<const TestCert*>& extra) {
  second_chain_pem = leaf.CertPem();
  for (const TestCert* cert : extra) second_chain_pem += cert->CertPem();
  second_key_pem = leaf.KeyPem();
  return *this;
}

// ---------------------------------------------------------------------------------------
// SmtpFixtureServer::Session: one connection, run on its connection's thread.

class SmtpFixtureServer::Session {
 public:
  Session(SmtpFixtureServer* server, int fd, SessionRecord* record)
      : server_(server), opts_(server->options_), fd_(fd), record_(record) {}

  void Run() {
    if (opts_.never_greet) {
      DrainUntilClosed(/*pre_greet=*/true);
      return;
    }
    if (!Greet()) return;
    std::string line;
    while (ReadLine(&line)) {
      Record([&](SessionRecord& r) { r.commands.push_back(line); });
      std::string verb = Verb(line);
      if (verb == "QUIT") {
        Quit();
        return;
      }
      if (rejecting_) {
        if (!Write("554 5.7.1 Error: access denied\r\n")) return;
        continue;
      }
      if (verb == "STARTTLS") {
        if (!opts_.offer_starttls) {
          if (!Write("502 5.5.1 Error: command not implemented\r\n")) return;
          continue;
        }
        StartTls();
        return;
      }
      if (!Write(PlainReply(verb, /*tls=*/false))) return;
    }
  }

 private:
  // Replies shared by the plain-text and the TLS phase (not QUIT and STARTTLS).
  std::string PlainReply(const std::string& verb, bool tls) const {
    if (verb == "EHLO") return EhloReply(tls);
    if (verb == "HELO") return "250 " + HostName() + "\r\n";
    if (verb == "MAIL" || verb == "RCPT" || verb == "RSET" || verb == "NOOP") {
      return "250 2.0.0 Ok\r\n";
    }
    return "502 5.5.2 Error: command not recognized\r\n";
  }

  std::string HostName() const {
    return opts_.ehlo_lines.empty() ? "mx.test" : opts_.ehlo_lines.front();
  }

  std::string EhloReply(bool tls) const {
    if (!tls && !opts_.ehlo_raw.empty()) return opts_.ehlo_raw;
    bool offer = !tls && opts_.offer_starttls;
    std::vector<std::string> lines;
    for (const std::string& line : opts_.ehlo_lines) {
      if (IsStartTlsKeyword(line) && (!offer || opts_.starttls_last)) continue;
      lines.push_back(line);
    }
    if (offer && opts_.starttls_last) lines.push_back("STARTTLS");
    if (lines.empty()) lines.push_back(HostName());
    std::string reply;
    for (size_t i = 0; i < lines.size(); ++i) {
      reply += (i + 1 < lines.size() ? "250-" : "250 ") + lines[i] + "\r\n";
    }
    return reply;
  }

  // Sends the greeting. False when the session ends here.
  bool Greet() {
    std::string head;
    std::string last;
    if (!opts_.greeting_raw.empty()) {
      last = opts_.greeting_raw;
    } else if (!opts_.greeting_lines.empty()) {
      for (size_t i = 0; i + 1 < opts_.greeting_lines.size(); ++i) {
        head += opts_.greeting_lines[i] + "\r\n";
      }
      last = opts_.greeting_lines.back() + "\r\n";
    }
    if (!Write(head)) return false;
    if (!WatchForPreGreetTalk(opts_.greeting_delay)) return false;
    if (!Write(last)) return false;
    std::string code = last.substr(0, 3);
    rejecting_ = code != "220";
    return !(opts_.close_after_greeting || code == "421");
  }

  // Waits `delay` while collecting anything the client sends (it will be read as commands
  // later, but is pre-greet talk). With no delay, looks once. False when the client left.
  bool WatchForPreGreetTalk(std::chrono::milliseconds delay) {
    auto deadline = SteadyClock::now() + delay;
    char buf[4096];
    for (;;) {
      if (server_->stopping_) return false;
      auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - SteadyClock::now());
      pollfd pfd{fd_, POLLIN, 0};
      int rc = poll(&pfd, 1, static_cast<int>(std::max<int64_t>(0, left.count())));
      if (rc < 0 && errno == EINTR) continue;
      if (rc < 0) return false;
      if (rc == 0) return true;
      ssize_t n = recv(fd_, buf, sizeof(buf), MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
      if (n <= 0) return false;
      in_.append(buf, static_cast<size_t>(n));
      Record([](SessionRecord& r) { r.pre_greet_talk = true; });
      if (in_.size() > kMaxLineBytes) return false;
    }
  }

  // Reads and discards until the client leaves or the server stops; read timeouts do not
  // end it (never_greet and handshake_hang outwait any client).
  void DrainUntilClosed(bool pre_greet) {
    char buf[4096];
    while (!server_->stopping_) {
      ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n > 0) {
        if (pre_greet) Record([](SessionRecord& r) { r.pre_greet_talk = true; });
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
      return;
    }
  }

  void StartTls() {
    bool accepted = opts_.starttls_reply.compare(0, 3, "220") == 0;
    if (!accepted) {
      if (Write(opts_.starttls_reply + "\r\n")) ContinueAfterRefusedStartTls();
      return;
    }
    // Like Postfix, discard whatever the client pipelined after STARTTLS, but remember it.
    size_t pending = in_.size();
    in_.clear();
    Record([&](SessionRecord& r) {
      r.starttls_accepted = true;
      r.bytes_after_starttls = pending;
    });
    if (opts_.inject_delay.count() == 0) {
      if (!Write(opts_.starttls_reply + "\r\n" + opts_.inject_after_starttls)) return;
    } else {
      if (!Write(opts_.starttls_reply + "\r\n")) return;
      if (!server_->tcp_->SleepUnlessStopping(opts_.inject_delay)) return;
      if (!Write(opts_.inject_after_starttls)) return;
    }
    if (!opts_.garbage_instead_of_tls.empty()) {
      // Answer the ClientHello, as a confused proxy would, then close.
      Fill();
      in_.clear();
      Write(opts_.garbage_instead_of_tls);
      return;
    }
    if (opts_.handshake_hang) {
      DrainUntilClosed(/*pre_greet=*/false);
      return;
    }
    if (!Handshake()) return;
    TlsLoop();
  }

  // After a refused STARTTLS the session goes on in plain text.
  void ContinueAfterRefusedStartTls() {
    std::string line;
    while (ReadLine(&line)) {
      Record([&](SessionRecord& r) { r.commands.push_back(line); });
      std::string verb = Verb(line);
      if (verb == "QUIT") {
        Quit();
        return;
      }
      std::string reply =
          verb == "STARTTLS" ? opts_.starttls_reply + "\r\n" : PlainReply(verb, /*tls=*/false);
      if (!Write(reply)) return;
    }
  }

  bool Handshake() {
    const SmtpFixtureServer& server = *server_;
    ssl_.reset(SSL_new(server.contexts_[server.default_context_].ctx.get()));
    if (!ssl_ || SSL_set_fd(ssl_.get(), fd_) != 1) {
      std::string error = "SSL_new: " + DrainOpenSslErrors();
      Record([&](SessionRecord& r) { r.tls_error = error; });
      ssl_.reset();
      return false;
    }
    SSL_set_app_data(ssl_.get(), record_);
    ERR_clear_error();
    errno = 0;
    int rc = SSL_accept(ssl_.get());
    if (rc != 1) {
      int ssl_error = SSL_get_error(ssl_.get(), rc);
      int sys_error = errno;
      std::string error = DrainOpenSslErrors();
      if (error.empty()) {
        error = "SSL_accept failed: SSL_get_error " + std::to_string(ssl_error);
        if (sys_error != 0) error += ", " + std::string(std::strerror(sys_error));
        if (ssl_error == SSL_ERROR_SYSCALL && sys_error == 0) error += ", client closed";
      }
      Record([&](SessionRecord& r) { r.tls_error = error; });
      ssl_.reset();
      return false;
    }
    std::string version = SSL_get_version(ssl_.get());
    std::string cipher = SSL_get_cipher_name(ssl_.get());
    Record([&](SessionRecord& r) {
      r.tls_established = true;
      r.tls_version = version;
      r.tls_cipher = cipher;
    });
    return true;
  }

  void TlsLoop() {
    std::string line;
    while (ReadLine(&line)) {
      Record([&](SessionRecord& r) { r.tls_commands.push_back(line); });
      std::string verb = Verb(line);
      if (verb == "QUIT") {
        Quit();
        return;
      }
      std::string reply = verb == "STARTTLS" ? "554 5.5.1 Error: TLS already active\r\n"
                                             : PlainReply(verb, /*tls=*/true);
      if (!Write(reply)) return;
    }
  }

  void Quit() {
    server_->EndActive(record_);
    Record([](SessionRecord& r) { r.quit_received = true; });
    quit_at_ = std::chrono::steady_clock::now();
    if (opts_.quit_reply_delay.count() > 0) {
      // A client that already sent close_notify is seen during the wait; one that left
      // makes the wait end early as well.
      if (ssl_ && WaitReadable(opts_.quit_reply_delay)) NoteCloseNotify();
      const auto left = opts_.quit_reply_delay - std::chrono::duration_cast<std::chrono::milliseconds>(
                                                     std::chrono::steady_clock::now() - quit_at_);
      if (left.count() > 0 && !server_->tcp_->SleepUnlessStopping(left)) return;
    }
    if (!Write("221 2.0.0 Bye\r\n")) return;
    Record([](SessionRecord& r) { r.quit = true; });
    if (ssl_) {
      SSL_shutdown(ssl_.get());
      ERR_clear_error();
      if (!close_notify_seen_) NoteCloseNotify();
    }
  }

  // Waits until the socket has something to read (or the peer left), for at most `limit`.
  // False on timeout.
  bool WaitReadable(std::chrono::milliseconds limit) {
    pollfd pfd{fd_, POLLIN, 0};
    return poll(&pfd, 1, static_cast<int>(limit.count())) > 0;
  }

  // Reads what follows inside TLS, waiting at most kCloseNotifyWait for each piece (a client
  // may keep the connection open); records a close_notify if that is what came.
  void NoteCloseNotify() {
    constexpr std::chrono::milliseconds kCloseNotifyWait{300};
    char buf[512];
    int n;
    do {
      if (SSL_pending(ssl_.get()) == 0 && !WaitReadable(kCloseNotifyWait)) return;
    } while ((n = SSL_read(ssl_.get(), buf, sizeof(buf))) > 0);
    if (SSL_get_error(ssl_.get(), n) == SSL_ERROR_ZERO_RETURN) {
      close_notify_seen_ = true;
      Record([](SessionRecord& r) { r.close_notify_received = true; });
    }
    ERR_clear_error();
  }

  // Reads one line (without CR/LF) from the plain socket or the TLS session. False when the
  // client left, a read timed out, or the line is too long.
  bool ReadLine(std::string* line) {
    for (;;) {
      size_t end = in_.find('\n');
      if (end != std::string::npos) {
        line->assign(in_, 0, end);
        in_.erase(0, end + 1);
        if (!line->empty() && line->back() == '\r') line->pop_back();
        return true;
      }
      if (in_.size() > kMaxLineBytes) {
        Write("500 5.5.0 Error: line too long\r\n");
        return false;
      }
      if (!Fill()) return false;
    }
  }

  bool Fill() {
    char buf[16384];
    if (ssl_) {
      int n = SSL_read(ssl_.get(), buf, sizeof(buf));
      if (n <= 0) {
        ERR_clear_error();
        return false;
      }
      in_.append(buf, static_cast<size_t>(n));
      return true;
    }
    for (;;) {
      ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      in_.append(buf, static_cast<size_t>(n));
      return true;
    }
  }

  bool Write(std::string_view data) {
    if (!ssl_) return SendAll(fd_, data);
    while (!data.empty()) {
      int chunk = static_cast<int>(std::min<size_t>(data.size(), INT_MAX));
      int n = SSL_write(ssl_.get(), data.data(), chunk);
      if (n <= 0) {
        ERR_clear_error();
        return false;
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  void Record(const std::function<void(SessionRecord&)>& change) {
    server_->Update(record_, change);
  }

  SmtpFixtureServer* server_;
  const SmtpFixtureOptions& opts_;
  int fd_;
  SessionRecord* record_;
  SslPtr ssl_;
  std::string in_;          // received, not yet consumed
  std::chrono::steady_clock::time_point quit_at_{};  // when QUIT was read
  bool close_notify_seen_ = false;
  bool rejecting_ = false;  // the greeting was not a 220
};

// ---------------------------------------------------------------------------------------
// SmtpFixtureServer

SmtpFixtureServer::SmtpFixtureServer(SmtpFixtureOptions options, const std::string& address,
                                     uint16_t port)
    : options_(std::move(options)) {
  std::vector<CertEntry> entries = options_.certs;
  if (entries.empty()) {
    CertSpec spec;
    spec.common_name = "mx.test";
    spec.dns_sans = {"mx.test"};
    entries.push_back(CertEntry::FromCerts({}, MakeSelfSigned(spec)));
  }
  bool have_default = false;
  for (size_t i = 0; i < entries.size(); ++i) {
    TlsContext context;
    for (const std::string& name : entries[i].sni_names) {
      context.names.push_back(NormalizeName(name));
    }
    context.ctx = BuildContext(entries[i]);
    if (context.names.empty() && !have_default) {
      default_context_ = i;
      have_default = true;
    }
    contexts_.push_back(std::move(context));
  }
  tcp_ = std::make_unique<RawTcpFixture>(
      address, port, [this](int fd) { Serve(fd); }, options_.io_timeout);
}

SmtpFixtureServer::~SmtpFixtureServer() {
  stopping_ = true;
  tcp_.reset();  // joins every connection thread before the contexts and records go
}

const std::string& SmtpFixtureServer::address() const { return tcp_->address(); }
uint16_t SmtpFixtureServer::port() const { return tcp_->port(); }
size_t SmtpFixtureServer::connection_count() const { return tcp_->connection_count(); }

size_t SmtpFixtureServer::max_concurrent_sessions() const {
  std::lock_guard<std::mutex> lock(mu_);
  return max_live_;
}

std::vector<SessionRecord> SmtpFixtureServer::sessions() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<SessionRecord> out;
  out.reserve(records_.size());
  for (const auto& record : records_) out.push_back(*record);
  return out;
}

bool SmtpFixtureServer::WaitForSessions(size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return finished_ >= n; });
}

void SmtpFixtureServer::Update(SessionRecord* record,
                               const std::function<void(SessionRecord&)>& change) {
  std::lock_guard<std::mutex> lock(mu_);
  change(*record);
}

void SmtpFixtureServer::EndActive(const SessionRecord* record) {
  std::lock_guard<std::mutex> lock(mu_);
  active_.erase(record);
}

SslCtxPtr SmtpFixtureServer::BuildContext(const CertEntry& entry) const {
  ServerTlsSettings tls;
  tls.cipher_list = options_.tls_cipher_list;
  tls.min_version = options_.tls_min_version;
  tls.max_version = options_.tls_max_version;
  tls.servername_callback = &SmtpFixtureServer::OnServerName;
  tls.servername_arg = const_cast<SmtpFixtureServer*>(this);
  SslCtxPtr ctx = BuildServerContext(entry.chain_pem, entry.key_pem, tls, "smtp_fixture_server");
  if (!entry.second_key_pem.empty()) {
    AddServerCertificate(ctx.get(), entry.second_chain_pem, entry.second_key_pem,
                         "smtp_fixture_server");
  }
  return ctx;
}

// Runs during the handshake, for every ClientHello (with or without SNI): records the name
// and switches to the context whose names match it; otherwise the default context stays.
int SmtpFixtureServer::OnServerName(SSL* ssl, int* /*alert*/, void* arg) {
  auto* server = static_cast<SmtpFixtureServer*>(arg);
  auto* record = static_cast<SessionRecord*>(SSL_get_app_data(ssl));
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (name == nullptr) return SSL_TLSEXT_ERR_OK;
  if (record != nullptr) {
    std::string sni = name;
    server->Update(record, [&](SessionRecord& r) { r.sni = sni; });
  }
  SwitchContextForName(ssl, name, server->contexts_);
  return SSL_TLSEXT_ERR_OK;
}

void SmtpFixtureServer::Serve(int fd) {
  auto record = std::make_shared<SessionRecord>();
  record->peer = PeerName(fd);
  {
    std::lock_guard<std::mutex> lock(mu_);
    records_.push_back(record);
    record->id = records_.size();
    active_.insert(record.get());
    max_live_ = std::max(max_live_, active_.size());
  }
  try {
    Session(this, fd, record.get()).Run();
  } catch (...) {
    // Recorded as a finished session all the same; nothing to rethrow to.
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    record->finished = true;
    ++finished_;
    active_.erase(record.get());
  }
  cv_.notify_all();
}

}  // namespace mxtls::testing
