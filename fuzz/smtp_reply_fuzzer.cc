// Fuzz target: the SMTP reply parser and the checks built on it (probes/judgement/smtp_reply.h).
//
// Input layout: 3 control bytes, then the bytes a server sends.
//   byte 0     bits 0-1: which ReplyLimits (default, small, tiny, one short line);
//              bits 2-7: the receive size of the streaming replay (1-64 bytes, at least 1/256
//              of the input so that one input stays cheap).
//   bytes 1-2  the split point of the prefix check, modulo (size + 1).
//
// Besides "no crash", it checks what the header promises:
//   - consumed is within the buffer and ends on a LF; codes, line counts and lengths obey
//     the limits; an incomplete buffer never exceeds max_lines * (max_line_length + 2);
//   - prefixes agree with the whole: a reply complete in a prefix is the same reply in the
//     whole buffer, an error in a prefix stays that error, and a prefix shorter than the
//     reply is incomplete (no state is kept between calls, so growth must be monotonic);
//   - receiving the bytes in small pieces, as the engine does, yields the same replies and
//     the same final state as parsing everything at once (pipelining);
//   - every Status message is printable ASCII (server text goes through
//     SanitizeServerText), and SanitizeServerText round-trips and respects max_len.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "probes/judgement/smtp_reply.h"

namespace {

using mxtls::ParseOutcome;
using mxtls::ParseState;
using mxtls::ReplyLimits;
using mxtls::SmtpReply;
using mxtls_fuzz::IsPrintableAscii;

constexpr ReplyLimits kLimits[4] = {
    ReplyLimits{},     // 2048 bytes, 100 lines: what the engine uses
    ReplyLimits{64, 8},
    ReplyLimits{8, 2},
    ReplyLimits{3, 1},  // only a bare "NNN" line fits
};

bool SameReply(const SmtpReply& a, const SmtpReply& b) {
  return a.code == b.code && a.lines == b.lines && a.bare_lf == b.bare_lf;
}

bool SameOutcome(const ParseOutcome& a, const ParseOutcome& b) {
  if (a.state != b.state) return false;
  switch (a.state) {
    case ParseState::kIncomplete:
      return true;
    case ParseState::kComplete:
      return a.consumed == b.consumed && SameReply(a.reply, b.reply);
    case ParseState::kError:
      // The reason word is a label value: the same bytes must give the same word however
      // they were segmented. Check "smtp_reason_stable".
      return a.error.reason() == b.error.reason() ||
             !mxtls_fuzz::CheckEnabled("smtp_reason_stable");
  }
  return false;
}

void CheckOutcome(const ParseOutcome& out, std::string_view buffer, const ReplyLimits& limits) {
  switch (out.state) {
    case ParseState::kIncomplete:
      FUZZ_CHECK(out.consumed == 0);
      FUZZ_CHECK(out.error.ok());
      // The bound the header promises for what a server can make us hold.
      FUZZ_CHECK(buffer.size() <= limits.max_lines * (limits.max_line_length + 2));
      break;
    case ParseState::kComplete: {
      FUZZ_CHECK(out.error.ok());
      FUZZ_CHECK(out.consumed > 0 && out.consumed <= buffer.size());
      FUZZ_CHECK(buffer[out.consumed - 1] == '\n');
      const SmtpReply& r = out.reply;
      FUZZ_CHECK(r.code >= 200 && r.code <= 559);
      FUZZ_CHECK(!r.lines.empty() && r.lines.size() <= limits.max_lines);
      for (const std::string& line : r.lines) {
        FUZZ_CHECK(line.size() <= limits.max_line_length);
        FUZZ_CHECK(line.find('\n') == std::string::npos);
        FUZZ_CHECK(line.find('\0') == std::string::npos);
      }
      break;
    }
    case ParseState::kError:
      FUZZ_CHECK(out.error.reason() == "malformed_reply" ||
                 out.error.reason() == "reply_too_long");
      FUZZ_CHECK(IsPrintableAscii(out.error.message()));
      break;
  }
}

// All replies at the front of `buffer`, parsed the way the engine does: parse, erase what
// was consumed, parse again, until incomplete or an error.
struct Session {
  std::vector<SmtpReply> replies;
  std::vector<size_t> offsets;   // where each reply started in the received bytes
  std::vector<size_t> consumed;  // ParseOutcome::consumed of each reply
  ParseState final_state = ParseState::kIncomplete;
  std::string final_reason;
  std::string rest;  // unconsumed bytes when the final state is incomplete
};

// Appends `piece` to the session's buffer and parses what it can. Returns false once an
// error ended the session.
bool Receive(Session* s, std::string* buffer, size_t* base, std::string_view piece,
             const ReplyLimits& limits) {
  buffer->append(piece);
  for (;;) {
    ParseOutcome out = mxtls::ParseReply(*buffer, limits);
    CheckOutcome(out, *buffer, limits);
    if (out.state == ParseState::kComplete) {
      s->replies.push_back(std::move(out.reply));
      s->offsets.push_back(*base);
      s->consumed.push_back(out.consumed);
      *base += out.consumed;
      buffer->erase(0, out.consumed);
      continue;
    }
    s->final_state = out.state;
    s->final_reason = out.error.reason();
    s->rest = *buffer;
    return out.state != ParseState::kError;
  }
}

Session ParseAll(std::string_view bytes, size_t step, const ReplyLimits& limits) {
  Session s;
  std::string buffer;
  size_t base = 0;
  for (size_t at = 0; at < bytes.size(); at += step) {
    if (!Receive(&s, &buffer, &base, bytes.substr(at, step), limits)) break;
  }
  if (bytes.empty()) Receive(&s, &buffer, &base, {}, limits);
  return s;
}

// Undoes SanitizeServerText's escaping; false when `escaped` is not something it produces.
bool Unescape(std::string_view escaped, std::string* out) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (size_t i = 0; i < escaped.size(); ++i) {
    const char c = escaped[i];
    if (c != '\\') {
      if (c < 0x20 || c > 0x7e) return false;
      out->push_back(c);
      continue;
    }
    if (i + 3 >= escaped.size()) return false;
    if (escaped[i + 1] != 'x' || hex(escaped[i + 2]) < 0 || hex(escaped[i + 3]) < 0) {
      return false;
    }
    out->push_back(static_cast<char>(hex(escaped[i + 2]) * 16 + hex(escaped[i + 3])));
    i += 3;
  }
  return true;
}

