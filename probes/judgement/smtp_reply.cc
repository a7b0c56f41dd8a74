#include "probes/judgement/smtp_reply.h"

#include <string>
#include <utility>

namespace mxtls {
namespace {

// How much server text goes into one message: enough to read a blocklist URL out of a
// 554, short enough that a hostile server cannot flood our logs.
constexpr size_t kServerTextMax = 200;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

ParseOutcome Failed(std::string_view reason, std::string message) {
  ParseOutcome out;
  out.state = ParseState::kError;
  out.error = Status::Error(reason, std::move(message));
  return out;
}

std::string Quote(std::string_view text) {
  return "\"" + SanitizeServerText(text, kServerTextMax) + "\"";
}

// The code of a line whose first three bytes CheckLine accepted.
int CodeOf(std::string_view content) {
  return (content[0] - '0') * 100 + (content[1] - '0') * 10 + (content[2] - '0');
}

std::string LineLabel(size_t line_no) { return "line " + std::to_string(line_no) + ": "; }

// Checks as much of one reply line as has arrived. `content` excludes the terminator;
// when `complete` is false it is a prefix of the line and only what is present is
// judged, so a hostile or broken server is caught without waiting for its LF.
// `expected_code` is the code of the reply's first line, or 0 on the first line.
Status CheckLine(std::string_view content, bool complete, int expected_code, size_t line_no) {
  // RFC 5321 §4.2: reply codes are 2yz-5yz, and the second digit is 0-5.
  static constexpr char kMin[3] = {'2', '0', '0'};
  static constexpr char kMax[3] = {'5', '5', '9'};
  for (size_t i = 0; i < 3 && i < content.size(); ++i) {
    char c = content[i];
    if (!IsDigit(c) || c < kMin[i] || c > kMax[i]) {
      return Status::Error("malformed_reply",
                           LineLabel(line_no) + "no valid reply code in " + Quote(content));
    }
  }
  if (content.size() < 3) {
    if (!complete) return Status();
    return Status::Error("malformed_reply",
                         LineLabel(line_no) + "line too short: " + Quote(content));
  }
  int code = CodeOf(content);
  if (expected_code != 0 && code != expected_code) {
    return Status::Error("malformed_reply", LineLabel(line_no) + "code " + std::to_string(code) +
                                                " differs from " + std::to_string(expected_code) +
                                                " on line 1");
  }
  if (content.size() > 3 && content[3] != '-' && content[3] != ' ') {
    return Status::Error("malformed_reply",
                         LineLabel(line_no) + "bad separator after code in " + Quote(content));
  }
  return Status();
}

char ToUpper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ToUpper(c);
  return out;
}

std::string_view Trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t";
  size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  size_t end = s.find_last_not_of(kSpace);
  return s.substr(begin, end - begin + 1);
}

// "421 <text>" for messages.
std::string CodeAndText(const SmtpReply& reply) {
  return std::to_string(reply.code) + " " + Quote(reply.Text());
}

}  // namespace

std::string SmtpReply::Text() const {
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) out += ' ';
    out += lines[i];
  }
  return out;
}

ParseOutcome ParseReply(std::string_view buffer, const ReplyLimits& limits) {
  SmtpReply reply;
  size_t pos = 0;
  for (size_t line_no = 1;; ++line_no) {
    std::string_view rest = buffer.substr(pos);
    size_t lf = rest.find('\n');
    bool complete = lf != std::string_view::npos;
    std::string_view content = complete ? rest.substr(0, lf) : rest;
    // On a partial line a trailing CR may be the first half of CRLF, so it is not
    // counted against the length limit either way.
    bool crlf = !content.empty() && content.back() == '\r';
    if (crlf) content.remove_suffix(1);

    // The checks run in the order in which the bytes they look at arrive (code and
    // separator, then NUL bytes within the length limit, then the limit itself), so the
    // verdict on a reply never depends on how the network split it into reads.
    const bool too_long = content.size() > limits.max_line_length;
    Status line_status = CheckLine(content, complete && !too_long, reply.code, line_no);
    if (!line_status.ok()) return Failed(line_status.reason(), line_status.message());
    // A NUL cannot be carried through C strings downstream, and no honest server
    // sends one (RFC 5321 §4.2 reply text is printable US-ASCII plus SP and HT).
    std::string_view within_limit = content.substr(0, limits.max_line_length);
    if (within_limit.find('\0') != std::string_view::npos) {
      return Failed("malformed_reply",
                    LineLabel(line_no) + "NUL byte in " + Quote(within_limit));
    }
    if (too_long) {
      return Failed("reply_too_long", LineLabel(line_no) + "longer than " +
                                          std::to_string(limits.max_line_length) + " bytes");
    }
    if (!complete) return ParseOutcome{};

    if (!crlf) reply.bare_lf = true;
    reply.code = CodeOf(content);
    reply.lines.emplace_back(content.size() > 4 ? content.substr(4) : std::string_view());
    pos += lf + 1;

    bool last = content.size() == 3 || content[3] == ' ';
    if (last) {
      ParseOutcome out;
      out.state = ParseState::kComplete;
      out.reply = std::move(reply);
      out.consumed = pos;
      return out;
    }
    // Fail as soon as the reply announces line max_lines + 1, rather than when it
    // arrives: waiting would only let the server make us buffer more.
    if (reply.lines.size() >= limits.max_lines) {
      return Failed("reply_too_long",
                    "more than " + std::to_string(limits.max_lines) + " lines in one reply");
    }
  }
}

