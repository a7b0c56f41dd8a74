#include "probes/judgement/smtp_reply.h"

#include <catch2/catch.hpp>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace mxtls {
namespace {

using namespace std::string_literals;  // "...\0..."s keeps embedded NUL bytes

// Members a case may leave out carry `{}`: with designated initializers, GCC 12 warns
// (-Wmissing-field-initializers) about omitted members that have no initializer.
struct ParseCase {
  std::string name;
  std::string input;
  ReplyLimits limits = {};
  ParseState state = ParseState::kIncomplete;
  std::string reason{};  // when kError
  int code = 0;
  std::vector<std::string> lines{};
  size_t consumed = 0;
  bool bare_lf = false;
};

const std::vector<ParseCase>& ParseCases() {
  using S = ParseState;
  static const ReplyLimits kShortLines{.max_line_length = 10};
  static const ReplyLimits kThreeLines{.max_lines = 3};
  static const std::vector<ParseCase> cases = {
      // Complete replies.
      {.name = "single-line 220",
       .input = "220 mx.example.com ESMTP\r\n",
       .state = S::kComplete,
       .code = 220,
       .lines = {"mx.example.com ESMTP"},
       .consumed = 26},
      {.name = "multi-line greeting",
       .input = "220-a\r\n220-b\r\n220 c\r\n",
       .state = S::kComplete,
       .code = 220,
       .lines = {"a", "b", "c"},
       .consumed = 21},
      {.name = "two replies back to back: consumed covers only the first",
       .input = "250 ok\r\n354 go on\r\n",
       .state = S::kComplete,
       .code = 250,
       .lines = {"ok"},
       .consumed = 8},
      {.name = "bytes after the reply are left unconsumed (injection)",
       .input = "220 go ahead\r\nXYZ",
       .state = S::kComplete,
       .code = 220,
       .lines = {"go ahead"},
       .consumed = 14},
      {.name = "bare LF accepted and recorded",
       .input = "250-a\n250 b\r\n",
       .state = S::kComplete,
       .code = 250,
       .lines = {"a", "b"},
       .consumed = 13,
       .bare_lf = true},
      {.name = "bare 250 is a last line",
       .input = "250\r\n",
       .state = S::kComplete,
       .code = 250,
       .lines = {""},
       .consumed = 5},
      {.name = "empty texts after separators",
       .input = "250-\r\n250 \r\n",
       .state = S::kComplete,
       .code = 250,
       .lines = {"", ""},
       .consumed = 12},
      {.name = "line exactly at the length limit",
       .input = "250 123456\r\n",
       .limits = kShortLines,
       .state = S::kComplete,
       .code = 250,
       .lines = {"123456"},
       .consumed = 12},
      {.name = "exactly max_lines lines",
       .input = "250-a\r\n250-b\r\n250 c\r\n",
       .limits = kThreeLines,
       .state = S::kComplete,
       .code = 250,
       .lines = {"a", "b", "c"},
       .consumed = 21},
      {.name = "highest valid code 559",
       .input = "559 x\r\n",
       .state = S::kComplete,
       .code = 559,
       .lines = {"x"},
       .consumed = 7},

      // Not yet complete.
      {.name = "empty buffer", .input = ""},
      {.name = "partial code", .input = "22"},
      {.name = "partial line", .input = "220 mx.exa"},
      {.name = "CR waiting for its LF", .input = "220 mx ready\r"},
      {.name = "no final line yet", .input = "220-a\r\n220-b\r\n"},
      {.name = "final line partial", .input = "220-a\r\n220 b"},
      {.name = "partial line exactly at the length limit",
       .input = "250 123456",
       .limits = kShortLines},
      {.name = "partial line at the limit plus its CR",
       .input = "250 123456\r",
       .limits = kShortLines},

      // Malformed.
      {.name = "mismatched codes across lines",
       .input = "250-a\r\n251 b\r\n",
       .state = S::kError,
       .reason = "malformed_reply"},
      {.name = "mismatched code seen before its line ends",
       .input = "250-a\r\n251",
       .state = S::kError,
       .reason = "malformed_reply"},
      {.name = "bad separator",
       .input = "250*x\r\n",
       .state = S::kError,
       .reason = "malformed_reply"},
      {.name = "bad separator seen before the line ends",
       .input = "250*",
       .state = S::kError,
       .reason = "malformed_reply"},
      {.name = "non-digit code",
       .input = "2a0 x\r\n",
       .state = S::kError,
       .reason = "malformed_reply"},
      {.name = "HTTP answer instead of SMTP",
       .input = "HTTP/1.1 400",
       .state = S::kError,
       .reason = "malformed_reply"},
      {.name = "code 600", .input = "600 x\r\n", .state = S::kError, .reason = "malformed_reply"},
      {.name = "code 199", .input = "199 x\r\n", .state = S::kError, .reason = "malformed_reply"},
      {.name = "second digit 6",
       .input = "260 x\r\n",
       .state = S::kError,
       .reason = "malformed_reply"},
      {.name = "code too short",
       .input = "25\r\n",
       .state = S::kError,
       .reason = "malformed_reply"},
      {.name = "empty line",
       .input = "\r\n220 x\r\n",
       .state = S::kError,
       .reason = "malformed_reply"},
      {.name = "stray CR after the code",
       .input = "250\r\r\n",
       .state = S::kError,
       .reason = "malformed_reply"},
      {.name = "NUL byte",
       .input = "250 a\0b\r\n"s,
       .state = S::kError,
       .reason = "malformed_reply"},
      {.name = "NUL byte before the line ends",
       .input = "250 a\0"s,
       .state = S::kError,
       .reason = "malformed_reply"},

      // Too long.
      {.name = "line too long with CRLF",
       .input = "250 1234567\r\n",
       .limits = kShortLines,
       .state = S::kError,
       .reason = "reply_too_long"},
      {.name = "line too long before its CRLF arrives",
       .input = "250 1234567",
       .limits = kShortLines,
       .state = S::kError,
       .reason = "reply_too_long"},
      {.name = "default limit: 2049 bytes without CRLF",
       .input = "250 " + std::string(2045, 'x'),
       .state = S::kError,
       .reason = "reply_too_long"},
      {.name = "too many lines, caught before the next line arrives",
       .input = "250-a\r\n250-b\r\n250-c\r\n",
       .limits = kThreeLines,
       .state = S::kError,
       .reason = "reply_too_long"},
  };
  return cases;
}

TEST_CASE("ParseReply cases", "[smtp]") {
  for (const ParseCase& c : ParseCases()) {
    DYNAMIC_SECTION(c.name) {
      ParseOutcome out = ParseReply(c.input, c.limits);
      REQUIRE(out.state == c.state);
      CHECK(out.error.reason() == c.reason);
      CHECK(out.reply.code == c.code);
      CHECK(out.reply.lines == c.lines);
      CHECK(out.consumed == c.consumed);
      CHECK(out.reply.bare_lf == c.bare_lf);
      if (c.state == ParseState::kError) CHECK_FALSE(out.error.message().empty());
    }
  }
}

TEST_CASE("ParseReply: every proper prefix of a reply is incomplete", "[smtp]") {
  const std::string reply = "250-mx.example.com\r\n250-PIPELINING\r\n250 STARTTLS\r\n";
  for (size_t n = 0; n < reply.size(); ++n) {
    INFO("prefix length " << n);
    CHECK(ParseReply(std::string_view(reply).substr(0, n)).state == ParseState::kIncomplete);
  }
  ParseOutcome out = ParseReply(reply);
  REQUIRE(out.state == ParseState::kComplete);
  CHECK(out.consumed == reply.size());
  CHECK(out.reply.lines == std::vector<std::string>{"mx.example.com", "PIPELINING", "STARTTLS"});
}

TEST_CASE("ParseReply: error messages quote the server text escaped", "[smtp]") {
  ParseOutcome out = ParseReply("250*\x1b[31m\r\n");
  REQUIRE(out.state == ParseState::kError);
  CHECK(out.error.message() == "line 1: bad separator after code in \"250*\\x1b[31m\"");

  out = ParseReply("250-a\r\n251 b\r\n");
  CHECK(out.error.message() == "line 2: code 251 differs from 250 on line 1");
}

TEST_CASE("SmtpReply::Text joins lines with spaces", "[smtp]") {
  SmtpReply reply{.code = 250, .lines = {"a", "b c", ""}};
  CHECK(reply.Text() == "a b c ");
  CHECK(SmtpReply{}.Text().empty());
}

TEST_CASE("CheckNothingAfterStarttlsReply", "[smtp]") {
  struct Case {
    std::string name;
    std::string buffer;
    std::string reason;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"nothing after the 220", "220 go ahead\r\n", "", ""},
      {"plaintext injected after the 220", "220 go ahead\r\nXYZ", "starttls_injection",
       "3 plaintext bytes followed the 220 answer to STARTTLS: \"XYZ\""},
      {"a pipelined second reply", "220 go ahead\r\n250 ok\r\n", "starttls_injection",
       "8 plaintext bytes followed the 220 answer to STARTTLS: \"250 ok\\x0d\\x0a\""},
  };
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.name) {
      ParseOutcome out = ParseReply(c.buffer);
      REQUIRE(out.state == ParseState::kComplete);
      REQUIRE(CheckStarttlsReply(out.reply).ok());
      Status s = CheckNothingAfterStarttlsReply(c.buffer, out.consumed);
      CHECK(s.reason() == c.reason);
      CHECK(s.message() == c.message);
    }
  }
}

