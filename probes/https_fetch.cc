#include "probes/https_fetch.h"

#include <openssl/err.h>

#include <algorithm>
#include <asio/ip/tcp.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/this_coro.hpp>
#include <asio/write.hpp>
#include <cctype>

#include "probes/chain_interner.h"
#include "probes/endpoint_probe.h"
#include "probes/judgement/smtp_reply.h"
#include "probes/socket_watchdog.h"
#include "probes/tls_client_context.h"

namespace mxtls {
namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

constexpr size_t kReadChunk = 16 * 1024;
// A chunk-size line is a few hex digits and maybe an extension; nobody needs more.
constexpr size_t kMaxChunkLineBytes = 4096;
constexpr size_t kMaxTrailerBytes = kMaxHttpHeadBytes;
// 1xx responses skipped before the final one ("100 Continue" and friends).
constexpr int kMaxInterimResponses = 8;
// How much server text goes into a message.
constexpr size_t kQuoteMax = 60;

// ---------------------------------------------------------------------------------------
// Parsing helpers

bool IsTchar(char c) {
  if (std::isalnum(static_cast<unsigned char>(c))) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// CTL other than HTAB (RFC 9110 field values allow HTAB, SP, VCHAR and obs-text).
bool HasControl(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && u != '\t') || u == 0x7f;
  });
}

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Quote(std::string_view text) {
  return "\"" + SanitizeServerText(text, kQuoteMax) + "\"";
}

// Splits a comma-separated field value into trimmed, non-empty elements.
std::vector<std::string> SplitList(std::string_view value) {
  std::vector<std::string> out;
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view item = TrimOws(value.substr(0, comma));
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return out;
}

// "HTTP/1.1 200 OK". The reason phrase may be empty or missing with its space.
bool ParseStatusLine(std::string_view line, HttpResponseHead* head, std::string* error) {
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (line.size() < 12 || line.compare(0, 5, "HTTP/") != 0 || !digit(line[5]) ||
      line[6] != '.' || !digit(line[7]) || line[8] != ' ' || !digit(line[9]) ||
      !digit(line[10]) || !digit(line[11]) || (line.size() > 12 && line[12] != ' ')) {
    *error = "malformed status line " + Quote(line);
    return false;
  }
  if (line[5] != '1') {
    *error = "unsupported HTTP version in " + Quote(line);
    return false;
  }
  int code = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
  if (code < 100 || code > 599) {
    *error = "status code out of range in " + Quote(line);
    return false;
  }
  std::string_view reason = line.size() > 12 ? line.substr(13) : std::string_view();
  if (HasControl(reason)) {
    *error = "control character in the status line " + Quote(line);
    return false;
  }
  head->version_minor = line[7] - '0';
  head->status_code = code;
  head->reason_phrase = std::string(reason);
  return true;
}

// How the body of a response is delimited (RFC 9112 §6.3, as a client that sent a GET).
struct Framing {
  enum class Kind { kNone, kLength, kChunked, kUntilClose };
  Kind kind = Kind::kUntilClose;
  uint64_t length = 0;
  std::string error;  // non-empty: the framing headers are unusable
};

Framing DecideFraming(const HttpResponseHead& head) {
  Framing f;
  int code = head.status_code;
  if ((code >= 100 && code < 200) || code == 204 || code == 304) {
    f.kind = Framing::Kind::kNone;
    return f;
  }
  std::vector<std::string> codings;
  bool has_te = false;
  std::vector<std::string> lengths;
  for (const auto& [name, value] : head.headers) {
    if (EqualsIgnoreCase(name, "Transfer-Encoding")) {
      has_te = true;
      for (std::string& c : SplitList(value)) codings.push_back(Lower(c));
    } else if (EqualsIgnoreCase(name, "Content-Length")) {
      std::vector<std::string> items = SplitList(value);
      if (items.empty()) items.emplace_back();
      for (std::string& item : items) lengths.push_back(std::move(item));
    }
  }
  // Transfer-Encoding overrides Content-Length. We asked for no coding, so only plain
  // "chunked" is usable; anything else would need a decoder we do not have.
  if (has_te) {
    if (codings.size() == 1 && codings[0] == "chunked") {
      f.kind = Framing::Kind::kChunked;
    } else {
      std::string joined;
      for (const std::string& c : codings) joined += (joined.empty() ? "" : ", ") + c;
      f.error = "unsupported transfer coding " + Quote(joined);
    }
    return f;
  }
  if (!lengths.empty()) {
    for (const std::string& item : lengths) {
      bool digits = !item.empty() && item.size() <= 18 &&
                    std::all_of(item.begin(), item.end(), [](char c) { return c >= '0' && c <= '9'; });
      if (!digits) {
        f.error = "invalid Content-Length " + Quote(item);
        return f;
      }
      if (item != lengths.front()) {
        f.error = "conflicting Content-Length values";
        return f;
      }
    }
    f.kind = Framing::Kind::kLength;
    f.length = std::stoull(lengths.front());
    return f;
  }
  f.kind = Framing::Kind::kUntilClose;
  return f;
}

