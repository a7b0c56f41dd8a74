#include "probes/judgement/dns_names.h"

#include <catch2/catch.hpp>
#include <string>
#include <string_view>

#include "probes/judgement/cert_checks.h"
#include "tests/support/cert_factory.h"

namespace mxtls {
namespace {

struct PatternCase {
  const char* pattern;
  const char* host;
  bool match;
};

// RFC 6125 §6.4.3 / RFC 8461 §4.1 semantics, shared by SAN DNS-IDs and MTA-STS mx patterns.
// The last test below checks that OpenSSL's X509_check_host (MatchCertificateName) agrees.
const PatternCase kPatternCases[] = {
    // Exact names, case and trailing dots.
    {"mx.example.com", "mx.example.com", true},
    {"MX.Example.COM", "mx.example.com", true},
    {"mx.example.com", "Mx.EXAMPLE.com", true},
    {"mx.example.com.", "mx.example.com", true},
    {"mx.example.com", "mx.example.com.", true},
    {"mx.example.com.", "mx.example.com.", true},
    {"mx.example.com", "mx2.example.com", false},
    {"mx.example.com", "example.com", false},
    {"example.com", "mx.example.com", false},
    {"mx.example.com", "mx.example.com.evil", false},
    // Full-label wildcard: exactly one non-empty label.
    {"*.example.com", "mx.example.com", true},
    {"*.EXAMPLE.com", "MX.example.COM.", true},
    {"*.example.com.", "mx.example.com", true},
    {"*.example.com", "example.com", false},
    {"*.example.com", "a.b.example.com", false},
    {"*.example.com", ".example.com", false},
    {"*.example.com", "mx.example.org", false},
    {"*.mail.example.com", "mx.mail.example.com", true},
    {"*.mail.example.com", "mx.example.com", false},
    // Partial and misplaced wildcards never match.
    {"m*.example.com", "mx.example.com", false},
    {"*x.example.com", "mx.example.com", false},
    {"mx*.example.com", "mx1.example.com", false},
    {"mx.*.example.com", "mx.a.example.com", false},
    {"*.*.example.com", "a.b.example.com", false},
    {"mx.example.*", "mx.example.com", false},
    {"*", "com", false},
    // Two labels must follow the wildcard.
    {"*.com", "example.com", false},
    {"*.com", "mx.example.com", false},
    // IDN A-labels are plain LDH labels.
    {"mx.xn--bcher-kva.de", "MX.XN--BCHER-KVA.DE", true},
    {"*.xn--bcher-kva.de", "mx.xn--bcher-kva.de", true},
    {"*.example.com", "xn--bcher-kva.example.com", true},
    {"xn--*.example.com", "xn--bcher-kva.example.com", false},
    {"mx.xn--bcher-kva.de", "mx.bücher.de", false},
    // Wildcards only cover letters, digits and hyphens.
    {"*.example.com", "_dmarc.example.com", false},
    // Empty strings and empty labels.
    {"", "mx.example.com", false},
    {"mx.example.com", "", false},
    {"", "", false},
    {".", ".", false},
    {"mx..example.com", "mx..example.com", false},
    {"*.example.com", "*.example.com", false},
};

TEST_CASE("MatchesDnsPattern follows RFC 6125 and RFC 8461", "[dns_names]") {
  STATIC_REQUIRE(sizeof(kPatternCases) / sizeof(kPatternCases[0]) >= 25);
  for (const PatternCase& c : kPatternCases) {
    INFO("pattern=\"" << c.pattern << "\" host=\"" << c.host << "\"");
    CHECK(MatchesDnsPattern(c.pattern, c.host) == c.match);
  }
}

TEST_CASE("MatchCertificateName and MatchesAnyDnsSan agree over the pattern table",
          "[dns_names][cert_checks]") {
  testing::TestPki pki("agreement");
  for (const PatternCase& c : kPatternCases) {
    INFO("pattern=\"" << c.pattern << "\" host=\"" << c.host << "\"");
    testing::CertSpec spec;
    spec.dns_sans = {c.pattern};
    testing::TestCert leaf = testing::MakeIssued(spec, pki.intermediate());
    const bool openssl = MatchCertificateName(leaf.get(), c.host) == NameMatch::kMatch;
    const bool ours = MatchesAnyDnsSan(DescribeCertificate(leaf.get()).dns_sans, c.host);
    CHECK(openssl == ours);
    // A dNSName with a trailing dot is malformed in a certificate and matches nothing there;
    // as an MTA-STS pattern it is fine.
    const bool san_with_trailing_dot = std::string_view(c.pattern).ends_with('.');
    CHECK(openssl == (c.match && !san_with_trailing_dot));
  }
}

TEST_CASE("NormalizeHostName lowercases and strips one trailing dot", "[dns_names]") {
  struct Case {
    const char* in;
    const char* out;
  };
  const Case cases[] = {
      {"MX.Example.COM.", "mx.example.com"},
      {"mx.example.com", "mx.example.com"},
      {"mx.example.com..", "mx.example.com."},
      {".", ""},
      {"", ""},
      {"XN--BCHER-KVA.DE", "xn--bcher-kva.de"},
      {"Mx.B\xC3\x9C"
       "cher.de",
       "mx.b\xC3\x9C"
       "cher.de"},  // non-ASCII bytes untouched
  };
  for (const Case& c : cases) {
    INFO("in=\"" << c.in << "\"");
    CHECK(NormalizeHostName(c.in) == c.out);
  }
}

TEST_CASE("IsValidHostName accepts LDH names only", "[dns_names]") {
  const std::string label63(63, 'a');
  const std::string label64(64, 'a');
  // 4 labels of 63 + 3 dots = 255; trimming to 253 and 254 characters.
  const std::string name253 = label63 + "." + label63 + "." + label63 + "." + std::string(61, 'b');
  const std::string name254 = name253 + "b";
  REQUIRE(name253.size() == 253);

  struct Case {
    std::string name;
    bool valid;
  };
  const Case cases[] = {
      {"mx.example.com", true},
      {"MX.Example.COM", true},
      {"mx.example.com.", true},
      {"localhost", true},
      {"mx-1.example.com", true},
      {"1mx.example.com", true},
      {"xn--bcher-kva.de", true},
      {label63 + ".example.com", true},
      {label64 + ".example.com", false},
      {name253, true},
      {name253 + ".", true},
      {name254, false},
      {"", false},
      {".", false},
      {"mx..example.com", false},
      {".mx.example.com", false},
      {"mx.example.com..", false},
      {"-mx.example.com", false},
      {"mx-.example.com", false},
      {"mx.example.com-", false},
      {"_dmarc.example.com", false},
      {"mx_1.example.com", false},
      {"*.example.com", false},
      {"mx example.com", false},
      {"mx.bücher.de", false},
  };
  for (const Case& c : cases) {
    INFO("name=\"" << c.name << "\"");
    CHECK(IsValidHostName(c.name) == c.valid);
  }
}

}  // namespace
}  // namespace mxtls