TEST_CASE("CheckGreeting classifies by code", "[smtp]") {
  struct Case {
    int code;
    std::string text;
    std::string reason;
    std::string message;
  };
  const std::vector<Case> cases = {
      {220, "mx.example.com ESMTP", "", ""},
      {421, "Service not available", "greeting_421", "greeting 421 \"Service not available\""},
      {554, "192.0.2.1 listed at zen.spamhaus.org", "greeting_554",
       "greeting 554 \"192.0.2.1 listed at zen.spamhaus.org\""},
      {450, "try later", "greeting_tempfail", "greeting 450 \"try later\""},
      {500, "go away", "greeting_rejected", "greeting 500 \"go away\""},
      {250, "odd", "greeting_unexpected", "greeting 250 \"odd\""},
      {354, "odd", "greeting_unexpected", "greeting 354 \"odd\""},
      {421, "bad\x1b[0m\ttext", "greeting_421", "greeting 421 \"bad\\x1b[0m\\x09text\""},
  };
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.code << " " << c.reason) {
      Status s = CheckGreeting(SmtpReply{.code = c.code, .lines = {c.text}});
      CHECK(s.reason() == c.reason);
      CHECK(s.message() == c.message);
    }
  }
}

TEST_CASE("CheckGreeting truncates long server text", "[smtp]") {
  Status s = CheckGreeting(SmtpReply{.code = 554, .lines = {std::string(1000, 'x')}});
  CHECK(s.reason() == "greeting_554");
  CHECK(s.message() == "greeting 554 \"" + std::string(200, 'x') + "...\"");
}

