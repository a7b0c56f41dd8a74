#include "tests/support/https_fixture_server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <climits>

#include "tests/support/tls_server_context.h"

namespace mxtls::testing {
namespace {

// The longest request head the server buffers; a client sending more is dropped.
constexpr size_t kMaxRequestBytes = 64 * 1024;
// How often a waiting connection looks at the stop flag.
constexpr int kPollMillis = 50;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool HasHeader(const HttpsResponse& response, const std::string& name) {
  return std::any_of(response.headers.begin(), response.headers.end(),
                     [&](const auto& h) { return Lower(h.first) == Lower(name); });
}

std::string ChunkOf(std::string_view data) {
  char size[32];
  snprintf(size, sizeof(size), "%zx\r\n", data.size());
  return size + std::string(data) + "\r\n";
}

// The body as it goes on the wire. `last` adds the chunked terminator.
std::string Frame(const HttpsResponse& response, const std::string& body, bool last) {
  if (response.framing != HttpsResponse::Framing::kChunked) return body;
  std::string out;
  size_t step = std::max<size_t>(1, response.chunk_size);
  for (size_t i = 0; i < body.size(); i += step) {
    out += ChunkOf(std::string_view(body).substr(i, step));
  }
  if (last) out += "0\r\n\r\n";
  return out;
}

}  // namespace

HttpsResponse HttpsResponse::Ok(std::string body, std::string content_type) {
  HttpsResponse r;
  r.headers = {{"Content-Type", std::move(content_type)}};
  r.body = std::move(body);
  return r;
}

HttpsResponse HttpsResponse::Redirect(std::string location, int status) {
  HttpsResponse r;
  r.status = status;
  r.reason = status == 302 ? "Found" : "Moved Permanently";
  r.headers = {{"Location", std::move(location)}, {"Content-Type", "text/html"}};
  r.body = "<html><body>moved</body></html>\n";
  return r;
}

HttpsResponse HttpsResponse::NotFound() {
  HttpsResponse r;
  r.status = 404;
  r.reason = "Not Found";
  r.headers = {{"Content-Type", "text/html"}};
  r.body = "<html><body>not found</body></html>\n";
  return r;
}

// ---------------------------------------------------------------------------------------
// One connection, on its own thread.

class HttpsFixtureServer::Connection {
 public:
  Connection(HttpsFixtureServer* server, int fd, HttpsRequestRecord* record)
      : server_(server), fd_(fd), record_(record) {}

  void Run() {
    // Small writes (a head, a close_notify) must not wait for delayed ACKs: ~40 ms each.
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (!Handshake()) return;
    if (!ReadRequest()) return;
    HttpsRequestRecord request;
    {
      std::lock_guard<std::mutex> lock(server_->mu_);
      request = *record_;
    }
    HttpsResponse response = server_->ResponseFor(request);
    if (response.never_answer) {
      WaitUntilClientLeaves();
      return;
    }
    if (response.close_after_request) {
      Close(response);
      return;
    }
    if (!response.raw.empty()) {
      Write(response.raw);
      Close(response);
      return;
    }
    if (!Respond(response)) return;
    Record([](HttpsRequestRecord& r) { r.response_complete = true; });
    Close(response);
  }

 private:
  bool Handshake() {
    const HttpsFixtureServer& server = *server_;
    ssl_.reset(SSL_new(server.contexts_[server.default_context_].ctx.get()));
    if (!ssl_ || SSL_set_fd(ssl_.get(), fd_) != 1) {
      std::string error = "SSL_new: " + DrainOpenSslErrors();
      Record([&](HttpsRequestRecord& r) { r.tls_error = error; });
      ssl_.reset();
      return false;
    }
    SSL_set_app_data(ssl_.get(), record_);
    ERR_clear_error();
    int rc = SSL_accept(ssl_.get());
    if (rc != 1) {
      std::string error = DrainOpenSslErrors();
      if (error.empty()) {
        error = "SSL_accept failed: SSL_get_error " + std::to_string(SSL_get_error(ssl_.get(), rc));
      }
      Record([&](HttpsRequestRecord& r) { r.tls_error = error; });
      ssl_.reset();
      return false;
    }
    std::string version = SSL_get_version(ssl_.get());
    Record([&](HttpsRequestRecord& r) {
      r.tls_established = true;
      r.tls_version = version;
    });
    return true;
  }

