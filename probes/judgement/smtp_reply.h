// SMTP reply handling without sockets (RFC 5321 §4.2): an incremental parser a
// non-blocking engine can call on its receive buffer, and pure checks that turn the
// greeting, EHLO and STARTTLS replies into facts or a Status with a fixed reason word.
//
// Reason words produced here (stable; they become label values):
//   malformed_reply, reply_too_long                      ParseReply
//   greeting_421, greeting_554, greeting_tempfail,
//   greeting_rejected, greeting_unexpected               CheckGreeting
//   ehlo_rejected                                        ParseEhloReply
//   starttls_refused                                     CheckStarttlsReply
//   starttls_injection                                   CheckNothingAfterStarttlsReply
#pragma once

#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace mxtls {

// One complete reply: a code and the text of each of its lines.
struct SmtpReply {
  int code = 0;  // 200..559 once parsed
  // Text after "NNN-", "NNN " or a bare "NNN", with the line terminator stripped.
  // Always at least one entry in a parsed reply.
  std::vector<std::string> lines;
  // True when at least one line ended in a bare LF instead of CRLF. Accepted, since
  // many real servers do it, but worth recording as a fact about the server.
  bool bare_lf = false;

  // The lines joined by single spaces. Raw server text: escape it with
  // SanitizeServerText before it goes into a log or message.
  std::string Text() const;
};

// Bounds on what a server can make us buffer. The defaults are generous (RFC 5321
// §4.5.3.1.5 allows 512 octets per reply line) so odd-but-working servers still pass.
struct ReplyLimits {
  size_t max_line_length = 2048;  // bytes of one line, excluding its CRLF / LF
  size_t max_lines = 100;         // lines of one reply
};

enum class ParseState {
  kIncomplete,  // no complete reply at the front yet: read more and call again
  kComplete,    // `reply` and `consumed` are set
  kError,       // `error` is set; the connection cannot be trusted any further
};

struct ParseOutcome {
  ParseState state = ParseState::kIncomplete;
  SmtpReply reply;      // set when kComplete
  size_t consumed = 0;  // when kComplete: bytes at the front of the buffer the reply used
  Status error;         // set when kError: reason "malformed_reply" or "reply_too_long"
};

// Looks for one complete reply at the front of `buffer` (bytes received so far, the
// previous replies already removed). Nothing is copied or kept between calls: the
// caller appends what it receives, calls again, and on kComplete erases the first
// `consumed` bytes. Bytes beyond `consumed` belong to a later reply (pipelining).
//
// Errors are reported as soon as the received bytes prove them: a line that is
// already longer than `limits.max_line_length` before its LF arrives, a bad code
// prefix, a NUL byte, or a reply that already has `max_lines` lines and announces
// another. So the buffer a server can make us hold is bounded by
// about max_lines * (max_line_length + 2) bytes, which also bounds the rescan each
// call does (no state is kept between calls).
//
// Accepted line syntax: three digits (first 2-5, second 0-5), then '-' (more lines
// follow), ' ' (last line) or the end of the line (a bare "250" is a last line),
// ended by CRLF or a bare LF. Every line of one reply must carry the same code.
ParseOutcome ParseReply(std::string_view buffer, const ReplyLimits& limits = {});

// After the 220 answer to STARTTLS the receive buffer must be empty: anything the
// server (or a man in the middle) sent along with it arrived in plaintext and must not
// be read as if it came over TLS (the STARTTLS response-injection class of bugs).
// `buffer` and `consumed` are those passed to and returned by ParseReply.
// OK when nothing follows; otherwise reason "starttls_injection".
Status CheckNothingAfterStarttlsReply(std::string_view buffer, size_t consumed);

// Classifies the server greeting. 220 → OK; 421 → "greeting_421"; 554 →
// "greeting_554"; other 4xx → "greeting_tempfail"; other 5xx → "greeting_rejected";
// anything else → "greeting_unexpected". The message quotes the server's text
// (escaped, truncated), since a 421/554 often says the prober's own address is listed.
Status CheckGreeting(const SmtpReply& reply);

// What a server announced in its 250 answer to EHLO (RFC 5321 §4.1.1.1).
struct EhloCapabilities {
  std::string server_name;  // first word of the first line; may be empty
  // Keyword of each extension line (the lines after the first), uppercased.
  std::set<std::string> keywords;
  // Keyword → the rest of its line, trimmed ("SIZE" → "35882577"). The first line
  // announcing a keyword wins; keywords without parameters map to "".
  std::map<std::string, std::string> params;
  bool starttls = false;
  bool pipelining = false;
};

// Parses the answer to EHLO. Any code but 250 → reason "ehlo_rejected". A keyword is
// the first token of an extension line, case-insensitive and whole: "XSTARTTLS" and
// "STARTTLSX" are not STARTTLS. A one-line "250 mx.example.com" has no extensions.
Result<EhloCapabilities> ParseEhloReply(const SmtpReply& reply);

// The answer to STARTTLS: 220 → OK; anything else → "starttls_refused" with the code
// and the server's text in the message.
Status CheckStarttlsReply(const SmtpReply& reply);

// Server text made safe for logs and messages: printable ASCII is kept except '\',
// every other byte (and '\') becomes "\xNN". At most `max_len` characters of escaped
// text are kept, never splitting an escape; "..." is appended when anything was cut.
std::string SanitizeServerText(std::string_view text, size_t max_len);

// "EHLO <name>\r\n". `name` should be a validated hostname or address literal; CR, LF
// and NUL are dropped so that a bad name can never smuggle in a second command.
std::string EhloCommand(std::string_view name);

inline constexpr std::string_view kStarttlsCommand = "STARTTLS\r\n";
inline constexpr std::string_view kQuitCommand = "QUIT\r\n";

}  // namespace mxtls
