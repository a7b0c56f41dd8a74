#include "exporter/bounded_http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <thread>

#include "common/log.h"
#include "exporter/elastic_task_queue.h"

namespace mxtls {
namespace {

using Clock = std::chrono::steady_clock;

// A poll() slice: a connection thread notices BeginStop() within this time.
constexpr int kPollSliceMs = 200;

const char* Reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 302: return "Found";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Status";
  }
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsTokenChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return std::string(s.substr(b, e - b + 1));
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string PeerAddress(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return "";
  char buf[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&addr)->sin_addr, buf, sizeof(buf));
  } else if (addr.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&addr)->sin6_addr, buf, sizeof(buf));
  }
  return buf;
}

}  // namespace

bool PercentDecode(const std::string& in, bool plus_is_space, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = HexValue(in[i + 1]);
      int lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out->push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out->push_back(' ');
    } else {
      out->push_back(c);
    }
  }
  return true;
}

// One accepted connection: a non-blocking socket, optionally under TLS, read and written
// with poll() against deadlines.
class BoundedHttpServer::Connection {
 public:
  enum class Io { kOk, kClosed, kTimeout, kStopping };

  Connection(int fd, const std::atomic<bool>* stopping) : fd_(fd), stopping_(stopping) {
    fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) | O_NONBLOCK);
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  ~Connection() {
    if (ssl_) {
      SSL_shutdown(ssl_.get());  // best effort close_notify; non-blocking
    }
    if (linger_) {
      // After refusing a request whose bytes were not all read: closing at once with unread
      // data makes the kernel send a reset, which can destroy our answer before the client
      // reads it. Stop sending, then discard what still arrives, for a bounded time.
      ::shutdown(fd_, SHUT_WR);
      auto deadline = Clock::now() + std::chrono::milliseconds(500);
      char sink[4096];
      size_t drained = 0;
      while (drained < (1u << 20)) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        pollfd p{fd_, POLLIN, 0};
        if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
        ssize_t n = ::recv(fd_, sink, sizeof(sink), 0);
        if (n <= 0) break;
        drained += static_cast<size_t>(n);
      }
    }
    ::close(fd_);
  }

  // Close with a lingering drain (see the destructor).
  void Linger() { linger_ = true; }

  Io Handshake(SSL_CTX* ctx, Clock::time_point deadline) {
    ssl_.reset(SSL_new(ctx));
    if (!ssl_) return Io::kClosed;
    SSL_set_fd(ssl_.get(), fd_);
    for (;;) {
      ERR_clear_error();
      int r = SSL_accept(ssl_.get());
      if (r == 1) return Io::kOk;
      int err = SSL_get_error(ssl_.get(), r);
      if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
        ERR_clear_error();
        ssl_.reset();  // no close_notify on a failed handshake
        return Io::kClosed;
      }
      Io w = Wait(err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
      if (w != Io::kOk) return w;
    }
  }

  SSL* ssl() const { return ssl_.get(); }
  int fd() const { return fd_; }

  bool ReadableWithin(std::chrono::milliseconds wait) {
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(wait.count())) > 0;
  }

  // Appends what is available (at least one byte) to `buf`.
  Io Read(std::string* buf, Clock::time_point deadline) {
    char chunk[4096];
    for (;;) {
      if (ssl_) {
        ERR_clear_error();
        int r = SSL_read(ssl_.get(), chunk, sizeof(chunk));
        if (r > 0) {
          buf->append(chunk, static_cast<size_t>(r));
          return Io::kOk;
        }
        int err = SSL_get_error(ssl_.get(), r);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
          Io w = Wait(err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
          if (w != Io::kOk) return w;
          continue;
        }
        ERR_clear_error();
        return Io::kClosed;
      }
      ssize_t r = ::recv(fd_, chunk, sizeof(chunk), 0);
      if (r > 0) {
        buf->append(chunk, static_cast<size_t>(r));
        return Io::kOk;
      }
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        Io w = Wait(POLLIN, deadline);
        if (w != Io::kOk) return w;
        continue;
      }
      return Io::kClosed;
    }
  }

  Io Write(std::string_view data, Clock::time_point deadline) {
    while (!data.empty()) {
      if (ssl_) {
        ERR_clear_error();
        int r = SSL_write(ssl_.get(), data.data(), static_cast<int>(data.size()));
        if (r > 0) {
          data.remove_prefix(static_cast<size_t>(r));
          continue;
        }
        int err = SSL_get_error(ssl_.get(), r);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
          Io w = Wait(err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline, false);
          if (w != Io::kOk) return w;
          continue;
        }
        ERR_clear_error();
        return Io::kClosed;
      }
      ssize_t r = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (r > 0) {
        data.remove_prefix(static_cast<size_t>(r));
        continue;
      }
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        Io w = Wait(POLLOUT, deadline, false);
        if (w != Io::kOk) return w;
        continue;
      }
      return Io::kClosed;
    }
    return Io::kOk;
  }

 private:
  Io Wait(short events, Clock::time_point deadline, bool stoppable = true) {
    for (;;) {
      if (stoppable && stopping_->load()) return Io::kStopping;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return Io::kTimeout;
      pollfd p{fd_, events, 0};
      int r = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), kPollSliceMs)));
      if (r > 0) return Io::kOk;
      if (r < 0 && errno != EINTR) return Io::kClosed;
    }
  }

  int fd_;
  const std::atomic<bool>* stopping_;
  SslPtr ssl_;
  bool linger_ = false;
};