  // Reads one request head and records it. False when the client left or sent nonsense.
  bool ReadRequest() {
    size_t end;
    for (;;) {
      end = in_.find("\r\n\r\n");
      if (end != std::string::npos) break;
      if (in_.size() > kMaxRequestBytes || !Fill()) return false;
    }
    std::string head = in_.substr(0, end + 2);
    HttpsRequestRecord parsed;
    size_t pos = 0;
    bool first = true;
    while (pos < head.size()) {
      size_t eol = head.find("\r\n", pos);
      std::string line = head.substr(pos, eol - pos);
      pos = eol + 2;
      if (first) {
        parsed.request_line = line;
        size_t sp1 = line.find(' ');
        size_t sp2 = line.find(' ', sp1 == std::string::npos ? sp1 : sp1 + 1);
        parsed.method = line.substr(0, sp1);
        if (sp1 != std::string::npos) parsed.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
        first = false;
        continue;
      }
      size_t colon = line.find(':');
      std::string name = line.substr(0, colon);
      std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.erase(0, 1);
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();
      if (Lower(name) == "host" && !parsed.host) parsed.host = value;
      parsed.headers.emplace_back(std::move(name), std::move(value));
    }
    Record([&](HttpsRequestRecord& r) {
      r.request_received = true;
      r.request_line = parsed.request_line;
      r.method = parsed.method;
      r.target = parsed.target;
      r.headers = parsed.headers;
      r.host = parsed.host;
    });
    return true;
  }

  bool Respond(const HttpsResponse& response) {
    std::string head =
        "HTTP/1.1 " + std::to_string(response.status) + " " + response.reason + "\r\n";
    for (const auto& [name, value] : response.headers) head += name + ": " + value + "\r\n";
    if (response.framing == HttpsResponse::Framing::kContentLength &&
        !HasHeader(response, "Content-Length")) {
      head += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
    }
    if (response.framing == HttpsResponse::Framing::kChunked &&
        !HasHeader(response, "Transfer-Encoding")) {
      head += "Transfer-Encoding: chunked\r\n";
    }
    if (!HasHeader(response, "Connection")) head += "Connection: close\r\n";
    head += "\r\n";
    if (!Write(head)) return false;
    if (response.endless_body) {
      std::string piece = Frame(response, response.body.empty() ? "x" : response.body, false);
      for (;;) {
        if (!SendBody(piece, response.byte_delay)) return false;
      }
    }
    return SendBody(Frame(response, response.body, true), response.byte_delay);
  }

  bool SendBody(const std::string& data, std::chrono::milliseconds byte_delay) {
    if (byte_delay.count() <= 0) {
      if (!Write(data)) return false;
      Record([&](HttpsRequestRecord& r) { r.bytes_sent_after_head += data.size(); });
      return true;
    }
    for (char c : data) {
      if (!server_->Sleep(byte_delay)) return false;
      if (!Write(std::string_view(&c, 1))) return false;
      Record([](HttpsRequestRecord& r) { r.bytes_sent_after_head += 1; });
    }
    return true;
  }

  void Close(const HttpsResponse& response) {
    if (response.close_notify && ssl_) SSL_shutdown(ssl_.get());
    ERR_clear_error();
  }

  // Reads and discards until the client leaves or the server stops.
  void WaitUntilClientLeaves() {
    char buf[4096];
    for (;;) {
      if (server_->Stopping()) return;
      pollfd pfd{fd_, POLLIN, 0};
      int rc = poll(&pfd, 1, kPollMillis);
      if (rc < 0 && errno != EINTR) return;
      if (rc <= 0) continue;
      int n = SSL_read(ssl_.get(), buf, sizeof(buf));
      if (n <= 0) {
        int error = SSL_get_error(ssl_.get(), n);
        ERR_clear_error();
        if (error != SSL_ERROR_WANT_READ) return;
      }
    }
  }

  bool Fill() {
    char buf[16384];
    int n = SSL_read(ssl_.get(), buf, sizeof(buf));
    if (n <= 0) {
      ERR_clear_error();
      return false;
    }
    in_.append(buf, static_cast<size_t>(n));
    return true;
  }