// Host and path become part of the request: refuse anything that could split it.
bool UsableHost(std::string_view host) {
  return !host.empty() && host.size() <= 253 &&
         std::all_of(host.begin(), host.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' ||
                  c == '_';
         });
}

bool UsablePath(std::string_view path) {
  return !path.empty() && path.front() == '/' &&
         std::none_of(path.begin(), path.end(), [](char c) {
           auto u = static_cast<unsigned char>(c);
           return u <= 0x20 || u >= 0x7f;
         });
}

std::string BuildRequest(const HttpsFetchSpec& spec) {
  // RFC 9112 §3.2: Host is the URI's authority, which carries the port when it is not the
  // scheme's default (only ever the case in tests).
  std::string host = spec.port == 443 ? spec.host : spec.host + ":" + std::to_string(spec.port);
  return "GET " + spec.path + " HTTP/1.1\r\nHost: " + host +
         "\r\nUser-Agent: mxtls_exporter\r\nAccept: text/plain\r\nConnection: close\r\n\r\n";
}

// ---------------------------------------------------------------------------------------
// The fetch

// Helpers that fill the result; plain functions, not lambdas, inside the coroutine.
struct Fetch {
  HttpsFetchSpec spec;
  HttpsFetchEnv env;
  HttpsFetchResult r;
  std::string who;

  void Log(const std::string& line) {
    if (env.log) env.log->Add(who + ": " + line);
  }
  void Fail(const std::string& stage, const std::string& reason, const std::string& message) {
    r.failure_stage = stage;
    r.failure_reason = reason;
    r.failure_message = message;
    Log(stage + " failed: " + reason + ": " + message);
  }
  // A failed read or write after the connection was up.
  void IoFail(const std::string& stage, const asio::error_code& ec, const SocketWatchdog& w) {
    Status failure = IoFailure(ec, w);
    Fail(stage, failure.reason(), failure.message());
    ERR_clear_error();
  }
};

// Appends the body bytes at the front of `buf` (moving them out of it) under `framing`.
// Returns true when the body is complete.
bool TakeBody(Fetch& f, const Framing& framing, ChunkedDecoder& chunked, std::string& buf,
              bool* malformed) {
  std::string& body = f.r.body;
  switch (framing.kind) {
    case Framing::Kind::kNone:
      return true;
    case Framing::Kind::kLength: {
      size_t want = static_cast<size_t>(framing.length - body.size());
      size_t take = std::min(want, buf.size());
      body.append(buf, 0, take);
      buf.erase(0, take);
      return body.size() == framing.length;
    }
    case Framing::Kind::kChunked: {
      HttpParseState state = chunked.Feed(buf, body);
      if (state == HttpParseState::kError) *malformed = true;
      return state == HttpParseState::kComplete;
    }
    case Framing::Kind::kUntilClose:
      body += buf;
      buf.clear();
      return false;
  }
  return false;
}

