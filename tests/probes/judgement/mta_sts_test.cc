#include "probes/judgement/mta_sts.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace mxtls {
namespace {

using namespace std::string_literals;  // "...\0..."s keeps embedded NUL bytes

// ---------------------------------------------------------------------------------------------
// TXT record selection and grammar (RFC 8461 §3.1)

struct TxtCase {
  std::string name;
  std::vector<std::string> records;
  bool present = false;
  bool valid = false;
  std::string id{};
  std::string message_has{};  // substring of the error message when present && !valid
  int candidates = 0;
  size_t notes = 0;
};

const std::vector<TxtCase>& TxtCases() {
  static const std::vector<TxtCase> cases = {
      // Valid records.
      {.name = "good record",
       .records = {"v=STSv1; id=20160831085700Z;"},
       .present = true,
       .valid = true,
       .id = "20160831085700Z",
       .candidates = 1},
      {.name = "no trailing delimiter",
       .records = {"v=STSv1; id=abc123"},
       .present = true,
       .valid = true,
       .id = "abc123",
       .candidates = 1},
      {.name = "no whitespace at all",
       .records = {"v=STSv1;id=abc"},
       .present = true,
       .valid = true,
       .id = "abc",
       .candidates = 1},
      {.name = "extra whitespace around ';'",
       .records = {"v=STSv1 \t ;  id=abc  ; "},
       .present = true,
       .valid = true,
       .id = "abc",
       .candidates = 1},
      {.name = "id of exactly 32 characters",
       .records = {"v=STSv1; id=" + std::string(32, 'a')},
       .present = true,
       .valid = true,
       .id = std::string(32, 'a'),
       .candidates = 1},
      {.name = "unknown fields are ignored, before and after id",
       .records = {"v=STSv1; ext.a-b_c=x:y/z; id=1; other=2;"},
       .present = true,
       .valid = true,
       .id = "1",
       .candidates = 1},
      {.name = "one STS record among unrelated TXT records (SPF)",
       .records = {"v=spf1 -all", "v=STSv1; id=spf", "google-site-verification=abc"},
       .present = true,
       .valid = true,
       .id = "spf",
       .candidates = 1},
      {.name = "record order does not matter",
       .records = {"google-site-verification=abc", "v=STSv1; id=last", "v=spf1 -all"},
       .present = true,
       .valid = true,
       .id = "last",
       .candidates = 1},
      // Two character-strings split inside the id; the resolver joins them with nothing
      // in between, so the parser only ever sees the joined text.
      {.name = "multi-string record already joined by the resolver",
       .records = {std::string("v=STSv1; id=2024") + std::string("0101T000000Z;")},
       .present = true,
       .valid = true,
       .id = "20240101T000000Z",
       .candidates = 1},
      {.name = "second id ignored: the first wins (RFC 8461 §3.2)",
       .records = {"v=STSv1; id=first; id=second"},
       .present = true,
       .valid = true,
       .id = "first",
       .candidates = 1,
       .notes = 1},

      // No policy published: not an error.
      {.name = "no TXT records at all", .records = {}},
      {.name = "only unrelated records", .records = {"v=spf1 -all"}},
      {.name = "v=STSv2 only", .records = {"v=STSv2; id=abc"}, .notes = 0},
      {.name = "version is case-sensitive: ignored, noted",
       .records = {"v=stsv1; id=abc"},
       .notes = 1},
      {.name = "v=STSv1 not at the start: ignored, noted",
       .records = {"id=abc; v=STSv1"},
       .notes = 1},
      {.name = "leading whitespace: ignored, noted", .records = {" v=STSv1; id=abc"}, .notes = 1},
      {.name = "v=STSv10 is not v=STSv1", .records = {"v=STSv10; id=abc"}, .notes = 1},

      // Invalid.
      {.name = "two v=STSv1 records",
       .records = {"v=STSv1; id=a", "v=STSv1; id=b"},
       .present = true,
       .message_has = "2 records start with v=STSv1",
       .candidates = 2},
      {.name = "two records even when identical",
       .records = {"v=STSv1; id=a", "v=STSv1; id=a"},
       .present = true,
       .message_has = "exactly one",
       .candidates = 2},
      {.name = "no id",
       .records = {"v=STSv1; foo=bar"},
       .present = true,
       .message_has = "no id field",
       .candidates = 1},
      {.name = "version and trailing whitespace only",
       .records = {"v=STSv1 "},
       .present = true,
       .message_has = "nothing after v=STSv1",
       .candidates = 1},
      {.name = "bare version",
       .records = {"v=STSv1"},
       .present = true,
       .message_has = "nothing after v=STSv1",
       .candidates = 1},
      {.name = "version and delimiter only",
       .records = {"v=STSv1;"},
       .present = true,
       .message_has = "no id field",
       .candidates = 1},
      {.name = "field names are case-sensitive: ID is not id",
       .records = {"v=STSv1; ID=abc"},
       .present = true,
       .message_has = "\"ID\" is not id",
       .candidates = 1},
      {.name = "id of 33 characters",
       .records = {"v=STSv1; id=" + std::string(33, 'a')},
       .present = true,
       .message_has = "not 1 to 32 letters and digits",
       .candidates = 1},
      {.name = "id with '-'",
       .records = {"v=STSv1; id=2024-01-01"},
       .present = true,
       .message_has = "id \"2024-01-01\" is not 1 to 32",
       .candidates = 1},
      {.name = "empty id",
       .records = {"v=STSv1; id="},
       .present = true,
       .message_has = "id \"\"",
       .candidates = 1},
      {.name = "id with a space inside",
       .records = {"v=STSv1; id=abc def"},
       .present = true,
       .message_has = "id \"abc def\"",
       .candidates = 1},
      {.name = "whitespace instead of ';' after the version",
       .records = {"v=STSv1 id=abc"},
       .present = true,
       .message_has = "expected ';' after v=STSv1",
       .candidates = 1},
      {.name = "trailing whitespace without ';' (ABNF allows it only around ';')",
       .records = {"v=STSv1; id=abc "},
       .present = true,
       .message_has = "whitespace after the last field",
       .candidates = 1},
      {.name = "empty field between two ';'",
       .records = {"v=STSv1;; id=abc"},
       .present = true,
       .message_has = "empty field",
       .candidates = 1},
      {.name = "field without '='",
       .records = {"v=STSv1; id=abc; flag"},
       .present = true,
       .message_has = "\"flag\" is not name=value",
       .candidates = 1},
      {.name = "bad field name",
       .records = {"v=STSv1; id=abc; _x=1"},
       .present = true,
       .message_has = "field name \"_x\" is not valid",
       .candidates = 1},
      {.name = "field name of 33 characters",
       .records = {"v=STSv1; id=abc; " + std::string(33, 'x') + "=1"},
       .present = true,
       .message_has = "is not valid",
       .candidates = 1},
      {.name = "unknown field with '=' in its value",
       .records = {"v=STSv1; id=abc; x=a=b"},
       .present = true,
       .message_has = "value of field \"x\" contains '='",
       .candidates = 1},
      {.name = "unknown field with an empty value",
       .records = {"v=STSv1; id=abc; x="},
       .present = true,
       .message_has = "value of field \"x\" is empty",
       .candidates = 1},
      {.name = "non-ASCII byte in a value",
       .records = {"v=STSv1; id=abc; x=\xC3\xA9"},
       .present = true,
       .message_has = "contains the byte 0xC3",
       .candidates = 1},
  };
  return cases;
}

TEST_CASE("ParseStsTxtRecords selects one v=STSv1 record and checks its grammar", "[mta-sts]") {
  for (const TxtCase& c : TxtCases()) {
    INFO(c.name);
    const StsTxtRecord r = ParseStsTxtRecords(c.records);
    CHECK(r.present == c.present);
    CHECK(r.valid == c.valid);
    CHECK(r.id == c.id);
    CHECK(r.candidates == c.candidates);
    CHECK(r.notes.size() == c.notes);
    if (c.present && !c.valid) {
      CHECK(r.error.reason() == "sts-txt-invalid");
      CHECK_THAT(r.error.message(), Catch::Contains(c.message_has));
    } else {
      CHECK(r.error.ok());
    }
  }
}

TEST_CASE("ParseStsTxtRecords escapes record text in messages", "[mta-sts]") {
  const StsTxtRecord r = ParseStsTxtRecords({"v=STSv1; id=a\nb"});
  REQUIRE_FALSE(r.valid);
  CHECK_THAT(r.error.message(), Catch::Contains("\\x0a"));
  CHECK(r.error.message().find('\n') == std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Policy body (RFC 8461 §3.2)

const char kGoodEnforce[] =
    "version: STSv1\n"
    "mode: enforce\n"
    "mx: mail.example.com\n"
    "mx: *.example.net\n"
    "mx: backupmx.example.com\n"
    "max_age: 604800\n";

struct PolicyCase {
  std::string name;
  std::string body;
  bool ok = false;
  std::string message_has{};  // when !ok
  std::string mode{};         // when ok
  long long max_age = 0;
  std::vector<std::string> mx{};
  size_t notes = 0;
};

const std::vector<PolicyCase>& PolicyCases() {
  static const std::vector<PolicyCase> cases = {
      // Valid policies.
      {.name = "good enforce, LF",
       .body = kGoodEnforce,
       .ok = true,
       .mode = "enforce",
       .max_age = 604800,
       .mx = {"mail.example.com", "*.example.net", "backupmx.example.com"}},
      {.name = "good testing, CRLF",
       .body = "version: STSv1\r\nmode: testing\r\nmx: mx.example.com\r\nmax_age: 86400\r\n",
       .ok = true,
       .mode = "testing",
       .max_age = 86400,
       .mx = {"mx.example.com"}},
      {.name = "mixed LF and CRLF, no final line ending",
       .body = "version: STSv1\r\nmode: enforce\nmx: mx.example.com\r\nmax_age: 86400",
       .ok = true,
       .mode = "enforce",
       .max_age = 86400,
       .mx = {"mx.example.com"}},
      {.name = "fields in any order",
       .body = "max_age: 1\nmx: mx.example.com\nmode: enforce\nversion: STSv1\n",
       .ok = true,
       .mode = "enforce",
       .max_age = 1,
       .mx = {"mx.example.com"}},
      {.name = "mode none without mx",
       .body = "version: STSv1\nmode: none\nmax_age: 86400\n",
       .ok = true,
       .mode = "none",
       .max_age = 86400},
      {.name = "mode none with mx",
       .body = "version: STSv1\nmode: none\nmx: mx.example.com\nmax_age: 0\n",
       .ok = true,
       .mode = "none",
       .max_age = 0,
       .mx = {"mx.example.com"}},
      {.name = "no whitespace after ':', tabs and spaces after ':' and at the end",
       .body = "version:STSv1\nmode:\t enforce \t\nmx:   mx.example.com  \r\nmax_age: 60\t\n",
       .ok = true,
       .mode = "enforce",
       .max_age = 60,
       .mx = {"mx.example.com"}},
      {.name = "max_age at the maximum 31557600",
       .body = "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 31557600\n",
       .ok = true,
       .mode = "enforce",
       .max_age = 31557600,
       .mx = {"mx.example.com"}},
      {.name = "max_age with leading zeros (1*10 DIGIT)",
       .body = "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 0000086400\n",
       .ok = true,
       .mode = "enforce",
       .max_age = 86400,
       .mx = {"mx.example.com"}},
      {.name = "duplicate mode: the first wins, the second is noted",
       .body = "version: STSv1\nmode: testing\nmode: enforce\nmx: mx.example.com\nmax_age: 1\n",
       .ok = true,
       .mode = "testing",
       .max_age = 1,
       .mx = {"mx.example.com"},
       .notes = 1},
      {.name = "duplicate max_age and version: first wins, later ones not judged",
       .body = "version: STSv1\nmax_age: 10\nmode: enforce\nmx: mx.example.com\n"
               "max_age: 99999999999999\nversion: STSv2\n",
       .ok = true,
       .mode = "enforce",
       .max_age = 10,
       .mx = {"mx.example.com"},
       .notes = 2},
      {.name = "unknown keys ignored, noted; UTF-8 and inner spaces in their values",
       .body = "version: STSv1\nmode: enforce\ncomment: caf\xC3\xA9 au lait\nmx: mx.example.com\n"
               "max_age: 1\nx-Ext.1: yes\n",
       .ok = true,
       .mode = "enforce",
       .max_age = 1,
       .mx = {"mx.example.com"},
       .notes = 2},
      {.name = "mx wildcard patterns and repeated mx lines",
       .body = "version: STSv1\nmode: enforce\nmx: *.example.com\nmx: *.mail.example.org\n"
               "mx: *.example.com\nmax_age: 1\n",
       .ok = true,
       .mode = "enforce",
       .max_age = 1,
       .mx = {"*.example.com", "*.mail.example.org", "*.example.com"}},
      {.name = "mx in upper case and A-labels",
       .body = "version: STSv1\nmode: enforce\nmx: MX.Example.COM\nmx: mx.xn--bcher-kva.de\n"
               "max_age: 1\n",
       .ok = true,
       .mode = "enforce",
       .max_age = 1,
       .mx = {"MX.Example.COM", "mx.xn--bcher-kva.de"}},

      // Missing fields.
      {.name = "empty body", .body = "", .message_has = "body is empty"},
      {.name = "missing version",
       .body = "mode: enforce\nmx: mx.example.com\nmax_age: 1\n",
       .message_has = "no version field"},
      {.name = "missing mode",
       .body = "version: STSv1\nmx: mx.example.com\nmax_age: 1\n",
       .message_has = "no mode field"},
      {.name = "missing max_age",
       .body = "version: STSv1\nmode: enforce\nmx: mx.example.com\n",
       .message_has = "no max_age field"},
      {.name = "max-age is an unknown field, so max_age is missing",
       .body = "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax-age: 1\n",
       .message_has = "no max_age field"},
      {.name = "enforce without mx",
       .body = "version: STSv1\nmode: enforce\nmax_age: 1\n",
       .message_has = "mode enforce requires at least one mx"},
      {.name = "testing without mx",
       .body = "version: STSv1\nmode: testing\nmax_age: 1\n",
       .message_has = "mode testing requires at least one mx"},

      // Bad values.
      {.name = "bad version",
       .body = "version: STSv2\nmode: enforce\nmx: mx.example.com\nmax_age: 1\n",
       .message_has = "line 1: version \"STSv2\" is not STSv1"},
      {.name = "version is case-sensitive",
       .body = "version: stsv1\nmode: enforce\nmx: mx.example.com\nmax_age: 1\n",
       .message_has = "version \"stsv1\""},
      {.name = "bad mode",
       .body = "version: STSv1\nmode: report\nmx: mx.example.com\nmax_age: 1\n",
       .message_has = "line 2: mode \"report\" is not one of enforce, testing, none"},
      {.name = "mode is case-sensitive",
       .body = "version: STSv1\nmode: Enforce\nmx: mx.example.com\nmax_age: 1\n",
       .message_has = "mode \"Enforce\""},
      {.name = "duplicate mode: a bad first one is not rescued by a good second",
       .body = "version: STSv1\nmode: strict\nmode: enforce\nmx: mx.example.com\nmax_age: 1\n",
       .message_has = "line 2: mode \"strict\""},
      {.name = "max_age non-numeric",
       .body = "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 1w\n",
       .message_has = "line 4: max_age \"1w\" is not 1 to 10 digits"},
      {.name = "max_age negative",
       .body = "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: -1\n",
       .message_has = "max_age \"-1\" is not 1 to 10 digits"},
      {.name = "max_age with a plus sign",
       .body = "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: +1\n",
       .message_has = "max_age \"+1\""},
      {.name = "max_age 31557601",
       .body = "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 31557601\n",
       .message_has = "max_age 31557601 is over the maximum 31557600"},
      {.name = "max_age of 11 digits",
       .body = "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 00000086400\n",
       .message_has = "not 1 to 10 digits"},
      {.name = "max_age with a space inside",
       .body = "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 86 400\n",
       .message_has = "max_age \"86 400\""},
      {.name = "field with no value",
       .body = "version: STSv1\nmode:\nmx: mx.example.com\nmax_age: 1\n",
       .message_has = "line 2: field \"mode\" has no value"},
      {.name = "invalid mx pattern: partial wildcard",
       .body = "version: STSv1\nmode: enforce\nmx: mx*.example.com\nmax_age: 1\n",
       .message_has = "line 3: mx \"mx*.example.com\" is neither a host name"},
      {.name = "invalid mx pattern: wildcard not left-most",
       .body = "version: STSv1\nmode: enforce\nmx: mx.*.example.com\nmax_age: 1\n",
       .message_has = "mx \"mx.*.example.com\""},
      {.name = "invalid mx pattern: bare '*'",
       .body = "version: STSv1\nmode: testing\nmx: *\nmax_age: 1\n",
       .message_has = "mx \"*\""},
      {.name = "invalid mx pattern: trailing dot (RFC 5321 Domain has none)",
       .body = "version: STSv1\nmode: enforce\nmx: mx.example.com.\nmax_age: 1\n",
       .message_has = "mx \"mx.example.com.\""},
      {.name = "invalid mx pattern: underscore",
       .body = "version: STSv1\nmode: enforce\nmx: mx_1.example.com\nmax_age: 1\n",
       .message_has = "mx \"mx_1.example.com\""},
      {.name = "invalid mx pattern: two names on one line",
       .body = "version: STSv1\nmode: enforce\nmx: a.example.com b.example.com\nmax_age: 1\n",
       .message_has = "mx \"a.example.com b.example.com\""},
      {.name = "one bad mx among good ones invalidates the policy, even with mode none",
       .body = "version: STSv1\nmode: none\nmx: mx.example.com\nmx: -bad.example.com\n"
               "max_age: 1\n",
       .message_has = "line 4: mx \"-bad.example.com\""},

      // Bad lines.
      {.name = "line without a colon",
       .body = "version: STSv1\nmode enforce\nmx: mx.example.com\nmax_age: 1\n",
       .message_has = "line 2: no ':' in \"mode enforce\""},
      {.name = "whitespace before ':'",
       .body = "version: STSv1\nmode : enforce\nmx: mx.example.com\nmax_age: 1\n",
       .message_has = "line 2: whitespace before ':'"},
      {.name = "line starting with whitespace",
       .body = "version: STSv1\n mode: enforce\nmx: mx.example.com\nmax_age: 1\n",
       .message_has = "line 2: starts with whitespace"},
      // Blank lines are outside the grammar but skipped (with a note), as senders do.
      {.name = "blank line in the middle",
       .body = "version: STSv1\nmode: enforce\n\nmx: mx.example.com\nmax_age: 1\n",
       .ok = true, .mode = "enforce", .max_age = 1, .mx = {"mx.example.com"}, .notes = 1},
      {.name = "blank line at the end (two final line endings)",
       .body = "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 1\n\n",
       .ok = true, .mode = "enforce", .max_age = 1, .mx = {"mx.example.com"}, .notes = 1},
      {.name = "whitespace-only line",
       .body = "version: STSv1\nmode: enforce\n \t\nmx: mx.example.com\nmax_age: 1\n",
       .ok = true, .mode = "enforce", .max_age = 1, .mx = {"mx.example.com"}, .notes = 1},
      {.name = "invalid field name",
       .body = "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 1\n_x: 1\n",
       .message_has = "line 5: field name \"_x\" is not valid"},
      {.name = "unknown field with a tab inside its value",
       .body = "version: STSv1\nmode: none\nmax_age: 1\nx: a\tb\n",
       .message_has = "line 4: value of \"x\" contains a tab"},
      {.name = "unknown field with invalid UTF-8",
       .body = "version: STSv1\nmode: none\nmax_age: 1\nx: caf\xE9\n",
       .message_has = "line 4: value of \"x\" is not valid UTF-8 (byte 0xE9)"},
      {.name = "repeated field is ignored but must still be well-formed",
       .body = "version: STSv1\nmode: none\nmax_age: 1\nmode: a\tb\n",
       .message_has = "line 4: value of \"mode\" contains a tab"},
      {.name = "bare CR is not a line ending",
       .body = "version: STSv1\rmode: none\nmax_age: 1\n",
       .message_has = "line 1: contains the control character 0x0D"},
      {.name = "UTF-8 byte order mark",
       .body = "\xEF\xBB\xBFversion: STSv1\nmode: none\nmax_age: 1\n",
       .message_has = "line 1: starts with a UTF-8 byte order mark"},
      {.name = "NUL byte",
       .body = "version: STSv1\nmode: none\0\nmax_age: 1\n"s,
       .message_has = "line 2: contains a NUL byte"},
      {.name = "HTML served instead of a policy",
       .body = "<html><body>Not Found</body></html>\n",
       .message_has = "line 1: no ':'"},
      {.name = "oversize body (> 64 KiB)",
       .body = "version: STSv1\nmode: none\nmax_age: 1\nx: " +
               std::string(kStsMaxPolicyBytes, 'a') + "\n",
       .message_has = "over the limit of 65536"},
  };
  return cases;
}

TEST_CASE("ParseStsPolicy follows the RFC 8461 policy grammar", "[mta-sts]") {
  for (const PolicyCase& c : PolicyCases()) {
    INFO(c.name);
    const Result<StsPolicy> r = ParseStsPolicy(c.body);
    REQUIRE(r.ok() == c.ok);
    if (!c.ok) {
      CHECK(r.status().reason() == "sts-policy-invalid");
      CHECK_THAT(r.status().message(), Catch::Contains(c.message_has));
      continue;
    }
    CHECK(r->version == "STSv1");
    CHECK(r->mode == c.mode);
    CHECK(r->max_age == c.max_age);
    CHECK(r->mx == c.mx);
    CHECK(r->notes.size() == c.notes);
  }
}

TEST_CASE("the 64 KiB boundary is exact", "[mta-sts]") {
  const std::string head = "version: STSv1\nmode: none\nmax_age: 1\nx: ";
  std::string body = head + std::string(kStsMaxPolicyBytes - head.size() - 1, 'a') + "\n";
  REQUIRE(body.size() == kStsMaxPolicyBytes);
  CHECK(ParseStsPolicy(body).ok());
  body.insert(head.size(), "a");
  CHECK_FALSE(ParseStsPolicy(body).ok());
}

TEST_CASE("ParseStsPolicy notes name the lines a sender ignores", "[mta-sts]") {
  const Result<StsPolicy> r = ParseStsPolicy(
      "version: STSv1\nmode: testing\nmode: enforce\nmx: mx.example.com\nmax_age: 1\nfoo: bar\n");
  REQUIRE(r.ok());
  REQUIRE(r->notes.size() == 2);
  CHECK_THAT(r->notes[0], Catch::Contains("line 3") && Catch::Contains("line 2 wins"));
  CHECK_THAT(r->notes[1], Catch::Contains("line 6") && Catch::Contains("\"foo\""));
}

TEST_CASE("IsValidStsMxPattern", "[mta-sts]") {
  struct Case {
    const char* pattern;
    bool valid;
  };
  const Case cases[] = {
      {"mail.example.com", true},
      {"*.example.com", true},
      {"*.com", true},  // allowed by the grammar; MatchesDnsPattern matches nothing with it
      {"localhost", true},
      {"MX.EXAMPLE.COM", true},
      {"xn--bcher-kva.de", true},
      {"", false},
      {"*", false},
      {"*.", false},
      {"*.*.example.com", false},
      {"**.example.com", false},
      {"m*.example.com", false},
      {"mx.*.example.com", false},
      {"mx.example.com.", false},
      {".example.com", false},
      {"mx..example.com", false},
      {"-mx.example.com", false},
      {"mx_1.example.com", false},
      {"mx.bücher.de", false},
      {"mx.example.com:25", false},
  };
  for (const Case& c : cases) {
    INFO("pattern=\"" << c.pattern << "\"");
    CHECK(IsValidStsMxPattern(c.pattern) == c.valid);
  }
}

TEST_CASE("IsTextPlainMediaType", "[mta-sts]") {
  struct Case {
    const char* content_type;
    bool plain;
  };
  const Case cases[] = {
      {"text/plain", true},
      {"TEXT/Plain", true},
      {"text/plain; charset=utf-8", true},
      {"text/plain;charset=UTF-8", true},
      {"text/plain ; charset=\"us-ascii\"", true},
      {" \ttext/plain\t ", true},
      {"text/plain;", true},
      {"text/plain; charset=iso-8859-1; format=flowed", true},  // parameters are ignored
      {"", false},
      {"text/plainx", false},
      {"text/plain-x; charset=utf-8", false},
      {"text/html", false},
      {"text/html; charset=utf-8", false},
      {"text / plain", false},
      {"text/", false},
      {"application/octet-stream", false},
      {"plain", false},
      {"text/plain, text/html", false},
  };
  for (const Case& c : cases) {
    INFO("content_type=\"" << c.content_type << "\"");
    CHECK(IsTextPlainMediaType(c.content_type) == c.plain);
  }
}

// ---------------------------------------------------------------------------------------------
// Coverage (RFC 8461 §4.1)

StsPolicy PolicyWithMx(std::vector<std::string> mx) {
  StsPolicy p;
  p.version = "STSv1";
  p.mode = "enforce";
  p.max_age = 86400;
  p.mx = std::move(mx);
  return p;
}

TEST_CASE("StsPolicyCoversMx uses RFC 8461 wildcard semantics", "[mta-sts]") {
  struct Case {
    std::vector<std::string> mx;
    const char* host;
    bool covered;
  };
  const Case cases[] = {
      {{"*.example.com"}, "mx1.example.com", true},
      {{"*.example.com"}, "example.com", false},
      {{"*.example.com"}, "a.b.example.com", false},
      {{"*.example.com"}, "mx1.example.org", false},
      {{"*.example.com"}, "MX1.Example.COM.", true},
      {{"mail.example.com"}, "mail.example.com", true},
      {{"mail.example.com"}, "MAIL.EXAMPLE.COM", true},
      {{"mail.example.com"}, "mail.example.com.", true},
      {{"Mail.Example.com"}, "mail.example.com", true},
      {{"mail.example.com"}, "mail2.example.com", false},
      {{"mail.example.com"}, "example.com", false},
      {{"mail.example.com", "*.backup.example.net"}, "mx.backup.example.net", true},
      {{"mail.example.com", "*.backup.example.net"}, "backup.example.net", false},
      {{"*.com"}, "example.com", false},  // MatchesDnsPattern needs two labels after '*'
      {{}, "mail.example.com", false},
      {{"mail.example.com"}, "", false},
  };
  for (const Case& c : cases) {
    INFO("host=\"" << c.host << "\" first pattern=\"" << (c.mx.empty() ? "" : c.mx[0]) << "\"");
    CHECK(StsPolicyCoversMx(PolicyWithMx(c.mx), c.host) == c.covered);
  }
}

TEST_CASE("UncoveredMxHosts keeps order and spelling", "[mta-sts]") {
  const StsPolicy p = PolicyWithMx({"*.example.com", "mx.example.net"});
  CHECK(
      UncoveredMxHosts(p, {"A.example.com.", "example.com", "MX.example.net", "x.y.example.com"}) ==
      std::vector<std::string>{"example.com", "x.y.example.com"});
  CHECK(UncoveredMxHosts(p, {}).empty());
}

TEST_CASE("coverage of a parsed policy", "[mta-sts]") {
  const Result<StsPolicy> r = ParseStsPolicy(kGoodEnforce);
  REQUIRE(r.ok());
  CHECK(StsPolicyCoversMx(*r, "mail.example.com"));
  CHECK(StsPolicyCoversMx(*r, "mx7.example.net"));
  CHECK_FALSE(StsPolicyCoversMx(*r, "example.net"));
  CHECK_FALSE(StsPolicyCoversMx(*r, "mx.example.com"));
}

// ---------------------------------------------------------------------------------------------
// Fingerprint

TEST_CASE("PolicyFingerprint changes with meaning only", "[mta-sts]") {
  const std::string base = PolicyFingerprint(*ParseStsPolicy(kGoodEnforce));
  CHECK(base ==
        "version=STSv1;mode=enforce;max_age=604800;"
        "mx=*.example.net,backupmx.example.com,mail.example.com");

  struct Case {
    std::string name;
    std::string body;
    bool same;
  };
  const std::vector<Case> cases = {
      {"CRLF line endings",
       "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\n"
       "mx: backupmx.example.com\r\nmax_age: 604800\r\n",
       true},
      {"other field order, mx reordered, whitespace",
       "max_age:604800\nmx:  backupmx.example.com \nmx: *.example.net\nversion: STSv1\n"
       "mode:\tenforce\nmx: mail.example.com",
       true},
      {"mx case and a repeated mx",
       "version: STSv1\nmode: enforce\nmx: MAIL.example.com\nmx: *.example.net\n"
       "mx: backupmx.example.com\nmx: mail.example.com\nmax_age: 604800\n",
       true},
      {"unknown field and a repeated mode",
       "version: STSv1\nmode: enforce\nmode: none\nfoo: bar\nmx: mail.example.com\n"
       "mx: *.example.net\nmx: backupmx.example.com\nmax_age: 604800\n",
       true},
      {"mode changed",
       "version: STSv1\nmode: testing\nmx: mail.example.com\nmx: *.example.net\n"
       "mx: backupmx.example.com\nmax_age: 604800\n",
       false},
      {"max_age changed",
       "version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\n"
       "mx: backupmx.example.com\nmax_age: 86400\n",
       false},
      {"mx removed",
       "version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\n"
       "max_age: 604800\n",
       false},
      {"mx added",
       "version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\n"
       "mx: backupmx.example.com\nmx: new.example.com\nmax_age: 604800\n",
       false},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    const Result<StsPolicy> r = ParseStsPolicy(c.body);
    REQUIRE(r.ok());
    CHECK((PolicyFingerprint(*r) == base) == c.same);
  }
}

}  // namespace
}  // namespace mxtls
