// A small, bounded HTTPS GET for MTA-STS policy fetches (RFC 8461 §3.3): connect to an address
// the caller already resolved, handshake with SNI while capturing the presented chain, judge
// that chain like an MX's, send one HTTP/1.1 GET and read one response with our own parser,
// under one deadline and fixed size limits. It reports facts (status, media type, Location,
// body, certificate) and never judges the policy: that is the caller's job.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/ssl/context.hpp>
#include <openssl/x509.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "probes/judgement/domain_report.h"
#include "probes/judgement/probe_log.h"

namespace mxtls {

// Limits on what a server may make us buffer before the body.
inline constexpr size_t kMaxHttpHeadBytes = 16 * 1024;  // status line + headers + blank line
inline constexpr size_t kMaxHttpHeaders = 100;

struct HttpsFetchSpec {
  // The policy host, e.g. "mta-sts.example.com": sent as SNI, used in the Host header and the
  // name the certificate must match.
  std::string host;
  // Numeric IPv4 or IPv6 address, already resolved by the caller. Nothing is resolved here.
  std::string address;
  uint16_t port = 443;
  // Request target; must start with '/' and contain no spaces or control characters.
  std::string path = "/.well-known/mta-sts.txt";
  // The largest body accepted. A larger one ends the fetch with "body_too_large".
  size_t max_body = 65536;
  // The whole fetch (connect to the last body byte) ends by this time.
  std::chrono::steady_clock::time_point deadline;
  // Per-phase limits, each also capped by `deadline`.
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(5)};
  std::chrono::milliseconds handshake_timeout{std::chrono::seconds(10)};
};

// Shared, read-only pieces. `tls` (from MakeProbeSslContext), `trust` and `clock` must not be
// null and must stay valid until the coroutine completes. `log` is optional.
struct HttpsFetchEnv {
  asio::ssl::context* tls = nullptr;
  X509_STORE* trust = nullptr;
  const Clock* clock = nullptr;
  std::shared_ptr<ProbeLog> log;
};

// What one fetch saw. Fields are filled as far as the fetch got.
struct HttpsFetchResult {
  bool connected = false;
  bool tls_ok = false;  // the handshake completed (whatever the certificate)
  std::string tls_version;
  // The presented chain judged for spec.host, when the server presented one; also kept when the
  // handshake failed after the certificate arrived.
  std::optional<CertificateReport> cert;
  // The presented chain `cert` was judged from (leaf first), so that a remembered fetch can be
  // judged again later with another clock. Null when no certificate was presented.
  std::shared_ptr<const std::vector<X509Ptr>> chain;

  int status_code = 0;        // of the final response; 0 when none was read
  std::string content_type;   // the Content-Type value as sent (parameters kept), "" if absent
  std::string location;       // the Location value as sent; never followed
  std::string body;           // decoded (de-chunked); at most spec.max_body bytes
  bool body_truncated = false;  // the body exceeded spec.max_body (failure "body_too_large")

  // Empty when a complete response was read. Otherwise a fixed word (a label value):
  //   bad_request     spec.address is not an IP address, or host/path are unusable
  //   timeout         a phase limit or the deadline ran out
  //   refused         connection refused
  //   unreachable     network/host unreachable, address family not available
  //   connect_error   any other connect failure
  //   handshake       the TLS handshake failed
  //   no_certificate  the handshake completed without a server certificate
  //   closed          the server closed before a complete response (no bytes, or a body cut
  //                   short of its Content-Length or last chunk)
  //   reset           the server reset the connection
  //   io_error        any other read/write error
  //   http_malformed  not HTTP, a bad status line, header or chunk framing, headers over
  //                   kMaxHttpHeadBytes / kMaxHttpHeaders, or an unsupported transfer coding
  //   body_too_large  the body exceeds spec.max_body (body_truncated is set)
  std::string failure_reason;
  std::string failure_stage;    // "connect", "handshake", "request", "response", "body"
  std::string failure_message;  // for people
  double seconds = 0;           // the whole fetch

  bool ok() const { return failure_reason.empty(); }
};

// Never throws for anything the network does. Completes by spec.deadline (plus scheduling
// slack): one watchdog timer closes the socket when time is up, so a server trickling one byte
// a second is cut off at the deadline. Leaves this thread's OpenSSL error queue empty.
asio::awaitable<HttpsFetchResult> FetchHttps(HttpsFetchSpec spec, HttpsFetchEnv env);

// ---- The response parser, exposed for table-driven tests. Pure; no I/O. ----

struct HttpResponseHead {
  int version_minor = 1;  // HTTP/1.x
  int status_code = 0;
  std::string reason_phrase;
  // In the order sent; names as sent, values without surrounding whitespace.
  std::vector<std::pair<std::string, std::string>> headers;
  size_t size = 0;  // bytes of the head, through the blank line

  // The first value of header `name` (case-insensitive), or nullptr.
  const std::string* Find(std::string_view name) const;
};

enum class HttpParseState { kIncomplete, kComplete, kError };

struct HttpHeadParse {
  HttpParseState state = HttpParseState::kIncomplete;
  HttpResponseHead head;  // when kComplete
  std::string error;      // when kError
};

// Parses one response head at the start of `data`. Lines end with CRLF (a bare LF is
// tolerated). Fails as soon as the bytes cannot be an HTTP/1.x response (so garbage is
// rejected without waiting for a line end) or the head exceeds `max_bytes` or `max_headers`.
HttpHeadParse ParseHttpResponseHead(std::string_view data, size_t max_bytes = kMaxHttpHeadBytes,
                                    size_t max_headers = kMaxHttpHeaders);

// Incremental decoder of a chunked body (RFC 9112 §7.1). Chunk extensions are ignored;
// trailers are read and dropped. Chunk-size lines and the trailer section are bounded.
class ChunkedDecoder {
 public:
  // Consumes what it can from the front of `in` and appends decoded bytes to `out`. Returns
  // kComplete after the last chunk and its trailers (bytes after them stay in `in`).
  HttpParseState Feed(std::string& in, std::string& out);
  const std::string& error() const { return error_; }

 private:
  enum class Step { kSize, kData, kDataEnd, kTrailer, kDone, kError };
  HttpParseState Fail(std::string message);

  Step step_ = Step::kSize;
  uint64_t remaining_ = 0;     // of the current chunk's data
  size_t trailer_bytes_ = 0;
  std::string error_;
};

}  // namespace mxtls