BoundedHttpServer::BoundedHttpServer(WebSecurity* web, HttpLimits limits)
    : web_(web),
      limits_(limits),
      parker_(std::make_unique<Parker>(this, limits.idle_timeout, limits.max_idle_connections)) {}

void BoundedHttpServer::Route(const std::string& method, const std::string& path_pattern,
                              RouteHandler handler) {
  routes_.push_back({method, std::regex(path_pattern), std::move(handler)});
}

void BoundedHttpServer::RouteWithBody(const std::string& method, const std::string& path_pattern,
                                      size_t max_body_bytes,
                                      std::chrono::milliseconds body_timeout, Admission admit,
                                      RouteHandler handler) {
  RouteEntry r{method, std::regex(path_pattern), std::move(handler)};
  r.takes_body = true;
  r.max_body_bytes = max_body_bytes;
  r.body_timeout = body_timeout;
  r.admit = std::move(admit);
  routes_.push_back(std::move(r));
}

const BoundedHttpServer::RouteEntry* BoundedHttpServer::BodyRoute(
    const httplib::Request& req) const {
  for (const auto& r : routes_) {
    if (r.takes_body && r.method == req.method && std::regex_match(req.path, r.pattern)) {
      return &r;
    }
  }
  return nullptr;
}

// The body is read only after the route admitted the head, only as far as its Content-Length
// (at most the route's limit), and within the route's deadline as a whole, so a client
// trickling a body holds a thread no longer than a client trickling a head.
int BoundedHttpServer::ReadBody(const RouteEntry& route, Connection& conn, std::string& buf,
                                httplib::Request& req) {
  if (!req.has_header("Content-Length")) return 411;
  const std::string length = req.get_header_value("Content-Length");
  if (length.empty() || length.size() > 19 ||
      !std::all_of(length.begin(), length.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return 400;
  }
  const unsigned long long n = std::stoull(length);
  if (n > route.max_body_bytes) return 413;
  const Clock::time_point deadline = Clock::now() + route.body_timeout;
  while (buf.size() < n) {
    Connection::Io io = conn.Read(&buf, deadline);
    if (io == Connection::Io::kTimeout) return 408;
    if (io != Connection::Io::kOk) return -1;  // gone: nobody to answer
  }
  req.body = buf.substr(0, n);
  buf.erase(0, n);
  return 0;
}

namespace {

// The outcome of reading one request head.
struct HeadRead {
  enum Kind { kHead, kIdleClose, kError } kind = kError;
  int status = 0;  // for kError: the status to answer with, or 0 to close silently
  std::string head;
};

// The head (request line and header lines, without the blank line) parsed into `req`.
// Returns 0 or the error status.
int ParseHead(const std::string& head, const HttpLimits& limits, httplib::Request* req) {
  size_t eol = head.find("\r\n");
  std::string_view line(head.data(), eol == std::string::npos ? head.size() : eol);
  size_t sp1 = line.find(' ');
  size_t sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) return 400;
  req->method = std::string(line.substr(0, sp1));
  req->target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
  req->version = std::string(line.substr(sp2 + 1));
  for (char c : req->method) {
    if (!IsTokenChar(c)) return 400;
  }
  if (req->version != "HTTP/1.1" && req->version != "HTTP/1.0") {
    return req->version.rfind("HTTP/", 0) == 0 ? 505 : 400;
  }
  if (req->target.empty() || req->target[0] != '/') return 400;
  for (char c : req->target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return 400;
  }
  size_t q = req->target.find('?');
  if (!PercentDecode(req->target.substr(0, q), false, &req->path)) return 400;
  if (q != std::string::npos) {
    std::string query = req->target.substr(q + 1);
    size_t pos = 0;
    while (pos <= query.size()) {
      size_t amp = query.find('&', pos);
      std::string pair = query.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
      if (!pair.empty()) {
        size_t eq = pair.find('=');
        std::string k, v;
        if (!PercentDecode(pair.substr(0, eq), true, &k)) return 400;
        if (eq != std::string::npos && !PercentDecode(pair.substr(eq + 1), true, &v)) return 400;
        req->params.emplace(std::move(k), std::move(v));
      }
      if (amp == std::string::npos) break;
      pos = amp + 1;
    }
  }
  size_t count = 0;
  size_t pos = eol == std::string::npos ? head.size() : eol + 2;
  while (pos < head.size()) {
    size_t end = head.find("\r\n", pos);
    if (end == std::string::npos) end = head.size();
    std::string_view h(head.data() + pos, end - pos);
    pos = end + 2;
    if (++count > limits.max_headers) return 431;
    size_t colon = h.find(':');
    // No obsolete line folding, no whitespace before the colon (RFC 9112 5.1, 5.2).
    if (colon == std::string_view::npos || colon == 0) return 400;
    for (char c : h.substr(0, colon)) {
      if (!IsTokenChar(c)) return 400;
    }
    req->headers.emplace(std::string(h.substr(0, colon)), Trim(h.substr(colon + 1)));
  }
  return 0;
}

}  // namespace