asio::awaitable<void> Run(Fetch& f) {
  const HttpsFetchSpec& spec = f.spec;
  HttpsFetchResult& r = f.r;

  asio::error_code addr_ec;
  asio::ip::address address = asio::ip::make_address(spec.address, addr_ec);
  if (addr_ec) {
    f.Fail("connect", "bad_request", "not an IP address: " + Quote(spec.address));
    co_return;
  }
  if (!UsableHost(spec.host) || !UsablePath(spec.path)) {
    f.Fail("request", "bad_request", "unusable host or path: " + Quote(spec.host + spec.path));
    co_return;
  }

  auto executor = co_await asio::this_coro::executor;
  auto w = std::make_shared<SocketWatchdog>(executor, "progress", "fetch deadline");

  // Connect.
  w->StartPhase("connect", spec.connect_timeout, spec.deadline);
  // Connect turns on TCP_NODELAY: the request follows the client's last handshake flight at
  // once, and Nagle would hold it until the server's delayed ACK.
  Status connected = co_await w->Connect(asio::ip::tcp::endpoint(address, spec.port));
  if (!connected.ok()) {
    f.Fail("connect", connected.reason(), connected.message());
    w->Finish();
    co_return;
  }
  r.connected = true;
  f.Log("connected");

  // TLS handshake with SNI. The chain is captured during the handshake and judged afterwards,
  // so a bad certificate never fails the handshake: the caller decides what it means.
  w->StartPhase("handshake", spec.handshake_timeout, spec.deadline);
  asio::ssl::stream<asio::ip::tcp::socket&> tls(w->socket(), *f.env.tls);
  ChainCapture capture;
  AttachChainCapture(tls.native_handle(), &capture);
  SSL_set_tlsext_host_name(tls.native_handle(), spec.host.c_str());
  auto [handshake_ec] = co_await tls.async_handshake(asio::ssl::stream_base::client, kNoThrow);
  if (!capture.presented.empty()) {
    std::vector<X509*> chain;
    for (const auto& c : capture.presented) chain.push_back(c.get());
    r.cert = JudgeCertificate(chain, f.env.trust, spec.host, f.env.clock->Now());
    f.Log("certificate: " + r.cert->leaf().subject + " (" + r.cert->chain.reason + ", " +
          std::to_string(capture.presented.size()) + " presented)");
    r.chain = ChainInterner::Global().Intern(std::move(capture.presented));
    capture.presented.clear();
  }
  if (handshake_ec) {
    Status failure = HandshakeFailure(handshake_ec, *w);
    f.Fail("handshake", failure.reason(), failure.message());
    ERR_clear_error();
    w->Finish();
    co_return;
  }
  r.tls_ok = true;
  r.tls_version = SSL_get_version(tls.native_handle());
  f.Log("TLS established: " + r.tls_version);
  if (!r.cert) {
    f.Fail("handshake", "no_certificate", "the server presented no certificate");
    w->Finish();
    co_return;
  }

  // From here on only the deadline limits the fetch.
  w->StartPhase("response", spec.deadline);
  std::string request = BuildRequest(spec);
  auto [write_ec, written] = co_await asio::async_write(tls, asio::buffer(request), kNoThrow);
  if (write_ec) {
    f.IoFail("request", write_ec, *w);
    w->Finish();
    co_return;
  }

  // The response head; 1xx interim responses are skipped.
  std::string buf;
  std::vector<char> chunk(kReadChunk);
  HttpResponseHead head;
  int interim = 0;
  for (;;) {
    HttpHeadParse parse = ParseHttpResponseHead(buf);
    if (parse.state == HttpParseState::kError) {
      f.Fail("response", "http_malformed", parse.error);
      w->Finish();
      co_return;
    }
    if (parse.state == HttpParseState::kComplete) {
      buf.erase(0, parse.head.size);
      int code = parse.head.status_code;
      if (code >= 100 && code < 200 && code != 101) {
        if (++interim > kMaxInterimResponses) {
          f.Fail("response", "http_malformed", "too many 1xx interim responses");
          w->Finish();
          co_return;
        }
        continue;
      }
      head = std::move(parse.head);
      break;
    }
    auto [read_ec, n] = co_await tls.async_read_some(asio::buffer(chunk), kNoThrow);
    buf.append(chunk.data(), n);
    if (read_ec) {
      if (!w->timed_out() && IsCleanEnd(read_ec) && !buf.empty()) {
        f.Fail("response", "http_malformed",
               "the connection closed inside the response headers");
        ERR_clear_error();
      } else {
        f.IoFail("response", read_ec, *w);
      }
      w->Finish();
      co_return;
    }
  }
  r.status_code = head.status_code;
  if (const std::string* v = head.Find("Content-Type")) r.content_type = *v;
  if (const std::string* v = head.Find("Location")) r.location = *v;
  f.Log("HTTP " + std::to_string(head.status_code) + " " +
        SanitizeServerText(head.reason_phrase, kQuoteMax) +
        (r.content_type.empty() ? "" : ", Content-Type " + Quote(r.content_type)) +
        (r.location.empty() ? "" : ", Location " + Quote(r.location)));

  // The body.
  Framing framing = DecideFraming(head);
  if (!framing.error.empty()) {
    f.Fail("body", "http_malformed", framing.error);
    w->Finish();
    co_return;
  }
  if (framing.kind == Framing::Kind::kLength && framing.length > spec.max_body) {
    // Declared too large: do not read any of it.
    r.body_truncated = true;
    f.Fail("body", "body_too_large",
           "Content-Length " + std::to_string(framing.length) + " exceeds the limit of " +
               std::to_string(spec.max_body) + " bytes");
    w->Finish();
    co_return;
  }
  ChunkedDecoder chunked;
  for (;;) {
    bool malformed = false;
    bool complete = TakeBody(f, framing, chunked, buf, &malformed);
    if (malformed) {
      f.Fail("body", "http_malformed", chunked.error());
      w->Finish();
      co_return;
    }
    if (r.body.size() > spec.max_body) {
      // Stop at once: a server streaming without end must not keep us reading.
      r.body.resize(spec.max_body);
      r.body_truncated = true;
      f.Fail("body", "body_too_large",
             "the body exceeds the limit of " + std::to_string(spec.max_body) + " bytes");
      w->Finish();
      co_return;
    }
    if (complete) break;
    auto [read_ec, n] = co_await tls.async_read_some(asio::buffer(chunk), kNoThrow);
    buf.append(chunk.data(), n);
    if (!read_ec) continue;
    if (!w->timed_out() && IsCleanEnd(read_ec)) {
      if (framing.kind == Framing::Kind::kUntilClose) {
        // The end of the body. (A close without close_notify is accepted, as browsers do;
        // a cut policy fails to parse or lacks its mx lines, which fails safe.)
        TakeBody(f, framing, chunked, buf, &malformed);
        if (r.body.size() > spec.max_body) continue;  // reported at the top of the loop
        ERR_clear_error();
        break;
      }
      std::string where = framing.kind == Framing::Kind::kLength
                              ? "after " + std::to_string(r.body.size()) + " of " +
                                    std::to_string(framing.length) + " body bytes"
                              : "inside the chunked body";
      f.Fail("body", "closed", "the connection closed " + where);
      ERR_clear_error();
    } else {
      f.IoFail("body", read_ec, *w);
    }
    w->Finish();
    co_return;
  }
  f.Log("body: " + std::to_string(r.body.size()) + " bytes");
  w->Finish();
}

}  // namespace

