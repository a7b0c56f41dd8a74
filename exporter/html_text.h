// Text made safe for HTML and URLs. Every name the exporter shows comes from DNS, certificates
// or policy files, that is, from whoever runs the probed domain: it is escaped, always.
#pragma once

#include <string>
#include <string_view>

namespace mxtls {

// Escapes text for HTML element content and quoted attribute values: & < > " ' become
// entities; control characters (C0, DEL, C1), bidirectional overrides and isolates, and bytes
// that are not valid UTF-8 are shown as visible \xNN or \u{NNNN} text, so that no name can
// hide or reorder what the page says.
std::string HtmlEscape(std::string_view s);

// Percent-encodes everything but RFC 3986 unreserved characters (a query parameter value).
std::string UrlEncode(std::string_view s);

}  // namespace mxtls
