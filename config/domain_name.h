// Domain names as people type them and as the exporter uses them: the one place where a name
// given in the config, in /probe?target= or on the `check` command line becomes the A-label
// form that is resolved, probed, compared and exported, plus the U-label form shown to people.
//
// What a mail domain may hold (the rule ParseDomainName enforces):
//  - the host-name syntax of RFC 5321 (`Domain`) / RFC 1123: after IDNA processing every label
//    is 1 to 63 octets of ASCII letters, digits and hyphens, not starting or ending with a
//    hyphen, and the whole name is at most 253 octets without its trailing dot. Underscores,
//    spaces and other ASCII punctuation are refused: no mail domain (the part after the '@',
//    the owner of MX records) holds them, and a '_' name is a service label, not a mail domain.
//  - labels with non-ASCII characters (U-labels) and labels starting with "xn--" (A-labels) are
//    processed by libidn2 with UTS #46 non-transitional processing and NFC input normalisation,
//    as browsers and mail clients do: "ß" stays "ß" (xn--zca), Greek final sigma stays "ς",
//    upper case, fullwidth letters and the ideographic full stops ("。", "．", "｡") are mapped,
//    and IDNA2008 refuses disallowed code points (emoji, symbols), CONTEXTJ/CONTEXTO violations,
//    the bidi rule of RFC 5893, leading combining marks and A-labels whose Punycode is invalid
//    or does not round-trip.
//  - a name that is all ASCII with no "xn--" label is checked by the LDH rule alone and only
//    lower-cased, so existing names such as "ab--cd.example" stay valid (UTS #46 would refuse
//    hyphens in the third and fourth positions; DNS does not). When such a label shares a name
//    with a U-label, the whole name goes through libidn2 and that rule applies.
//  - one trailing dot (or ideographic full stop) is accepted and dropped; the root "." alone,
//    an empty name and empty labels are refused.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace mxtls::config {

struct DomainName {
  // The A-label form: lower-case LDH labels, no trailing dot ("xn--bcher-kva.example"). This
  // is what is resolved, probed, compared (duplicates, target lookup) and exported in labels.
  std::string ascii;
  // The U-label form for people ("bücher.example"), NFC and lower case; equal to `ascii` for
  // a name without A-labels.
  std::string unicode;

  // "bücher.example (xn--bcher-kva.example)" when the forms differ, else "example.com".
  std::string Display() const;
};

// Parses `input` (UTF-8; U-labels, A-labels or both, any case, one optional trailing dot) into
// both forms. Fails with reason "invalid_domain" and a message saying what is wrong (invalid
// UTF-8, a disallowed code point, a bidi or CONTEXTJ failure, an invalid A-label, a label over
// 63 octets, a name over 253, an empty label, a character outside letters, digits and
// hyphens, ...), naming the offending label where it can. Pure: no DNS, no locale, no I/O.
Result<DomainName> ParseDomainName(std::string_view input);

// The display form for a name stored as its two forms (see DomainName::Display); an empty
// `unicode` counts as equal to `ascii`.
std::string DisplayDomain(std::string_view ascii, std::string_view unicode);

}  // namespace mxtls::config
