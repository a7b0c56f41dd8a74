// The DNSSEC status of one lookup, judged from what a validating resolver said: the answer's
// RCODE and AD bit, and after a SERVFAIL the outcome of the same query re-sent with CD set.
// c-ares does not validate; the resolver does (STACK.md "c-ares 1.18.1"). Pure: the resolver
// (probes/dns_resolver.h) sends the queries and calls these functions.
#pragma once

#include <optional>

#include "probes/judgement/domain_report.h"

namespace mxtls {

// What one answer said, as far as DNSSEC goes. rcode -1: no answer arrived (timeout, ...).
struct DnssecAnswer {
  int rcode = -1;
  bool authentic_data = false;
};

// True when a query should be re-sent with CD (checking disabled, RFC 4035 §3.2.2) to tell a
// validation failure from a broken zone: the resolver validates and the answer was SERVFAIL.
bool NeedsCheckingDisabledRetry(bool resolver_validates, const DnssecAnswer& answer);

// The status of one lookup (see DnssecStatus in domain_report.h):
//   resolver not known to validate                             -> kUnknown, always
//   NOERROR or NXDOMAIN with AD                                -> kSecure
//   NOERROR or NXDOMAIN without AD                             -> kInsecure
//   SERVFAIL whose CD retry answered NOERROR or NXDOMAIN       -> kBogus
//   anything else (timeout, REFUSED, SERVFAIL without a retry
//   or whose retry failed too, AD on an error RCODE)           -> kUnknown
// `cd_retry` is the answer to the CD query, when one was sent.
DnssecStatus ClassifyDnssec(bool resolver_validates, const DnssecAnswer& answer,
                            const std::optional<DnssecAnswer>& cd_retry);

// "secure", "insecure", "bogus", "unknown": for label values and the probe log.
const char* DnssecStatusWord(DnssecStatus status);

// A typed lookup result (MxLookup, AddressLookup, TlsaLookup, ...) with its DNSSEC status.
template <typename T>
struct DnssecLookup {
  // The answer. When `dnssec` is kBogus this is the answer to the CD retry: what a sender
  // that does not validate sees (validating senders see SERVFAIL).
  T answer;
  DnssecStatus dnssec = DnssecStatus::kUnknown;
  bool cd_retried = false;  // the query was re-sent with CD after a SERVFAIL
};

}  // namespace mxtls
