// Domain names as typed to their A-label and U-label forms (UTS #46 non-transitional through
// libidn2), and every refusal with its message.
#include "config/domain_name.h"

#include <catch2/catch.hpp>
#include <string>

namespace mxtls::config {
namespace {

TEST_CASE("U-labels, A-labels and plain names become both forms", "[domain_name]") {
  struct Case {
    const char* input;
    const char* ascii;
    const char* unicode;
  };
  const Case cases[] = {
      {"bücher.example", "xn--bcher-kva.example", "bücher.example"},
      // Mixed case is mapped to lower case in both forms.
      {"BÜCHER.Example", "xn--bcher-kva.example", "bücher.example"},
      // An A-label stays what it is (lower-cased), and its U-label is shown.
      {"xn--bcher-kva.example", "xn--bcher-kva.example", "bücher.example"},
      {"XN--BCHER-KVA.EXAMPLE", "xn--bcher-kva.example", "bücher.example"},
      // Non-transitional: German sharp s is kept (not mapped to "ss" as IDNA2003 did).
      {"ß.de", "xn--zca.de", "ß.de"},
      {"straße.de", "xn--strae-oqa.de", "straße.de"},
      {"xn--zca.de", "xn--zca.de", "ß.de"},
      // Non-transitional: Greek final sigma is kept distinct from σ.
      {"σίσυφος.gr", "xn--kxa6ajbbmh.gr", "σίσυφος.gr"},
      {"ΣΊΣΥΦΟΣ.gr", "xn--kxa6akbbkh.gr", "σίσυφοσ.gr"},
      // UTS #46 separators: ideographic, fullwidth and halfwidth full stops are dots.
      {"bücher。example", "xn--bcher-kva.example", "bücher.example"},
      {"bücher．example", "xn--bcher-kva.example", "bücher.example"},
      {"bücher｡example", "xn--bcher-kva.example", "bücher.example"},
      // Fullwidth letters are mapped to ASCII.
      {"ｂüｃher.example", "xn--bcher-kva.example", "bücher.example"},
      // NFC input: u + combining diaeresis is ü.
      {"bu\xCC\x88"
       "cher.example",
       "xn--bcher-kva.example", "bücher.example"},
      // One trailing dot (or full stop) is dropped.
      {"bücher.example.", "xn--bcher-kva.example", "bücher.example"},
      {"bücher.example。", "xn--bcher-kva.example", "bücher.example"},
      {"mx.bücher.example", "mx.xn--bcher-kva.example", "mx.bücher.example"},
      // Right-to-left labels that meet the bidi rule.
      {"ا.example", "xn--mgb.example", "ا.example"},
      // Plain LDH names: lower-cased only, R-LDH labels that DNS allows stay valid.
      {"Example.COM.", "example.com", "example.com"},
      {"ab--cd.example", "ab--cd.example", "ab--cd.example"},
      {"localhost", "localhost", "localhost"},
      {"1.2.3.example", "1.2.3.example", "1.2.3.example"},
  };
  for (const Case& c : cases) {
    INFO("input: " << c.input);
    Result<DomainName> name = ParseDomainName(c.input);
    REQUIRE(name.ok());
    CHECK(name->ascii == c.ascii);
    CHECK(name->unicode == c.unicode);
  }
}

TEST_CASE("names that are not mail domains are refused with the reason", "[domain_name]") {
  const std::string label63(63, 'a');
  const std::string label64(64, 'a');
  // 4 labels of 63 and the dots: 255 octets; one label less plus a 61: 253.
  const std::string name253 = label63 + "." + label63 + "." + label63 + "." + std::string(61, 'a');
  const std::string name254 = name253 + "a";
  struct Case {
    std::string input;
    std::string message;
  };
  const Case cases[] = {
      {"", "is empty"},
      {".", "is the DNS root, not a domain name"},
      {std::string("a\0b.example", 11), "holds a NUL byte"},
      {"\xFF.example", "is not valid UTF-8"},
      {"b\xC3.example", "is not valid UTF-8"},
      {"\xC0\xAE.example", "is not valid UTF-8"},  // overlong '.'
      {"xn--abc--",
       "label \"xn--abc--\" is not a valid A-label: its \"xn--\" Punycode does not "
       "decode to a valid U-label"},
      {"xn--abc--.example",
       "label \"xn--abc--\" is not a valid A-label: its \"xn--\" Punycode "
       "does not decode to a valid U-label"},
      {"xn--.example",
       "label \"xn--\" is not a valid A-label: its \"xn--\" Punycode does not "
       "decode to a valid U-label"},
      // Emoji are disallowed in IDNA2008 (UTS #46 maps them to "disallowed" too).
      {"\xF0\x9F\x98\x80.example",
       "label \"\xF0\x9F\x98\x80\" holds a code point that IDNA2008 "
       "does not allow in domain names (such as an emoji, a symbol or "
       "an unassigned code point)"},
      {"xn--ls8h.la",
       "label \"xn--ls8h\" holds a code point that IDNA2008 does not allow in "
       "domain names (such as an emoji, a symbol or an unassigned code point)"},
      // A zero width joiner between two Latin letters (CONTEXTJ).
      {"a\xE2\x80\x8D"
       "b.example",
       "label \"a\xE2\x80\x8D"
       "b\" holds a zero width joiner or "
       "non-joiner where the CONTEXTJ rules of IDNA2008 (RFC 5892) "
       "forbid it"},
      // A Latin letter followed by an Arabic one in one label (bidi rule).
      {"a\xD8\xA7.example",
       "label \"a\xD8\xA7\" mixes right-to-left and left-to-right "
       "characters as the bidi rule of IDNA2008 (RFC 5893) forbids"},
      {"\xCC\x88"
       "a.example",
       "label \"\xCC\x88"
       "a\" starts with a combining mark"},
      {"-bücher.example", "label \"-bücher\" starts or ends with a hyphen"},
      {"bü--cher.example",
       "label \"bü--cher\" has hyphens in the third and fourth positions, "
       "which IDNA reserves for \"xn--\" A-labels"},
      {std::string(60, 'u') + "ü.example",
       "label \"" + std::string(60, 'u') + "ü\" is longer than 63 octets in its A-label form"},
      {label64 + ".example", "label \"" + label64 +
                                 "\" is 64 octets long in its A-label form; a "
                                 "label has at most 63"},
      {name254, "is 254 octets long in its A-label form; a domain name has at most 253"},
      {"a..example", "has an empty label (two dots in a row, or a leading dot)"},
      {".example", "has an empty label (two dots in a row, or a leading dot)"},
      {"example.com..", "has an empty label (two dots in a row, or a leading dot)"},
      {"bücher..example", "has an empty label (two dots in a row, or a leading dot)"},
      {"_dmarc.example",
       "label \"_dmarc\" holds characters other than letters, digits and "
       "hyphens (a mail domain has no underscores, spaces or punctuation)"},
      {"exa mple.com",
       "label \"exa mple\" holds characters other than letters, digits and "
       "hyphens (a mail domain has no underscores, spaces or punctuation)"},
      // With a U-label in the name, libidn2 runs, and still the underscore is refused (libidn2's
      // STD3 flag would have silently dropped it and probed another domain).
      {"a_b.bücher.example",
       "label \"a_b\" holds characters other than letters, digits and "
       "hyphens (a mail domain has no underscores, spaces or punctuation)"},
      {"-a.example", "label \"-a\" starts or ends with a hyphen"},
      {"a\x1b[31m.example",
       "label \"a\\x1b[31m\" holds characters other than letters, digits "
       "and hyphens (a mail domain has no underscores, spaces or "
       "punctuation)"},
  };
  for (const Case& c : cases) {
    INFO("input: " << c.input);
    Result<DomainName> name = ParseDomainName(c.input);
    REQUIRE_FALSE(name.ok());
    CHECK(name.status().reason() == "invalid_domain");
    CHECK(name.status().message() == c.message);
  }
  // The limits themselves are accepted.
  CHECK(ParseDomainName(label63 + ".example").ok());
  CHECK(ParseDomainName(name253).ok());
  CHECK(ParseDomainName(name253 + ".").ok());
}

TEST_CASE("the display form shows both forms only when they differ", "[domain_name]") {
  CHECK(ParseDomainName("bücher.example")->Display() == "bücher.example (xn--bcher-kva.example)");
  CHECK(ParseDomainName("xn--bcher-kva.example")->Display() ==
        "bücher.example (xn--bcher-kva.example)");
  CHECK(ParseDomainName("Example.COM")->Display() == "example.com");
  CHECK(DisplayDomain("example.com", "") == "example.com");
  CHECK(DisplayDomain("xn--zca.de", "ß.de") == "ß.de (xn--zca.de)");
}

}  // namespace
}  // namespace mxtls::config
