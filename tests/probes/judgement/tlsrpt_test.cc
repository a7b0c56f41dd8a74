#include "probes/judgement/tlsrpt.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace mxtls {
namespace {

struct RecordCase {
  std::string name;
  std::vector<std::string> records;
  bool present = false;
  bool valid = false;
  std::vector<std::string> rua{};
  std::string message_has{};  // substring of the error message when present && !valid
  int candidates = 0;
  size_t notes = 0;
};

const std::vector<RecordCase>& RecordCases() {
  static const std::vector<RecordCase> cases = {
      // Valid records.
      {.name = "good mailto",
       .records = {"v=TLSRPTv1; rua=mailto:tlsrpt@example.com"},
       .present = true,
       .valid = true,
       .rua = {"mailto:tlsrpt@example.com"},
       .candidates = 1},
      {.name = "good https",
       .records = {"v=TLSRPTv1; rua=https://reporting.example.com/v1/tlsrpt"},
       .present = true,
       .valid = true,
       .rua = {"https://reporting.example.com/v1/tlsrpt"},
       .candidates = 1},
      {.name = "two URIs",
       .records = {"v=TLSRPTv1; rua=mailto:a@example.com,https://r.example.net/tlsrpt"},
       .present = true,
       .valid = true,
       .rua = {"mailto:a@example.com", "https://r.example.net/tlsrpt"},
       .candidates = 1},
      {.name = "whitespace around ',' and ';', trailing ';'",
       .records = {"v=TLSRPTv1 ;\trua=mailto:a@example.com ,  mailto:b@example.org\t; "},
       .present = true,
       .valid = true,
       .rua = {"mailto:a@example.com", "mailto:b@example.org"},
       .candidates = 1},
      {.name = "no whitespace",
       .records = {"v=TLSRPTv1;rua=mailto:a@example.com;"},
       .present = true,
       .valid = true,
       .rua = {"mailto:a@example.com"},
       .candidates = 1},
      {.name = "unknown fields ignored",
       .records = {"v=TLSRPTv1; ext=1; rua=mailto:a@example.com; ruf=x"},
       .present = true,
       .valid = true,
       .rua = {"mailto:a@example.com"},
       .candidates = 1},
      {.name = "scheme is case-insensitive; https port, query and percent-escapes",
       .records = {"v=TLSRPTv1; rua=MAILTO:tls%2Brpt@example.com,"
                   "HTTPS://r.example.com:8443/p?x=1%2C2#f"},
       .present = true,
       .valid = true,
       .rua = {"MAILTO:tls%2Brpt@example.com", "HTTPS://r.example.com:8443/p?x=1%2C2#f"},
       .candidates = 1},
      {.name = "mailto with header fields",
       .records = {"v=TLSRPTv1; rua=mailto:a@example.com?subject=tlsrpt"},
       .present = true,
       .valid = true,
       .rua = {"mailto:a@example.com?subject=tlsrpt"},
       .candidates = 1},
      {.name = "https to an IPv6 literal",
       .records = {"v=TLSRPTv1; rua=https://[2001:db8::1]:443/r"},
       .present = true,
       .valid = true,
       .rua = {"https://[2001:db8::1]:443/r"},
       .candidates = 1},
      {.name = "one TLSRPT record among others",
       .records = {"v=spf1 -all", "v=TLSRPTv1; rua=mailto:a@example.com", "other"},
       .present = true,
       .valid = true,
       .rua = {"mailto:a@example.com"},
       .candidates = 1},

      // Nothing published: not an error.
      {.name = "no records", .records = {}},
      {.name = "unrelated records only", .records = {"v=spf1 -all", "v=STSv1; id=1"}},
      {.name = "v= not first: skipped by senders, noted",
       .records = {"rua=mailto:a@example.com; v=TLSRPTv1"},
       .notes = 1},
      {.name = "version is case-sensitive: skipped, noted",
       .records = {"v=tlsrptv1; rua=mailto:a@example.com"},
       .notes = 1},
      {.name = "v=TLSRPTv2", .records = {"v=TLSRPTv2; rua=mailto:a@example.com"}},

      // Invalid.
      {.name = "two records",
       .records = {"v=TLSRPTv1; rua=mailto:a@example.com", "v=TLSRPTv1; rua=mailto:b@example.com"},
       .present = true,
       .message_has = "2 records start with v=TLSRPTv1",
       .candidates = 2},
      {.name = "missing rua",
       .records = {"v=TLSRPTv1; ruf=mailto:a@example.com"},
       .present = true,
       .message_has = "no rua field",
       .candidates = 1},
      {.name = "RUA is not rua",
       .records = {"v=TLSRPTv1; RUA=mailto:a@example.com"},
       .present = true,
       .message_has = "\"RUA\" is not rua",
       .candidates = 1},
      {.name = "bare version",
       .records = {"v=TLSRPTv1"},
       .present = true,
       .message_has = "nothing after v=TLSRPTv1",
       .candidates = 1},
      {.name = "rua twice",
       .records = {"v=TLSRPTv1; rua=mailto:a@example.com; rua=mailto:b@example.com"},
       .present = true,
       .message_has = "rua appears twice",
       .candidates = 1},
      {.name = "empty rua",
       .records = {"v=TLSRPTv1; rua="},
       .present = true,
       .message_has = "rua is empty",
       .candidates = 1},
      {.name = "bad scheme",
       .records = {"v=TLSRPTv1; rua=ftp://x"},
       .present = true,
       .message_has = "rua: \"ftp://x\" is neither mailto: nor https:",
       .candidates = 1},
      {.name = "http is not https",
       .records = {"v=TLSRPTv1; rua=http://r.example.com/"},
       .present = true,
       .message_has = "\"http://r.example.com/\" is neither mailto: nor https:",
       .candidates = 1},
      {.name = "bare address without mailto:",
       .records = {"v=TLSRPTv1; rua=tlsrpt@example.com"},
       .present = true,
       .message_has = "is neither mailto: nor https:",
       .candidates = 1},
      {.name = "mailto without '@'",
       .records = {"v=TLSRPTv1; rua=mailto:tlsrpt.example.com"},
       .present = true,
       .message_has = "has no '@'",
       .candidates = 1},
      {.name = "mailto with an empty local part",
       .records = {"v=TLSRPTv1; rua=mailto:@example.com"},
       .present = true,
       .message_has = "empty local part",
       .candidates = 1},
      {.name = "mailto with a bad domain",
       .records = {"v=TLSRPTv1; rua=mailto:a@"},
       .present = true,
       .message_has = "after '@', which is not a host name",
       .candidates = 1},
      {.name = "https without a host",
       .records = {"v=TLSRPTv1; rua=https:/path"},
       .present = true,
       .message_has = "no \"//\" and host",
       .candidates = 1},
      {.name = "https with an empty host",
       .records = {"v=TLSRPTv1; rua=https:///path"},
       .present = true,
       .message_has = "has no host",
       .candidates = 1},
      {.name = "https with a bad port",
       .records = {"v=TLSRPTv1; rua=https://r.example.com:http/"},
       .present = true,
       .message_has = "bad port",
       .candidates = 1},
      {.name = "second URI bad",
       .records = {"v=TLSRPTv1; rua=mailto:a@example.com,ftp://x"},
       .present = true,
       .message_has = "\"ftp://x\"",
       .candidates = 1},
      {.name = "empty URI between commas",
       .records = {"v=TLSRPTv1; rua=mailto:a@example.com,,mailto:b@example.com"},
       .present = true,
       .message_has = "empty URI",
       .candidates = 1},
      {.name = "URIs separated by whitespace instead of ','",
       .records = {"v=TLSRPTv1; rua=mailto:a@example.com mailto:b@example.com"},
       .present = true,
       .message_has = "contains whitespace",
       .candidates = 1},
      {.name = "unencoded '!' (DMARC size suffix)",
       .records = {"v=TLSRPTv1; rua=mailto:a@example.com!10m"},
       .present = true,
       .message_has = "'!'",
       .candidates = 1},
      {.name = "bad percent escape",
       .records = {"v=TLSRPTv1; rua=mailto:a%2@example.com"},
       .present = true,
       .message_has = "%XX",
       .candidates = 1},
      {.name = "trailing whitespace without ';'",
       .records = {"v=TLSRPTv1; rua=mailto:a@example.com "},
       .present = true,
       .message_has = "whitespace after the last field",
       .candidates = 1},
      {.name = "empty field between two ';'",
       .records = {"v=TLSRPTv1;; rua=mailto:a@example.com"},
       .present = true,
       .message_has = "empty field",
       .candidates = 1},
      {.name = "whitespace instead of ';' after the version",
       .records = {"v=TLSRPTv1 rua=mailto:a@example.com"},
       .present = true,
       .message_has = "expected ';' after v=TLSRPTv1",
       .candidates = 1},
      {.name = "unknown field with a bad value",
       .records = {"v=TLSRPTv1; rua=mailto:a@example.com; x=a=b"},
       .present = true,
       .message_has = "value of field \"x\" contains '='",
       .candidates = 1},
  };
  return cases;
}

TEST_CASE("ParseTlsRptRecords selects one v=TLSRPTv1 record and checks rua", "[tlsrpt]") {
  for (const RecordCase& c : RecordCases()) {
    INFO(c.name);
    const TlsRptRecord r = ParseTlsRptRecords(c.records);
    CHECK(r.present == c.present);
    CHECK(r.valid == c.valid);
    CHECK(r.rua == c.rua);
    CHECK(r.candidates == c.candidates);
    CHECK(r.notes.size() == c.notes);
    if (c.present && !c.valid) {
      CHECK(r.error.reason() == "tlsrpt-invalid");
      CHECK_THAT(r.error.message(), Catch::Contains(c.message_has));
    } else {
      CHECK(r.error.ok());
    }
  }
}

TEST_CASE("CheckTlsRptUri on single URIs", "[tlsrpt]") {
  struct Case {
    const char* uri;
    bool ok;
  };
  const Case cases[] = {
      {"mailto:tlsrpt@example.com", true},
      {"https://example.com", true},
      {"https://example.com/", true},
      {"https://user@example.com/r", true},
      {"https://192.0.2.1/r", true},
      {"", false},
      {"mailto:", false},
      {"https:", false},
      {"https://", false},
      {"https://exa mple.com/", false},
      {"https://-bad.example.com/", false},
      {"https://example.com:/", false},
      {"https://example.com:123456/", false},
      {"mailto:a@b@", false},
      {"mailto:a@b@example.com", false},
      {"mailto:a%40b@example.com", true},
      {"https://example.com:65535/", true},
      {"https://example.com:65536/", false},
      {"mailto:a@exa_mple.com", false},
      {"mailto:a@example.com\x01", false},
      {"mailto:a\xC3\xA9@example.com", false},
      {"urn:ietf:tlsrpt", false},
  };
  for (const Case& c : cases) {
    INFO("uri=\"" << c.uri << "\"");
    const Status s = CheckTlsRptUri(c.uri);
    CHECK(s.ok() == c.ok);
    if (!c.ok) CHECK(s.reason() == "tlsrpt-invalid");
  }
}

}  // namespace
}  // namespace mxtls