TEST_CASE("ParseEhloReply", "[smtp]") {
  struct Case {
    std::string name;
    SmtpReply reply;
    std::string reason{};  // empty: parse succeeds
    std::string server_name{};
    std::set<std::string> keywords{};
    std::map<std::string, std::string> params{};
    bool starttls = false;
    bool pipelining = false;
  };
  const std::vector<Case> cases = {
      {.name = "STARTTLS on a middle line",
       .reply = {.code = 250,
                 .lines = {"mx.example.com Hello [192.0.2.1]", "PIPELINING", "STARTTLS",
                           "SIZE 35882577"}},
       .server_name = "mx.example.com",
       .keywords = {"PIPELINING", "SIZE", "STARTTLS"},
       .params = {{"PIPELINING", ""}, {"SIZE", "35882577"}, {"STARTTLS", ""}},
       .starttls = true,
       .pipelining = true},
      {.name = "STARTTLS on the last line",
       .reply = {.code = 250, .lines = {"mx.example.com", "8BITMIME", "STARTTLS"}},
       .server_name = "mx.example.com",
       .keywords = {"8BITMIME", "STARTTLS"},
       .params = {{"8BITMIME", ""}, {"STARTTLS", ""}},
       .starttls = true},
      {.name = "lowercase starttls",
       .reply = {.code = 250, .lines = {"mx.example.com", "starttls"}},
       .server_name = "mx.example.com",
       .keywords = {"STARTTLS"},
       .params = {{"STARTTLS", ""}},
       .starttls = true},
      {.name = "XSTARTTLS and STARTTLSX are other keywords",
       .reply = {.code = 250, .lines = {"mx.example.com", "XSTARTTLS", "STARTTLSX"}},
       .server_name = "mx.example.com",
       .keywords = {"STARTTLSX", "XSTARTTLS"},
       .params = {{"STARTTLSX", ""}, {"XSTARTTLS", ""}}},
      {.name = "one-line reply has no extensions, even if its text says STARTTLS",
       .reply = {.code = 250, .lines = {"mx.example.com STARTTLS"}},
       .server_name = "mx.example.com"},
      {.name = "old-style AUTH= and extra spaces",
       .reply = {.code = 250,
                 .lines = {"  mx.example.com  ", "AUTH=LOGIN PLAIN", "  SIZE   1000  ", ""}},
       .server_name = "mx.example.com",
       .keywords = {"AUTH", "SIZE"},
       .params = {{"AUTH", "LOGIN PLAIN"}, {"SIZE", "1000"}}},
      {.name = "first announcement of a keyword wins",
       .reply = {.code = 250, .lines = {"mx", "AUTH PLAIN", "AUTH=LOGIN"}},
       .server_name = "mx",
       .keywords = {"AUTH"},
       .params = {{"AUTH", "PLAIN"}}},
      {.name = "550 rejected", .reply = {.code = 550, .lines = {"no"}}, .reason = "ehlo_rejected"},
      {.name = "502 EHLO not implemented",
       .reply = {.code = 502, .lines = {"unknown command"}},
       .reason = "ehlo_rejected"},
  };
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.name) {
      Result<EhloCapabilities> caps = ParseEhloReply(c.reply);
      CHECK(caps.status().reason() == c.reason);
      if (c.reason.empty()) {
        REQUIRE(caps.ok());
        CHECK(caps->server_name == c.server_name);
        CHECK(caps->keywords == c.keywords);
        CHECK(caps->params == c.params);
        CHECK(caps->starttls == c.starttls);
        CHECK(caps->pipelining == c.pipelining);
      }
    }
  }
}