// One open connection between requests: what a thread needs to go on serving it.
struct BoundedHttpServer::Session {
  std::unique_ptr<Connection> conn;
  std::shared_ptr<const WebSecuritySnapshot> web;
  std::string remote;
  std::string buf;  // bytes read and not yet used: the start of the next request
  size_t served = 0;
};

// Keep-alive connections between requests wait here, on one epoll thread, instead of each
// holding a handler thread: Prometheus scrapes a target every 15 s or more, and a thread per
// idle connection would cap open connections at --web.handler-threads. A connection that
// becomes readable goes back to a handler thread; one idle for `idle_timeout`, or beyond
// `max_parked` waiting, is closed.
class BoundedHttpServer::Parker {
 public:
  Parker(BoundedHttpServer* server, std::chrono::milliseconds idle_timeout, size_t max_parked)
      : server_(server), idle_timeout_(idle_timeout), max_parked_(max_parked) {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    thread_ = std::thread([this] { Run(); });
  }
  ~Parker() { Stop(); }

  void Park(std::shared_ptr<Session> s) {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_ || parked_.size() >= max_parked_) return;  // dropping `s` closes it
    int fd = s->conn->fd();
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
    ev.data.fd = fd;
    if (epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev) != 0) return;
    parked_[fd] = {std::move(s), Clock::now() + idle_timeout_};
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return;
      stopped_ = true;
    }
    if (thread_.joinable()) thread_.join();
    std::lock_guard<std::mutex> lock(mu_);
    parked_.clear();
    ::close(epoll_);
  }

  size_t parked() {
    std::lock_guard<std::mutex> lock(mu_);
    return parked_.size();
  }

 private:
  struct Entry {
    std::shared_ptr<Session> session;
    Clock::time_point expires;
  };

  void Run() {
    epoll_event events[64];
    for (;;) {
      int n = epoll_wait(epoll_, events, 64, kPollSliceMs);
      std::vector<std::shared_ptr<Session>> ready;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopped_) return;
        for (int i = 0; i < n; ++i) {
          auto it = parked_.find(events[i].data.fd);
          if (it == parked_.end()) continue;
          epoll_ctl(epoll_, EPOLL_CTL_DEL, it->first, nullptr);
          ready.push_back(std::move(it->second.session));
          parked_.erase(it);
        }
        auto now = Clock::now();
        for (auto it = parked_.begin(); it != parked_.end();) {
          if (it->second.expires > now) {
            ++it;
            continue;
          }
          epoll_ctl(epoll_, EPOLL_CTL_DEL, it->first, nullptr);
          it = parked_.erase(it);  // closes the connection
        }
      }
      for (auto& s : ready) server_->Resume(std::move(s));
    }
  }

  BoundedHttpServer* server_;
  const std::chrono::milliseconds idle_timeout_;
  const size_t max_parked_;
  int epoll_ = -1;
  std::thread thread_;
  std::mutex mu_;
  std::map<int, Entry> parked_;  // by descriptor; guarded by mu_
  bool stopped_ = false;         // guarded by mu_
};

