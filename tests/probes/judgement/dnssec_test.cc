#include "probes/judgement/dnssec.h"

#include <catch2/catch.hpp>
#include <optional>
#include <string>
#include <vector>

#include "probes/judgement/dns_message.h"

namespace mxtls {
namespace {

TEST_CASE("ClassifyDnssec", "[dnssec]") {
  constexpr int kNoAnswer = -1;
  using A = DnssecAnswer;
  struct Case {
    std::string name;
    bool validates;
    DnssecAnswer answer;
    std::optional<DnssecAnswer> cd_retry;
    DnssecStatus expected;
  };
  const std::vector<Case> cases = {
      {"NOERROR with AD", true, A{kDnsRcodeNoError, true}, {}, DnssecStatus::kSecure},
      {"NXDOMAIN with AD", true, A{kDnsRcodeNxDomain, true}, {}, DnssecStatus::kSecure},
      {"NOERROR without AD", true, A{kDnsRcodeNoError, false}, {}, DnssecStatus::kInsecure},
      {"NXDOMAIN without AD", true, A{kDnsRcodeNxDomain, false}, {}, DnssecStatus::kInsecure},
      {"SERVFAIL, CD retry NOERROR", true, A{kDnsRcodeServFail, false}, A{kDnsRcodeNoError, false},
       DnssecStatus::kBogus},
      {"SERVFAIL, CD retry NXDOMAIN", true, A{kDnsRcodeServFail, false},
       A{kDnsRcodeNxDomain, false}, DnssecStatus::kBogus},
      {"SERVFAIL, CD retry SERVFAIL too (broken, not bogus)", true, A{kDnsRcodeServFail, false},
       A{kDnsRcodeServFail, false}, DnssecStatus::kUnknown},
      {"SERVFAIL, CD retry timed out", true, A{kDnsRcodeServFail, false}, A{kNoAnswer, false},
       DnssecStatus::kUnknown},
      {"SERVFAIL without a retry", true, A{kDnsRcodeServFail, false}, {}, DnssecStatus::kUnknown},
      {"REFUSED", true, A{kDnsRcodeRefused, false}, {}, DnssecStatus::kUnknown},
      {"timeout", true, A{kNoAnswer, false}, {}, DnssecStatus::kUnknown},
      {"AD on SERVFAIL: no", true, A{kDnsRcodeServFail, true}, {}, DnssecStatus::kUnknown},
      {"not validating: AD ignored", false, A{kDnsRcodeNoError, true}, {}, DnssecStatus::kUnknown},
      {"not validating: no AD", false, A{kDnsRcodeNoError, false}, {}, DnssecStatus::kUnknown},
      {"not validating: SERVFAIL then CD NOERROR", false, A{kDnsRcodeServFail, false},
       A{kDnsRcodeNoError, false}, DnssecStatus::kUnknown},
  };
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.name) {
      CHECK(ClassifyDnssec(c.validates, c.answer, c.cd_retry) == c.expected);
    }
  }
}

TEST_CASE("NeedsCheckingDisabledRetry only after SERVFAIL from a validating resolver", "[dnssec]") {
  CHECK(NeedsCheckingDisabledRetry(true, {kDnsRcodeServFail, false}));
  CHECK_FALSE(NeedsCheckingDisabledRetry(false, {kDnsRcodeServFail, false}));
  CHECK_FALSE(NeedsCheckingDisabledRetry(true, {kDnsRcodeNoError, false}));
  CHECK_FALSE(NeedsCheckingDisabledRetry(true, {kDnsRcodeNxDomain, false}));
  CHECK_FALSE(NeedsCheckingDisabledRetry(true, {kDnsRcodeRefused, false}));
  CHECK_FALSE(NeedsCheckingDisabledRetry(true, {-1, false}));
}

TEST_CASE("DnssecStatusWord", "[dnssec]") {
  CHECK(std::string(DnssecStatusWord(DnssecStatus::kSecure)) == "secure");
  CHECK(std::string(DnssecStatusWord(DnssecStatus::kInsecure)) == "insecure");
  CHECK(std::string(DnssecStatusWord(DnssecStatus::kBogus)) == "bogus");
  CHECK(std::string(DnssecStatusWord(DnssecStatus::kUnknown)) == "unknown");
  CHECK(std::string(DnssecStatusWord(static_cast<DnssecStatus>(42))) == "unknown");
}

}  // namespace
}  // namespace mxtls