TEST_CASE("ParseEhloReply message quotes the refusal", "[smtp]") {
  Result<EhloCapabilities> caps = ParseEhloReply(SmtpReply{.code = 550, .lines = {"go away"}});
  CHECK(caps.status().message() == "EHLO answered 550 \"go away\"");
}

TEST_CASE("CheckStarttlsReply", "[smtp]") {
  struct Case {
    int code;
    std::string reason;
    std::string message;
  };
  const std::vector<Case> cases = {
      {220, "", ""},
      {454, "starttls_refused", "STARTTLS answered 454 \"text\""},
      {501, "starttls_refused", "STARTTLS answered 501 \"text\""},
  };
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.code) {
      Status s = CheckStarttlsReply(SmtpReply{.code = c.code, .lines = {"text"}});
      CHECK(s.reason() == c.reason);
      CHECK(s.message() == c.message);
    }
  }
}

TEST_CASE("SanitizeServerText", "[smtp]") {
  struct Case {
    std::string name;
    std::string input;
    size_t max_len;
    std::string want;
  };
  const std::vector<Case> cases = {
      {"empty", "", 10, ""},
      {"printable kept", "250 ok [x]", 200, "250 ok [x]"},
      {"CR LF escaped", "a\r\nb", 200, "a\\x0d\\x0ab"},
      {"NUL and high bytes escaped", "\0\xff"s, 200, "\\x00\\xff"},
      {"backslash escaped", "a\\b", 200, "a\\x5cb"},
      {"fits exactly", "abc", 3, "abc"},
      {"truncated", "abcdef", 3, "abc..."},
      {"escape never split", "ab\x01", 4, "ab..."},
      {"escape fits exactly", "ab\x01", 6, "ab\\x01"},
      {"zero length", "abc", 0, "..."},
  };
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.name) { CHECK(SanitizeServerText(c.input, c.max_len) == c.want); }
  }
}

TEST_CASE("EhloCommand", "[smtp]") {
  CHECK(EhloCommand("prober.example.net") == "EHLO prober.example.net\r\n");
  CHECK(EhloCommand("[192.0.2.1]") == "EHLO [192.0.2.1]\r\n");
  // Regression guard: a name with CRLF must not become two commands.
  CHECK(EhloCommand("a\r\nRCPT TO:<x>") == "EHLO aRCPT TO:<x>\r\n");
}

}  // namespace
}  // namespace mxtls

namespace mxtls {
namespace {

// Regression for fuzz/crashes/smtp_reply/reason_depends_on_segmentation_*: the reason for a
// broken reply is a label value, so it must not depend on how TCP split the bytes.
TEST_CASE("the error reason does not depend on how the reply was segmented", "[smtp]") {
  const std::string long_text(3000, 'x');
  const std::vector<std::string> replies = {
      "250*" + long_text + "\r\n",                      // bad separator, then too long
      "250-" + std::string(10, 'a') + std::string(1, '\0') + long_text + "\r\n",  // NUL early
      "250-" + long_text + std::string(1, '\0') + "\r\n",  // NUL only past the limit
      "2x0 " + long_text + "\r\n",                      // bad code, then too long
  };
  for (const auto& reply : replies) {
    ParseOutcome whole = ParseReply(reply);
    REQUIRE(whole.state == ParseState::kError);
    for (size_t cut = 1; cut < reply.size(); cut += 97) {
      ParseOutcome part = ParseReply(std::string_view(reply).substr(0, cut));
      if (part.state == ParseState::kError) {
        INFO("cut at " << cut);
        CHECK(part.error.reason() == whole.error.reason());
      }
    }
  }
  CHECK(ParseReply(replies[0]).error.reason() == "malformed_reply");
  CHECK(ParseReply(replies[1]).error.reason() == "malformed_reply");
  CHECK(ParseReply(replies[2]).error.reason() == "reply_too_long");
  CHECK(ParseReply(replies[3]).error.reason() == "malformed_reply");
}

}  // namespace
}  // namespace mxtls