BoundedHttpServer::~BoundedHttpServer() {
  stopping_ = true;
  if (parker_) parker_->Stop();
  if (resume_queue_) resume_queue_->shutdown();
}

void BoundedHttpServer::BeginStop() {
  stopping_ = true;
  if (parker_) parker_->Stop();
}

size_t BoundedHttpServer::parked_connections() const { return parker_ ? parker_->parked() : 0; }

void BoundedHttpServer::Resume(std::shared_ptr<Session> s) {
  std::call_once(resume_queue_once_, [this] {
    resume_queue_.reset(new_task_queue ? new_task_queue()
                                       : new ElasticTaskQueue(1024));
  });
  resume_queue_->enqueue([this, s]() mutable { Serve(std::move(s), true); });
}

bool BoundedHttpServer::process_and_close_socket(socket_t sock) {
  auto s = std::make_shared<Session>();
  s->conn = std::make_unique<Connection>(sock, &stopping_);
  s->web = web_->Current();
  s->remote = PeerAddress(sock);
  if (s->web->tls) {
    if (s->conn->Handshake(s->web->tls.get(), Clock::now() + limits_.head_timeout) !=
        Connection::Io::kOk) {
      log::Debug("TLS handshake failed or timed out", {{"remote", s->remote}});
      return false;
    }
    if (!ClientCertificateAllowed(s->conn->ssl(), s->web->config.tls.client_allowed_sans)) {
      log::Debug("client certificate not in client_allowed_sans", {{"remote", s->remote}});
      return false;
    }
  }
  Serve(std::move(s), false);
  return true;
}

namespace {
// When the request being dispatched on this thread arrived (see RequestArrival).
thread_local Clock::time_point current_request_arrival;
}  // namespace

Clock::time_point BoundedHttpServer::RequestArrival() { return current_request_arrival; }

