// Reverse DNS of an MX address as plain values: the PTR query name of an address
// (in-addr.arpa / ip6.arpa), the reading of a PTR answer, and the judgement of the names found
// (forward-confirmed? the MX host itself?). Facts for people, not alerts. Pure: the resolver
// (probes/dns_resolver.h) sends the queries.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "probes/judgement/dns_message.h"
#include "probes/judgement/domain_report.h"

namespace mxtls {

// The PTR query name of a textual IPv4 or IPv6 address (RFC 1035 §3.5, RFC 3596 §2.5):
// "192.0.2.1" -> "1.2.0.192.in-addr.arpa", "2001:db8::1" -> "1.0.0. ... .8.b.d.0.1.0.0.2.ip6.arpa"
// (32 nibbles, lower-case hex). No trailing dot. Fails ("dns_error") on anything inet_pton does
// not read as an address of either family (brackets, zone ids, names).
Result<std::string> ReverseLookupName(std::string_view address);

// The canonical text of an address ("2001:DB8:0::1" -> "2001:db8::1"); "" when `address` is
// not an IPv4 or IPv6 address. Two addresses are the same when their canonical texts are.
std::string CanonicalAddress(std::string_view address);


// Judges the reverse DNS of `address` for the MX host `mx_host`:
//   ptr_names          the PTR names found (from PtrLookup::names); normalized again here
//   forward_addresses  for PTR names, the A and AAAA addresses each resolved to (keys compared
//                      after NormalizeQueryName; names missing from the map resolved to nothing)
//   error              the PTR lookup's reason word when it failed ("" when it answered)
// forward_confirmed: some PTR name resolves back to this very address (compared as
// CanonicalAddress). matches_mx: some PTR name equals mx_host (case-insensitive, trailing dot
// ignored). `checked` is always true: the caller asked.
ReverseDnsReport JudgeReverseDns(
    std::string_view address, std::string_view mx_host, const std::vector<std::string>& ptr_names,
    const std::map<std::string, std::vector<std::string>>& forward_addresses,
    std::string_view error);

}  // namespace mxtls
