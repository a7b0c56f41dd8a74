// Fuzz target: the HTTP/1.x response-head parser and the chunked-body decoder used for
// MTA-STS policy fetches (probes/https_fetch.h; the socket side is not involved).
//
// Input layout: 3 control bytes, then the bytes a server sends.
//   byte 0     bits 0-1: head limits (default 16 KiB / 100 headers, 256 B / 4, 64 B / 1,
//              default bytes / 0 headers); bits 2-7: receive size for the chunked decoder
//              replay (1-64 bytes, at least 1/256 of the input).
//   bytes 1-2  split point of the prefix check, modulo (size + 1).
//
// Checks beyond "no crash":
//   - a complete head ends on a LF within the data and within max_bytes, has at most
//     max_headers headers whose names are tokens and whose values are trimmed and free of
//     control characters, a status 100-599, and Find() finds each header;
//   - a prefix agrees with the whole (complete in the prefix => the same head; an error in
//     the prefix => an error in the whole; incomplete whole => incomplete prefix);
//   - an incomplete head never holds more than max_bytes (the buffer bound);
//   - the chunked decoder gives the same body, state and leftover bytes whether the body
//     arrives at once or in pieces, never produces more bytes than it was given, and an
//     error is sticky;
//   - error messages are printable ASCII (server text is quoted through SanitizeServerText).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "probes/https_fetch.h"

