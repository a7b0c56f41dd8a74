// A scripted HTTPS server on loopback for tests of the MTA-STS policy fetch: serves one
// request per connection with a configurable certificate (chosen by SNI) and a response that
// can be bent into real-world failures (redirects, wrong media types, oversize, chunked or
// trickled bodies, bodies without end, garbage instead of HTTP, silence after the handshake),
// and records what each client sent (SNI, request line, headers) for assertions.
//
// Built on RawTcpFixture: one accept thread and one blocking thread per connection, with
// receive/send timeouts. The destructor stops every connection promptly, including one that
// trickles a body or waits forever. Setup errors throw std::runtime_error.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/openssl_util.h"
#include "tests/support/smtp_fixture_server.h"

namespace mxtls::testing {

// What the server answers to a request.
struct HttpsResponse {
  enum class Framing {
    kContentLength,  // "Content-Length: <body size>" is added
    kChunked,        // "Transfer-Encoding: chunked" is added; the body goes in chunk_size pieces
    kClose,          // no length: the body ends when the server closes
  };

  int status = 200;
  std::string reason = "OK";
  // Sent in this order, byte for byte. The framing header above is added only when the same
  // header is not already here (so a test can send a wrong Content-Length).
  std::vector<std::pair<std::string, std::string>> headers = {{"Content-Type", "text/plain"}};
  std::string body;
  Framing framing = Framing::kContentLength;
  size_t chunk_size = 7;  // kChunked: body bytes per chunk (at least 1)
  // > 0: everything after the head goes out one byte at a time, with this pause before each.
  std::chrono::milliseconds byte_delay{0};
  // The body is sent again and again until the client leaves (use with kClose or kChunked).
  bool endless_body = false;
  // Non-empty: these bytes are sent (over TLS) instead of a response, then the server closes.
  std::string raw;
  // Read the request, then send nothing and wait until the client leaves.
  bool never_answer = false;
  // Read the request, then close without a byte of response (after close_notify if set).
  bool close_after_request = false;
  // Send a TLS close_notify before closing; false: just the TCP FIN (a truncated stream).
  bool close_notify = true;

  static HttpsResponse Ok(std::string body, std::string content_type = "text/plain");
  static HttpsResponse Redirect(std::string location, int status = 301);
  static HttpsResponse NotFound();
};

// What one connection saw.
struct HttpsRequestRecord {
  size_t id = 0;       // 1-based, in accept order
  std::string peer{};  // "127.0.0.1:port" or "[::1]:port"
  std::optional<std::string> sni{};  // nullopt: the client sent no SNI
  bool tls_established = false;
  std::string tls_version{};
  std::string tls_error{};  // why the handshake failed
  bool request_received = false;  // a complete request head arrived
  std::string request_line{};     // "GET /.well-known/mta-sts.txt HTTP/1.1"
  std::string method{};
  std::string target{};
  std::vector<std::pair<std::string, std::string>> headers{};  // names and values as sent
  std::optional<std::string> host{};                           // the Host header
  size_t bytes_sent_after_head = 0;  // body bytes as framed on the wire
  bool response_complete = false;    // the whole response was written
  bool finished = false;             // the server is done with the connection
};

struct HttpsFixtureOptions {
  // Empty: one default entry, a self-signed certificate for "mta-sts.test".
  std::vector<CertEntry> certs{};
  HttpsResponse response{};
  // Set: called (on the connection's thread) for each request instead of using `response`.
  std::function<HttpsResponse(const HttpsRequestRecord&)> respond{};
  std::chrono::milliseconds io_timeout = std::chrono::seconds(5);
};

// Thread-safe: every method may be called from any thread.
class HttpsFixtureServer {
 public:
  explicit HttpsFixtureServer(HttpsFixtureOptions options = {},
                              const std::string& address = "127.0.0.1", uint16_t port = 0);
  ~HttpsFixtureServer();
  HttpsFixtureServer(const HttpsFixtureServer&) = delete;
  HttpsFixtureServer& operator=(const HttpsFixtureServer&) = delete;

  const std::string& address() const;
  uint16_t port() const;

  // Replaces the response for connections accepted from now on (not with `respond` set).
  void SetResponse(HttpsResponse response);

  size_t connection_count() const;
  // Connections on which a complete request arrived.
  size_t request_count() const;
  // Snapshots, in accept order.
  std::vector<HttpsRequestRecord> records() const;
  // Waits until `n` connections are finished. False on timeout.
  bool WaitForFinished(size_t n, std::chrono::milliseconds timeout) const;

 private:
  struct TlsContext {
    std::vector<std::string> names;  // lower-case, no trailing dot
    SslCtxPtr ctx;
  };
  class Connection;

  static int OnServerName(SSL* ssl, int* alert, void* arg);
  void Serve(int fd);
  void Update(HttpsRequestRecord* record, const std::function<void(HttpsRequestRecord&)>& change);
  HttpsResponse ResponseFor(const HttpsRequestRecord& request) const;
  bool Stopping() const;
  // Sleeps for `duration` unless the server is stopping. False when stopping.
  bool Sleep(std::chrono::milliseconds duration) const;

  const HttpsFixtureOptions options_;
  std::vector<TlsContext> contexts_;  // immutable after construction
  size_t default_context_ = 0;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;  // stop, and every finished connection
  bool stopping_ = false;               // guarded by mu_
  HttpsResponse response_;              // guarded by mu_
  std::vector<std::shared_ptr<HttpsRequestRecord>> records_;  // guarded by mu_
  size_t finished_ = 0;                                       // guarded by mu_

  // Last: it starts accepting when built and must be gone before the members above.
  std::unique_ptr<RawTcpFixture> tcp_;
};

}  // namespace mxtls::testing
