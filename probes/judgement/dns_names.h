// Host-name syntax and RFC 6125 / RFC 8461 name matching as pure string functions, shared by
// certificate name checks (DNS-ID subjectAltNames) and MTA-STS `mx:` patterns.
#pragma once

#include <string>
#include <string_view>

namespace mxtls {

// Lowercases ASCII letters and strips one trailing dot ("MX.Example.COM." -> "mx.example.com").
// Bytes outside ASCII are kept as they are.
std::string NormalizeHostName(std::string_view name);

// True for an LDH host name: after stripping one trailing dot, 1 to 253 characters, labels of
// 1 to 63 letters, digits and hyphens that neither start nor end with a hyphen. A-labels
// ("xn--...") are valid; underscores, empty labels and non-ASCII bytes are not.
bool IsValidHostName(std::string_view name);

// True when `host` is matched by `pattern` (a certificate DNS-ID or an MTA-STS mx pattern):
// case-insensitive, one trailing dot on either side ignored. A wildcard is allowed only as the
// entire left-most label ("*.example.com") and matches exactly one non-empty label of letters,
// digits and hyphens, and only when at least two labels follow it ("*.com" matches nothing).
// Partial wildcards ("m*.example.com"), a '*' anywhere else, empty labels, an empty pattern or
// host, and a host containing '*' never match.
bool MatchesDnsPattern(std::string_view pattern, std::string_view host);

}  // namespace mxtls
