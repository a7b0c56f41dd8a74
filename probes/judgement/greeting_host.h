// The host name an SMTP server announces in its 220 greeting, as a fact to show next to the
// MX name and the reverse DNS (a mismatch is not an error: many servers greet with an
// internal name).
#pragma once

#include <cstddef>
#include <string>

#include "probes/judgement/smtp_reply.h"

namespace mxtls {

// Longest host text kept: a domain name is at most 253 octets (RFC 1035 §2.3.4), and an
// IPv6 address literal ("[IPv6:...]") is far shorter.
inline constexpr size_t kGreetingHostMax = 253;

// The first word of the greeting's FIRST line: RFC 5321 §4.2 and §4.3.1 put the domain (or
// address literal) right after "220 " / "220-" on the first line, and later lines of a
// multi-line greeting carry free text. Characters outside printable ASCII (0x21..0x7e) are
// dropped, and the result is cut at kGreetingHostMax, so it is safe as a label value. Empty
// when the first line has no text.
std::string GreetingHost(const SmtpReply& greeting);

}  // namespace mxtls