void BoundedHttpServer::Serve(std::shared_ptr<Session> s, bool resumed) {
  Connection& conn = *s->conn;
  // The first request of this task may have waited for a thread, from the moment the
  // connection was accepted or became readable in the parker: that wait counts against its
  // scrape's timeout. Later requests arrive while this thread reads.
  bool first_of_task = true;
  const Clock::time_point task_enqueued_at =
      ElasticTaskQueue::CurrentTaskEnqueuedAt().value_or(Clock::now());
  const std::shared_ptr<const WebSecuritySnapshot>& web = s->web;
  const std::string& remote = s->remote;
  std::string& buf = s->buf;
  for (size_t& served = s->served; served < limits_.max_requests_per_connection && !stopping_;
       ++served, resumed = false) {
    // Between requests the connection waits without a thread (Parker), unless the next
    // request's bytes are already here.
    // A client sending requests back to back (a burst of scrapes, a load test) is kept for
    // a few milliseconds: parking and resuming costs two thread hand-overs.
    if (served > 0 && !resumed && buf.empty() &&
        !(conn.ssl() != nullptr && SSL_has_pending(conn.ssl())) &&
        !conn.ReadableWithin(limits_.linger_before_park)) {
      parker_->Park(std::move(s));
      return;
    }
    // Read one head: the first byte within head_timeout (it is there already when resumed
    // from the parker), the whole head within head_timeout of the first byte.
    HeadRead hr;
    Clock::time_point arrival = first_of_task ? task_enqueued_at : Clock::now();
    first_of_task = false;
    Clock::time_point first_byte_deadline = Clock::now() + limits_.head_timeout;
    Clock::time_point head_deadline{};
    if (!buf.empty()) head_deadline = Clock::now() + limits_.head_timeout;
    for (;;) {
      size_t end = buf.find("\r\n\r\n");
      size_t line_end = buf.find("\r\n");
      size_t line_len = line_end == std::string::npos ? buf.size() : line_end;
      if (line_len > limits_.max_request_line) {
        hr = {HeadRead::kError, 414, ""};
        break;
      }
      size_t header_bytes = end != std::string::npos ? end - line_len
                            : line_end != std::string::npos ? buf.size() - line_len
                                                             : 0;
      if (header_bytes > limits_.max_header_bytes) {
        hr = {HeadRead::kError, 431, ""};
        break;
      }
      if (end != std::string::npos) {
        hr = {HeadRead::kHead, 0, buf.substr(0, end)};
        buf.erase(0, end + 4);
        break;
      }
      bool idle = buf.empty();
      Connection::Io io = conn.Read(&buf, idle ? first_byte_deadline : head_deadline);
      if (io == Connection::Io::kOk) {
        // The first head must be complete within head_timeout of the connection being
        // ready; a later one within head_timeout of its first byte.
        if (idle) {
          head_deadline = served == 0 && !resumed ? first_byte_deadline
                                                  : Clock::now() + limits_.head_timeout;
          // A later request's wait starts with its first byte.
          if (served > 0 && !resumed) arrival = Clock::now();
        }
        continue;
      }
      // A client that went quiet between requests is closed silently; one that stopped in
      // the middle of a head gets 408.
      hr = {idle || io != Connection::Io::kTimeout ? HeadRead::kIdleClose : HeadRead::kError,
            idle || io != Connection::Io::kTimeout ? 0 : 408, ""};
      break;
    }
    if (hr.kind == HeadRead::kIdleClose) break;

    httplib::Request req;
    httplib::Response res;
    req.remote_addr = remote;
    bool close = true;
    if (hr.kind == HeadRead::kHead) {
      int bad = ParseHead(hr.head, limits_, &req);
      if (bad != 0) {
        res.status = bad;
        res.set_content(std::string(Reason(bad)) + "\n", "text/plain; charset=utf-8");
      } else {
        std::string connection = Lower(req.get_header_value("Connection"));
        bool keep_alive = req.version == "HTTP/1.1" ? connection.find("close") == std::string::npos
                                                    : connection.find("keep-alive") != std::string::npos;
        req.set_header("REMOTE_ADDR", remote);
        bool body_admitted = false;
        bool refused_body = false;
        if (const RouteEntry* body_route = BodyRoute(req)) {
          if (!body_route->admit(req, res)) {
            if (res.status < 400) res.status = 400;
            refused_body = true;
          } else if (req.has_header("Transfer-Encoding")) {
            res.status = 411;
            res.set_content("send the body with a Content-Length\n", "text/plain; charset=utf-8");
            refused_body = true;
          } else {
            const int body_status = ReadBody(*body_route, conn, buf, req);
            if (body_status < 0) break;
            if (body_status > 0) {
              res.status = body_status;
              res.set_content(std::string(Reason(body_status)) + "\n", "text/plain; charset=utf-8");
              refused_body = true;
            } else {
              body_admitted = true;
            }
          }
        }
        current_request_arrival = arrival;
        if (!refused_body) Dispatch(req, res, body_admitted);
        // Refused bodies are never read: the connection must close after them.
        refused_body = refused_body || res.status == 413 || res.status == 415;
        close = !keep_alive || refused_body || served + 1 >= limits_.max_requests_per_connection ||
                stopping_;
        if (logger_) logger_(req, res);
      }
    } else {
      res.status = hr.status;
      res.set_content(std::string(Reason(hr.status)) + "\n", "text/plain; charset=utf-8");
      log::Debug("http request refused before parsing",
                 {{"status", std::to_string(hr.status)}, {"remote", remote}});
      if (logger_) logger_(req, res);  // counted too, under an empty path
    }

    std::string out = "HTTP/1.1 " + std::to_string(res.status) + " " + Reason(res.status) + "\r\n";
    for (const auto& [k, v] : res.headers) {
      if (v.find_first_of("\r\n") != std::string::npos) continue;
      out += k + ": " + v + "\r\n";
    }
    for (const auto& [k, v] : web->config.headers) out += k + ": " + v + "\r\n";
    out += "Content-Length: " + std::to_string(res.body.size()) + "\r\n";
    out += close ? "Connection: close\r\n\r\n" : "Connection: keep-alive\r\n\r\n";
    if (req.method != "HEAD") out += res.body;
    if (conn.Write(out, Clock::now() + limits_.write_timeout) != Connection::Io::kOk) break;
    if (close) {
      if (res.status >= 400) conn.Linger();
      break;
    }
  }
}