Status CheckNothingAfterStarttlsReply(std::string_view buffer, size_t consumed) {
  if (consumed >= buffer.size()) return Status();
  std::string_view extra = buffer.substr(consumed);
  return Status::Error("starttls_injection",
                       std::to_string(extra.size()) +
                           " plaintext bytes followed the 220 answer to STARTTLS: " + Quote(extra));
}

Status CheckGreeting(const SmtpReply& reply) {
  if (reply.code == 220) return Status();
  std::string message = "greeting " + CodeAndText(reply);
  // 421 and 554 get their own words: both are how servers say "not you" (RFC 5321
  // §3.1 and §4.3.2), typically because the prober's address is on a blocklist.
  if (reply.code == 421) return Status::Error("greeting_421", std::move(message));
  if (reply.code == 554) return Status::Error("greeting_554", std::move(message));
  if (reply.code >= 400 && reply.code < 500) {
    return Status::Error("greeting_tempfail", std::move(message));
  }
  if (reply.code >= 500 && reply.code < 600) {
    return Status::Error("greeting_rejected", std::move(message));
  }
  return Status::Error("greeting_unexpected", std::move(message));
}

Result<EhloCapabilities> ParseEhloReply(const SmtpReply& reply) {
  if (reply.code != 250) {
    return Status::Error("ehlo_rejected", "EHLO answered " + CodeAndText(reply));
  }
  EhloCapabilities caps;
  if (reply.lines.empty()) return caps;

  std::string_view first = Trim(reply.lines[0]);
  caps.server_name = std::string(first.substr(0, first.find_first_of(" \t")));

  for (size_t i = 1; i < reply.lines.size(); ++i) {
    std::string_view line = Trim(reply.lines[i]);
    if (line.empty()) continue;
    // Like Postfix, '=' also ends a keyword, so the pre-RFC "AUTH=LOGIN PLAIN" still
    // reads as AUTH. Anything else glued to a keyword makes it a different keyword.
    size_t end = line.find_first_of(" \t=");
    std::string keyword = Upper(line.substr(0, end));
    std::string_view rest =
        end == std::string_view::npos ? std::string_view() : line.substr(end + 1);
    caps.params.emplace(keyword, std::string(Trim(rest)));
    caps.keywords.insert(std::move(keyword));
  }
  caps.starttls = caps.keywords.count("STARTTLS") > 0;
  caps.pipelining = caps.keywords.count("PIPELINING") > 0;
  return caps;
}

Status CheckStarttlsReply(const SmtpReply& reply) {
  if (reply.code == 220) return Status();
  // One word for every refusal: whether a 454 is temporary is the server's claim,
  // and to a sender requiring TLS both outcomes mean the mail cannot go out now.
  return Status::Error("starttls_refused", "STARTTLS answered " + CodeAndText(reply));
}

std::string SanitizeServerText(std::string_view text, size_t max_len) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    // '\' is escaped too, so a literal "\x00" in server text cannot pass for a NUL.
    bool keep = c >= 0x20 && c <= 0x7e && c != '\\';
    size_t width = keep ? 1 : 4;
    if (out.size() + width > max_len) return out + "...";
    if (keep) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  return out;
}

std::string EhloCommand(std::string_view name) {
  std::string command = "EHLO ";
  for (char c : name) {
    if (c != '\r' && c != '\n' && c != '\0') command += c;
  }
  command += "\r\n";
  return command;
}

}  // namespace mxtls
