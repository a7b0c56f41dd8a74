#include "probes/judgement/dnssec.h"

#include "probes/judgement/dns_message.h"

namespace mxtls {
namespace {

// NOERROR and NXDOMAIN are the answers whose data (or proof of absence) a validator vouches
// for with AD (RFC 4035 §3.2.3); an error RCODE carries no data to vouch for.
bool IsDataAnswer(int rcode) { return rcode == kDnsRcodeNoError || rcode == kDnsRcodeNxDomain; }

}  // namespace

bool NeedsCheckingDisabledRetry(bool resolver_validates, const DnssecAnswer& answer) {
  return resolver_validates && answer.rcode == kDnsRcodeServFail;
}

DnssecStatus ClassifyDnssec(bool resolver_validates, const DnssecAnswer& answer,
                            const std::optional<DnssecAnswer>& cd_retry) {
  // A resolver that does not validate may still copy AD from its upstream or set it at will
  // (RFC 6840 §5.7): its AD bit means nothing.
  if (!resolver_validates) return DnssecStatus::kUnknown;
  if (IsDataAnswer(answer.rcode)) {
    return answer.authentic_data ? DnssecStatus::kSecure : DnssecStatus::kInsecure;
  }
  // SERVFAIL alone may be a broken zone or an unreachable server. Only when the same query
  // succeeds with validation switched off is it the signatures that fail.
  if (answer.rcode == kDnsRcodeServFail && cd_retry && IsDataAnswer(cd_retry->rcode)) {
    return DnssecStatus::kBogus;
  }
  return DnssecStatus::kUnknown;
}

const char* DnssecStatusWord(DnssecStatus status) {
  switch (status) {
    case DnssecStatus::kSecure:
      return "secure";
    case DnssecStatus::kInsecure:
      return "insecure";
    case DnssecStatus::kBogus:
      return "bogus";
    case DnssecStatus::kUnknown:
      break;
  }
  return "unknown";
}

}  // namespace mxtls