void BoundedHttpServer::Dispatch(httplib::Request& req, httplib::Response& res,
                                 bool body_admitted) {
  res.status = -1;
  bool has_body = req.has_header("Transfer-Encoding") ||
                  (req.has_header("Content-Length") && req.get_header_value("Content-Length") != "0");
  if (!body_admitted && (has_body || req.has_header("Content-Encoding"))) {
    // Only RouteWithBody routes take a body (and admitted it before this); any other body is
    // refused unread and the connection closes.
    res.status = has_body ? 413 : 415;
    res.set_content(has_body ? "request bodies are not accepted\n"
                             : "content encodings are not accepted\n",
                    "text/plain; charset=utf-8");
    return;
  }
  // Authentication comes before routing, on every path (exporter-toolkit protects /-/healthy
  // too).
  std::shared_ptr<const WebSecuritySnapshot> web = web_->Current();
  if (!web->auth->open()) {
    BasicAuth::Verdict v = web->auth->Check(req.get_header_value("Authorization"));
    if (v != BasicAuth::Verdict::kAllowed) {
      res.status = 401;
      res.set_header("WWW-Authenticate", "Basic realm=\"mxtls_exporter\", charset=\"UTF-8\"");
      res.set_content("Unauthorized\n", "text/plain; charset=utf-8");
      if (v == BasicAuth::Verdict::kRateLimited) {
        log::Warn("basic auth: too many unknown credentials, not verified",
                  {{"remote", req.remote_addr}});
      }
      return;
    }
  }
  const std::string& method = req.method == "HEAD" ? std::string("GET") : req.method;
  bool path_known = false;
  for (const auto& r : routes_) {
    if (!std::regex_match(req.path, req.matches, r.pattern)) continue;
    path_known = true;
    if (r.method != method) continue;
    try {
      r.handler(req, res);
    } catch (const std::exception& e) {
      log::Error("http handler failed", {{"path", req.path}, {"error", e.what()}});
      res = httplib::Response();
      res.status = 500;
      res.set_content("internal error\n", "text/plain; charset=utf-8");
    }
    if (res.status == -1) res.status = 200;
    return;
  }
  res.status = path_known ? 405 : 404;
  res.set_content(path_known ? "Method Not Allowed\n" : "Not Found\n", "text/plain; charset=utf-8");
}

}  // namespace mxtls
