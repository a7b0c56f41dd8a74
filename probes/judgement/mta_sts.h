// MTA-STS (RFC 8461) as pure functions: the `_mta-sts` TXT record, the policy body served at
// https://mta-sts.<domain>/.well-known/mta-sts.txt, its media type, and which MX hosts a policy
// covers. Text in, facts out; fetching (DNS, HTTPS, the 64 KiB body cap) belongs to the caller.
//
// The parsers judge the way a strict sending MTA does: input that the RFC 8461 grammar does not
// allow makes the record or policy invalid, with a message that names the line or field and
// what is wrong. Anything a sender merely ignores (unknown fields, repeated fields) is accepted
// and described in `notes`.
//
// Reason words produced here (stable; they become label values):
//   sts-txt-invalid      ParseStsTxtRecords (RFC 8461 §3.1)
//   sts-policy-invalid   ParseStsPolicy     (RFC 8461 §3.2; the RFC 8460 result type)
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace mxtls {

// What the TXT records at `_mta-sts.<domain>` say.
struct StsTxtRecord {
  // At least one record starts with "v=STSv1". When false the domain publishes no MTA-STS
  // policy: `valid` is false and `error` is OK, since that is a fact and not a fault.
  bool present = false;
  // Exactly one record starts with "v=STSv1" and it follows the §3.1 grammar with an id.
  bool valid = false;
  std::string id;      // the policy id when valid: 1-32 letters and digits
  Status error;        // when present && !valid: reason "sts-txt-invalid"
  int candidates = 0;  // records starting with "v=STSv1"
  // For people: records a sender skips or fields it ignores, e.g. a record that mentions
  // STSv1 but does not start with "v=STSv1", or a second id field.
  std::vector<std::string> notes;
};

// Judges all TXT strings found at `_mta-sts.<domain>`, each one record whose character-strings
// are already joined. Order does not matter.
//
// A record is a candidate when it starts with exactly "v=STSv1" (case-sensitive) followed by
// the end, ';', space or tab; all others are skipped (SPF and the like). More than one candidate
// is invalid. The candidate must follow the ABNF of §3.1:
//   "v=STSv1" 1*(*WSP ";" *WSP field) [*WSP ";" *WSP]
// with fields `name=value` (name: a letter or digit, then up to 31 letters, digits, '_', '-',
// '.'; value: 1 or more printable ASCII characters except '=' and ';'). Field names are
// case-sensitive. `id` is required and must be 1-32 letters and digits; the first `id` wins and
// later ones are ignored (§3.2 says so for both record kinds); unknown fields are ignored.
// Whitespace is allowed around ';' only, so trailing whitespace after the last field without a
// ';' makes the record invalid, as does an empty field (";;").
StsTxtRecord ParseStsTxtRecords(const std::vector<std::string>& txt_records);

// A syntactically and semantically valid policy.
struct StsPolicy {
  std::string version;    // always "STSv1"
  std::string mode;       // "enforce", "testing" or "none"
  long long max_age = 0;  // seconds, 0..kStsMaxAgeLimit
  // The `mx` patterns in file order, as written (duplicates kept): host names or
  // "*.<host name>". Never empty unless mode is "none".
  std::vector<std::string> mx;
  // For people: fields a sender ignores (repeated non-mx fields, unknown fields), with their
  // line numbers. Not part of the policy's meaning.
  std::vector<std::string> notes;
};

// Largest max_age RFC 8461 §3.2 allows (about one year).
inline constexpr long long kStsMaxAgeLimit = 31557600;
// Largest policy body accepted; the fetcher stops reading at the same size. Real policies are
// a few hundred bytes.
inline constexpr size_t kStsMaxPolicyBytes = 64 * 1024;

// Parses a policy body (RFC 8461 §3.2). Errors have reason "sts-policy-invalid" and a message
// naming the line. The rules, in the words of the grammar:
//   - at most kStsMaxPolicyBytes bytes, not empty; no byte order mark, NUL or other control
//     character except the tab;
//   - lines end in LF or CRLF; the last line may lack one; blank lines are outside the
//     grammar but skipped with a note (often a doubled final newline; deployed senders skip
//     them, so calling the policy invalid would be a false alarm);
//   - each line is `name:` optional whitespace `value` optional trailing whitespace, with no
//     whitespace before the name or the ':'; names as in the TXT record, case-sensitive;
//   - `version: STSv1`, `mode: enforce|testing|none` and `max_age: <1-10 digits>` with a value
//     of at most kStsMaxAgeLimit are required, in any order, all values case-sensitive; when one
//     of them repeats, the first line wins and later ones are ignored (noted), unvalidated
//     beyond the generic value syntax;
//   - `mx` may repeat; at least one is required unless mode is "none"; each must be a valid
//     pattern (IsValidStsMxPattern), and one bad pattern invalidates the policy;
//   - unknown fields are ignored (noted) but their values must be 1 or more printable
//     characters (ASCII or well-formed UTF-8) with single spaces allowed inside.
Result<StsPolicy> ParseStsPolicy(std::string_view body);

// True for an `mx` value RFC 8461 §3.2 allows: an LDH host name (RFC 5321 Domain, so no
// trailing dot), optionally prefixed by "*." for exactly the left-most label. "*.com" is
// syntactically allowed (though MatchesDnsPattern never lets it match anything); "*",
// "m*.example.com", "mx.*.example.com", U-labels and "mx.example.com." are not.
bool IsValidStsMxPattern(std::string_view pattern);

// True when a Content-Type header value names text/plain (RFC 8461 §3.2): the media type is
// compared case-insensitively, whitespace around it and around ';' is tolerated, and
// parameters (charset or anything else) are ignored. "text/plainx", "text/html", "text / plain"
// and "" are false.
bool IsTextPlainMediaType(std::string_view content_type);

// True when some `mx` pattern of `policy` matches `mx_host` (RFC 8461 §4.1, via
// MatchesDnsPattern): case-insensitive, one trailing dot ignored on either side, and
// "*.example.com" covers exactly one extra left-most label, never "example.com" itself nor
// "a.b.example.com". The policy's mode is not considered: that is the caller's judgement.
bool StsPolicyCoversMx(const StsPolicy& policy, std::string_view mx_host);

// The hosts of `mx_hosts` that StsPolicyCoversMx rejects, in their given order and spelling.
std::vector<std::string> UncoveredMxHosts(const StsPolicy& policy,
                                          const std::vector<std::string>& mx_hosts);

// A canonical text of what the policy means to a sender, for noticing "the policy changed but
// its id did not" (RFC 8461 §3.1: the id must change whenever the policy does). It covers the
// version, mode, max_age and the set of mx patterns, normalized (lowercase, no trailing dot,
// sorted, duplicates removed). Field order, line endings, whitespace, repeated or unknown
// fields and `notes` do not change it. Example:
//   "version=STSv1;mode=enforce;max_age=604800;mx=*.example.net,mail.example.com"
std::string PolicyFingerprint(const StsPolicy& policy);

}  // namespace mxtls