size_t EscapedWidth(unsigned char c) { return (c >= 0x20 && c <= 0x7e && c != '\\') ? 1 : 4; }

void CheckSanitize(std::string_view text, size_t max_len) {
  const std::string out = mxtls::SanitizeServerText(text, max_len);
  FUZZ_CHECK(IsPrintableAscii(out));
  std::string decoded;
  if (out.size() <= max_len && Unescape(out, &decoded) && decoded == text) return;  // not cut
  // Cut: "..." follows the longest prefix whose escaped form fits.
  FUZZ_CHECK(out.size() >= 3 && out.compare(out.size() - 3, 3, "...") == 0);
  const std::string_view kept(out.data(), out.size() - 3);
  FUZZ_CHECK(kept.size() <= max_len);
  decoded.clear();
  FUZZ_CHECK(Unescape(kept, &decoded));
  FUZZ_CHECK(decoded.size() < text.size());
  FUZZ_CHECK(text.substr(0, decoded.size()) == decoded);
  FUZZ_CHECK(kept.size() + EscapedWidth(static_cast<unsigned char>(text[decoded.size()])) >
             max_len);
}

void CheckReplyChecks(const SmtpReply& reply) {
  mxtls::Status greeting = mxtls::CheckGreeting(reply);
  FUZZ_CHECK(greeting.ok() == (reply.code == 220));
  if (!greeting.ok()) {
    const std::string& r = greeting.reason();
    FUZZ_CHECK(r == "greeting_421" || r == "greeting_554" || r == "greeting_tempfail" ||
               r == "greeting_rejected" || r == "greeting_unexpected");
    FUZZ_CHECK(IsPrintableAscii(greeting.message()));
  }
  mxtls::Status starttls = mxtls::CheckStarttlsReply(reply);
  FUZZ_CHECK(starttls.ok() == (reply.code == 220));
  if (!starttls.ok()) {
    FUZZ_CHECK(starttls.reason() == "starttls_refused");
    FUZZ_CHECK(IsPrintableAscii(starttls.message()));
  }
  mxtls::Result<mxtls::EhloCapabilities> ehlo = mxtls::ParseEhloReply(reply);
  FUZZ_CHECK(ehlo.ok() == (reply.code == 250));
  if (!ehlo.ok()) {
    FUZZ_CHECK(ehlo.status().reason() == "ehlo_rejected");
    FUZZ_CHECK(IsPrintableAscii(ehlo.status().message()));
    return;
  }
  const mxtls::EhloCapabilities& caps = *ehlo;
  FUZZ_CHECK(caps.starttls == (caps.keywords.count("STARTTLS") > 0));
  FUZZ_CHECK(caps.pipelining == (caps.keywords.count("PIPELINING") > 0));
  FUZZ_CHECK(caps.params.size() == caps.keywords.size());
  for (const std::string& k : caps.keywords) {
    FUZZ_CHECK(caps.params.count(k) == 1);
    FUZZ_CHECK(k.find_first_of(" \t=") == std::string::npos);
    FUZZ_CHECK(std::none_of(k.begin(), k.end(), [](char c) { return c >= 'a' && c <= 'z'; }));
  }
  FUZZ_CHECK(caps.server_name.find_first_of(" \t") == std::string::npos);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const uint8_t options = data[0];
  const size_t split_seed = (size_t{data[1]} << 8) | data[2];
  const std::string_view bytes = mxtls_fuzz::AsText(data + 3, size - 3);
  const ReplyLimits& limits = kLimits[options & 3];

  // 1. The whole buffer at once.
  const ParseOutcome whole = mxtls::ParseReply(bytes, limits);
  CheckOutcome(whole, bytes, limits);

  // 2. A prefix must agree with the whole.
  const size_t split = split_seed % (bytes.size() + 1);
  const std::string prefix_copy(bytes.substr(0, split));  // own buffer: ASan sees overreads
  const ParseOutcome prefix = mxtls::ParseReply(prefix_copy, limits);
  CheckOutcome(prefix, prefix_copy, limits);
  switch (prefix.state) {
    case ParseState::kComplete:
    case ParseState::kError:
      FUZZ_CHECK(SameOutcome(prefix, whole));
      break;
    case ParseState::kIncomplete:
      if (whole.state == ParseState::kComplete) {
        FUZZ_CHECK(split < whole.consumed);
      }
      break;
  }
  if (whole.state == ParseState::kComplete && split < whole.consumed) {
    FUZZ_CHECK(prefix.state == ParseState::kIncomplete);
  }

  // 3. Received in pieces versus all at once, replies removed as they complete.
  const size_t step = std::max<size_t>(1 + (options >> 2), bytes.size() / 256 + 1);
  const Session at_once = ParseAll(bytes, std::max<size_t>(bytes.size(), 1), limits);
  const Session pieces = ParseAll(bytes, step, limits);
  FUZZ_CHECK(at_once.replies.size() == pieces.replies.size());
  for (size_t i = 0; i < at_once.replies.size(); ++i) {
    FUZZ_CHECK(SameReply(at_once.replies[i], pieces.replies[i]));
    FUZZ_CHECK(at_once.offsets[i] == pieces.offsets[i]);
  }
  FUZZ_CHECK(at_once.final_state == pieces.final_state);
  FUZZ_CHECK(at_once.final_reason == pieces.final_reason ||
             !mxtls_fuzz::CheckEnabled("smtp_reason_stable"));
  if (at_once.final_state == ParseState::kIncomplete) FUZZ_CHECK(at_once.rest == pieces.rest);

  // 4. The checks over each reply, and the STARTTLS injection check at each boundary.
  for (size_t i = 0; i < at_once.replies.size(); ++i) {
    CheckReplyChecks(at_once.replies[i]);
    FUZZ_CHECK(at_once.consumed[i] == pieces.consumed[i]);
    const std::string_view from_here = bytes.substr(at_once.offsets[i]);
    const size_t consumed = at_once.consumed[i];
    mxtls::Status injection = mxtls::CheckNothingAfterStarttlsReply(from_here, consumed);
    FUZZ_CHECK(injection.ok() == (consumed >= from_here.size()));
    if (!injection.ok()) {
      FUZZ_CHECK(injection.reason() == "starttls_injection");
      FUZZ_CHECK(IsPrintableAscii(injection.message()));
    }
  }

  // 5. Text helpers on raw bytes.
  CheckSanitize(bytes, split_seed % 300);
  CheckSanitize(bytes, 200);
  const std::string ehlo = mxtls::EhloCommand(bytes);
  FUZZ_CHECK(ehlo.size() >= 7 && ehlo.compare(0, 5, "EHLO ") == 0 &&
             ehlo.compare(ehlo.size() - 2, 2, "\r\n") == 0);
  FUZZ_CHECK(ehlo.substr(0, ehlo.size() - 2).find_first_of(std::string_view("\r\n\0", 3)) ==
             std::string::npos);
  return 0;
}