namespace {

using mxtls::ChunkedDecoder;
using mxtls::HttpHeadParse;
using mxtls::HttpParseState;
using mxtls_fuzz::IsPrintableAscii;

struct HeadLimits {
  size_t max_bytes;
  size_t max_headers;
};
constexpr HeadLimits kLimits[4] = {
    {mxtls::kMaxHttpHeadBytes, mxtls::kMaxHttpHeaders},
    {256, 4},
    {64, 1},
    {mxtls::kMaxHttpHeadBytes, 0},
};

bool IsTchar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

void CheckHead(const HttpHeadParse& p, std::string_view data, const HeadLimits& limits) {
  switch (p.state) {
    case HttpParseState::kIncomplete:
      FUZZ_CHECK(p.error.empty());
      FUZZ_CHECK(data.size() <= limits.max_bytes);
      FUZZ_CHECK(std::string_view("HTTP/").substr(0, std::min<size_t>(data.size(), 5)) ==
                 data.substr(0, 5));
      break;
    case HttpParseState::kError:
      FUZZ_CHECK(!p.error.empty());
      FUZZ_CHECK(IsPrintableAscii(p.error));
      FUZZ_CHECK(p.head.headers.empty() && p.head.status_code == 0);
      break;
    case HttpParseState::kComplete: {
      const mxtls::HttpResponseHead& h = p.head;
      FUZZ_CHECK(h.size > 0 && h.size <= data.size() && h.size <= limits.max_bytes);
      FUZZ_CHECK(data[h.size - 1] == '\n');
      FUZZ_CHECK(data.substr(0, 5) == "HTTP/");
      FUZZ_CHECK(h.status_code >= 100 && h.status_code <= 599);
      FUZZ_CHECK(h.version_minor >= 0 && h.version_minor <= 9);
      FUZZ_CHECK(h.headers.size() <= limits.max_headers);
      for (const auto& [name, value] : h.headers) {
        FUZZ_CHECK(!name.empty() && std::all_of(name.begin(), name.end(), IsTchar));
        FUZZ_CHECK(value.empty() || (value.front() != ' ' && value.front() != '\t' &&
                                     value.back() != ' ' && value.back() != '\t'));
        FUZZ_CHECK(std::none_of(value.begin(), value.end(), [](char ch) {
          const auto c = static_cast<unsigned char>(ch);
          return (c < 0x20 && c != '\t') || c == 0x7f;
        }));
        FUZZ_CHECK(h.Find(name) != nullptr);
      }
      for (char ch : h.reason_phrase) {
        const auto c = static_cast<unsigned char>(ch);
        FUZZ_CHECK(!((c < 0x20 && c != '\t') || c == 0x7f));
      }
      break;
    }
  }
}

bool SameHead(const HttpHeadParse& a, const HttpHeadParse& b) {
  if (a.state != b.state) return false;
  if (a.state != HttpParseState::kComplete) return true;
  return a.head.size == b.head.size && a.head.status_code == b.head.status_code &&
         a.head.version_minor == b.head.version_minor &&
         a.head.reason_phrase == b.head.reason_phrase && a.head.headers == b.head.headers;
}

struct Decoded {
  HttpParseState state = HttpParseState::kIncomplete;
  std::string body;
  std::string leftover;  // bytes after the last chunk and trailers when complete
  std::string error;
};

// Feeds `bytes` to a fresh decoder in pieces of `step` bytes, like the fetch loop does
// (it keeps the unconsumed tail in its buffer and appends what it reads next).
Decoded Decode(std::string_view bytes, size_t step) {
  Decoded d;
  ChunkedDecoder decoder;
  std::string in;
  size_t given = 0;
  for (size_t at = 0; at < bytes.size() || at == 0; at += step) {
    const std::string_view piece = bytes.substr(std::min(at, bytes.size()), step);
    in.append(piece);
    given += piece.size();
    const size_t before = d.body.size();
    d.state = decoder.Feed(in, d.body);
    FUZZ_CHECK(d.body.size() >= before);
    if (d.state == HttpParseState::kError) {
      d.error = decoder.error();
      FUZZ_CHECK(!d.error.empty() && IsPrintableAscii(d.error));
      // An error is final: feeding more changes nothing.
      std::string more = "0\r\n\r\n";
      std::string out_more;
      FUZZ_CHECK(decoder.Feed(more, out_more) == HttpParseState::kError);
      FUZZ_CHECK(out_more.empty());
      break;
    }
    // Decoded bytes come from the input; framing bytes are dropped; the rest is kept in `in`.
    FUZZ_CHECK(d.body.size() + in.size() <= given);
    if (bytes.empty()) break;
  }
  d.leftover = in;
  return d;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const uint8_t options = data[0];
  const size_t split_seed = (size_t{data[1]} << 8) | data[2];
  const std::string_view bytes = mxtls_fuzz::AsText(data + 3, size - 3);
  const HeadLimits& limits = kLimits[options & 3];

  // 1. The head, whole and as a prefix.
  const HttpHeadParse whole =
      mxtls::ParseHttpResponseHead(bytes, limits.max_bytes, limits.max_headers);
  CheckHead(whole, bytes, limits);
  const size_t split = split_seed % (bytes.size() + 1);
  const std::string prefix_copy(bytes.substr(0, split));  // own buffer: ASan sees overreads
  const HttpHeadParse prefix =
      mxtls::ParseHttpResponseHead(prefix_copy, limits.max_bytes, limits.max_headers);
  CheckHead(prefix, prefix_copy, limits);
  if (prefix.state != HttpParseState::kIncomplete) FUZZ_CHECK(SameHead(prefix, whole));
  if (whole.state == HttpParseState::kIncomplete) {
    FUZZ_CHECK(prefix.state == HttpParseState::kIncomplete);
  }
  if (whole.state == HttpParseState::kComplete) {
    FUZZ_CHECK((split < whole.head.size) == (prefix.state == HttpParseState::kIncomplete));
  }

  // 2. The body as a chunked stream: after a complete head, else the whole input.
  const std::string_view body =
      whole.state == HttpParseState::kComplete ? bytes.substr(whole.head.size) : bytes;
  const size_t step = std::max<size_t>(1 + (options >> 2), body.size() / 256 + 1);
  const Decoded at_once = Decode(body, std::max<size_t>(body.size(), 1));
  const Decoded pieces = Decode(body, step);
  FUZZ_CHECK(at_once.state == pieces.state);
  if (at_once.state == HttpParseState::kError) {
    // The body decoded before the error may differ (pieces stop earlier); the verdict not.
    return 0;
  }
  FUZZ_CHECK(at_once.body == pieces.body);
  if (at_once.state == HttpParseState::kComplete) FUZZ_CHECK(at_once.leftover == pieces.leftover);
  return 0;
}