  bool Write(std::string_view data) {
    while (!data.empty()) {
      if (server_->Stopping()) return false;
      int chunk = static_cast<int>(std::min<size_t>(data.size(), 16384));
      int n = SSL_write(ssl_.get(), data.data(), chunk);
      if (n <= 0) {
        ERR_clear_error();
        return false;
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  void Record(const std::function<void(HttpsRequestRecord&)>& change) {
    server_->Update(record_, change);
  }

  HttpsFixtureServer* server_;
  int fd_;
  HttpsRequestRecord* record_;
  SslPtr ssl_;
  std::string in_;
};

// ---------------------------------------------------------------------------------------
// HttpsFixtureServer

HttpsFixtureServer::HttpsFixtureServer(HttpsFixtureOptions options, const std::string& address,
                                       uint16_t port)
    : options_(std::move(options)), response_(options_.response) {
  std::vector<CertEntry> entries = options_.certs;
  if (entries.empty()) {
    CertSpec spec;
    spec.common_name = "mta-sts.test";
    spec.dns_sans = {"mta-sts.test"};
    entries.push_back(CertEntry::FromCerts({}, MakeSelfSigned(spec)));
  }
  ServerTlsSettings tls;
  tls.servername_callback = &HttpsFixtureServer::OnServerName;
  tls.servername_arg = this;
  bool have_default = false;
  for (size_t i = 0; i < entries.size(); ++i) {
    TlsContext context;
    for (const std::string& name : entries[i].sni_names) {
      context.names.push_back(NormalizeName(name));
    }
    context.ctx =
        BuildServerContext(entries[i].chain_pem, entries[i].key_pem, tls, "https_fixture_server");
    if (context.names.empty() && !have_default) {
      default_context_ = i;
      have_default = true;
    }
    contexts_.push_back(std::move(context));
  }
  tcp_ = std::make_unique<RawTcpFixture>(
      address, port, [this](int fd) { Serve(fd); }, options_.io_timeout);
}

HttpsFixtureServer::~HttpsFixtureServer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  tcp_.reset();  // joins every connection thread before the contexts and records go
}

const std::string& HttpsFixtureServer::address() const { return tcp_->address(); }
uint16_t HttpsFixtureServer::port() const { return tcp_->port(); }
size_t HttpsFixtureServer::connection_count() const { return tcp_->connection_count(); }

void HttpsFixtureServer::SetResponse(HttpsResponse response) {
  std::lock_guard<std::mutex> lock(mu_);
  response_ = std::move(response);
}

size_t HttpsFixtureServer::request_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return std::count_if(records_.begin(), records_.end(),
                       [](const auto& r) { return r->request_received; });
}

std::vector<HttpsRequestRecord> HttpsFixtureServer::records() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<HttpsRequestRecord> out;
  out.reserve(records_.size());
  for (const auto& record : records_) out.push_back(*record);
  return out;
}

bool HttpsFixtureServer::WaitForFinished(size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return finished_ >= n; });
}

void HttpsFixtureServer::Update(HttpsRequestRecord* record,
                                const std::function<void(HttpsRequestRecord&)>& change) {
  std::lock_guard<std::mutex> lock(mu_);
  change(*record);
}

HttpsResponse HttpsFixtureServer::ResponseFor(const HttpsRequestRecord& request) const {
  if (options_.respond) return options_.respond(request);
  std::lock_guard<std::mutex> lock(mu_);
  return response_;
}

bool HttpsFixtureServer::Stopping() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stopping_;
}

bool HttpsFixtureServer::Sleep(std::chrono::milliseconds duration) const {
  std::unique_lock<std::mutex> lock(mu_);
  return !cv_.wait_for(lock, duration, [&] { return stopping_; });
}

// Records the SNI and switches to the context whose names match it.
int HttpsFixtureServer::OnServerName(SSL* ssl, int* /*alert*/, void* arg) {
  auto* server = static_cast<HttpsFixtureServer*>(arg);
  auto* record = static_cast<HttpsRequestRecord*>(SSL_get_app_data(ssl));
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (name == nullptr) return SSL_TLSEXT_ERR_OK;
  if (record != nullptr) {
    std::string sni = name;
    server->Update(record, [&](HttpsRequestRecord& r) { r.sni = sni; });
  }
  SwitchContextForName(ssl, name, server->contexts_);
  return SSL_TLSEXT_ERR_OK;
}

void HttpsFixtureServer::Serve(int fd) {
  auto record = std::make_shared<HttpsRequestRecord>();
  record->peer = PeerName(fd);
  {
    std::lock_guard<std::mutex> lock(mu_);
    records_.push_back(record);
    record->id = records_.size();
  }
  try {
    Connection(this, fd, record.get()).Run();
  } catch (...) {
    // Recorded as finished all the same.
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    record->finished = true;
    ++finished_;
  }
  cv_.notify_all();
}

}  // namespace mxtls::testing