namespace mxtls {
namespace {

// Regression for fuzz/crashes/certificate/wildcard_san_with_non_ldh_label.der: OpenSSL ignores
// a wildcard pattern with a non-LDH label, so the string matcher must too, or the two
// judgements of one certificate disagree.
TEST_CASE("a wildcard pattern with a non-LDH label matches nothing", "[dns-names]") {
  CHECK_FALSE(MatchesDnsPattern("*.exa_mple.com", "mx1.exa_mple.com"));
  CHECK_FALSE(MatchesDnsPattern("*.example.c_m", "mx1.example.c_m"));
  // Without a wildcard the name is compared as written.
  CHECK(MatchesDnsPattern("mx1.exa_mple.com", "MX1.exa_mple.com."));
  CHECK(MatchesDnsPattern("*.example.com", "mx1.example.com"));
}

}  // namespace
}  // namespace mxtls

namespace mxtls {
namespace {

// Regression for fuzz/crashes/certificate/wildcard_san_label_{starts,ends}_with_hyphen.der.
TEST_CASE("a wildcard pattern with a label starting or ending in '-' matches nothing",
          "[dns-names]") {
  CHECK_FALSE(MatchesDnsPattern("*.-example.com", "mx1.-example.com"));
  CHECK_FALSE(MatchesDnsPattern("*.example-.com", "mx1.example-.com"));
  CHECK_FALSE(MatchesDnsPattern("*.example.com-", "mx1.example.com-"));
  CHECK(MatchesDnsPattern("*.exa--mple.com", "mx1.exa--mple.com"));
  CHECK(MatchesDnsPattern("-mx.example.com", "-mx.example.com"));  // no wildcard: literal
}

}  // namespace
}  // namespace mxtls