asio::awaitable<HttpsFetchResult> FetchHttps(HttpsFetchSpec spec, HttpsFetchEnv env) {
  const SteadyTime start = std::chrono::steady_clock::now();
  Fetch f;
  f.who = spec.host + " [" + spec.address + "]:" + std::to_string(spec.port);
  f.spec = std::move(spec);
  f.env = std::move(env);
  co_await Run(f);
  f.r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ERR_clear_error();
  co_return std::move(f.r);
}

// ---------------------------------------------------------------------------------------
// Parser

const std::string* HttpResponseHead::Find(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (EqualsIgnoreCase(n, name)) return &v;
  }
  return nullptr;
}

HttpHeadParse ParseHttpResponseHead(std::string_view data, size_t max_bytes,
                                    size_t max_headers) {
  HttpHeadParse out;
  auto fail = [&out](std::string message) {
    out.state = HttpParseState::kError;
    out.error = std::move(message);
    out.head = {};
    return out;
  };
  // Reject what cannot become "HTTP/" at once: a server answering with garbage (or an SMTP
  // banner) must not keep us waiting for a line end.
  constexpr std::string_view kPrefix = "HTTP/";
  size_t prefix_len = std::min(data.size(), kPrefix.size());
  if (data.substr(0, prefix_len) != kPrefix.substr(0, prefix_len)) {
    return fail("not an HTTP response: " + Quote(data.substr(0, kQuoteMax)));
  }
  size_t pos = 0;
  bool status_line = true;
  for (;;) {
    size_t nl = data.find('\n', pos);
    if (nl == std::string_view::npos || nl + 1 > max_bytes) {
      if (data.size() > max_bytes || nl != std::string_view::npos) {
        return fail("response headers exceed " + std::to_string(max_bytes) + " bytes");
      }
      return out;  // incomplete
    }
    std::string_view line = data.substr(pos, nl - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = nl + 1;
    if (status_line) {
      std::string error;
      if (!ParseStatusLine(line, &out.head, &error)) return fail(error);
      status_line = false;
      continue;
    }
    if (line.empty()) {
      out.state = HttpParseState::kComplete;
      out.head.size = pos;
      return out;
    }
    if (line.front() == ' ' || line.front() == '\t') {
      return fail("obsolete header line folding: " + Quote(line));
    }
    if (out.head.headers.size() >= max_headers) {
      return fail("more than " + std::to_string(max_headers) + " response headers");
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0 ||
        !std::all_of(line.begin(), line.begin() + colon, IsTchar)) {
      return fail("malformed header line " + Quote(line));
    }
    std::string_view value = TrimOws(line.substr(colon + 1));
    if (HasControl(value)) return fail("control character in header line " + Quote(line));
    out.head.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
  }
}

HttpParseState ChunkedDecoder::Fail(std::string message) {
  step_ = Step::kError;
  error_ = std::move(message);
  return HttpParseState::kError;
}

HttpParseState ChunkedDecoder::Feed(std::string& in, std::string& out) {
  size_t pos = 0;
  HttpParseState result = HttpParseState::kIncomplete;
  for (;;) {
    if (step_ == Step::kError) return HttpParseState::kError;
    if (step_ == Step::kDone) {
      result = HttpParseState::kComplete;
      break;
    }
    if (step_ == Step::kData) {
      size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, in.size() - pos));
      out.append(in, pos, take);
      pos += take;
      remaining_ -= take;
      if (remaining_ > 0) break;
      step_ = Step::kDataEnd;
      continue;
    }
    if (step_ == Step::kDataEnd) {
      // Exactly CRLF (or a bare LF) after the data; anything else is a framing error, seen
      // without waiting for a line end.
      if (pos == in.size()) break;
      if (in[pos] == '\n') {
        pos += 1;
      } else if (in[pos] == '\r') {
        if (pos + 1 == in.size()) break;
        if (in[pos + 1] != '\n') return Fail("chunk data not followed by CRLF");
        pos += 2;
      } else {
        return Fail("chunk data longer than its size");
      }
      step_ = Step::kSize;
      continue;
    }
    // kSize and kTrailer read whole lines.
    size_t nl = in.find('\n', pos);
    size_t line_bytes = (nl == std::string::npos ? in.size() : nl + 1) - pos;
    if (step_ == Step::kSize && line_bytes > kMaxChunkLineBytes) {
      return Fail("chunk-size line longer than " + std::to_string(kMaxChunkLineBytes) + " bytes");
    }
    if (step_ == Step::kTrailer && trailer_bytes_ + line_bytes > kMaxTrailerBytes) {
      return Fail("chunked trailer section larger than " + std::to_string(kMaxTrailerBytes) +
                  " bytes");
    }
    if (nl == std::string::npos) break;
    std::string_view line(in.data() + pos, nl - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = nl + 1;
    if (step_ == Step::kTrailer) {
      trailer_bytes_ += line_bytes;
      if (line.empty()) step_ = Step::kDone;
      continue;
    }
    // chunk-size [ BWS ";" chunk-ext ]
    uint64_t size = 0;
    size_t digits = 0;
    while (digits < line.size() && std::isxdigit(static_cast<unsigned char>(line[digits]))) {
      if (digits == 15) return Fail("chunk size too large: " + Quote(line));
      char c = static_cast<char>(std::tolower(static_cast<unsigned char>(line[digits])));
      size = size * 16 + static_cast<uint64_t>(c <= '9' ? c - '0' : c - 'a' + 10);
      ++digits;
    }
    std::string_view rest = TrimOws(line.substr(digits));
    if (digits == 0 || (!rest.empty() && rest.front() != ';')) {
      return Fail("malformed chunk-size line " + Quote(line));
    }
    if (size == 0) {
      step_ = Step::kTrailer;
    } else {
      remaining_ = size;
      step_ = Step::kData;
    }
  }
  in.erase(0, pos);
  return result;
}

}  // namespace mxtls
