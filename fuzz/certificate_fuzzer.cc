// Fuzz target: the certificate judgements of probes/judgement/cert_checks.h over certificates parsed
// from arbitrary DER, i.e. what a TLS server can make the prober look at. The input is one or
// more DER certificates back to back (the presented chain, leaf first); parsing stops at the
// first that does not decode, and at 8 certificates.
//
// For each certificate: DescribeCertificate, MatchCertificateName for a fixed MX name and for
// names taken from the certificate's own DNS SANs. For the chain: JudgeChain against an empty
// trust store (it must never verify) and, when the input holds two or more certificates,
// against a store that trusts the last one (so path building and the order rule run too).
//
// Checks beyond "no crash":
//   - the fields that become Prometheus label values (subject, issuer, serial, key type,
//     signature algorithm, fingerprint, chain reason) are printable ASCII: the exposition
//     format must stay valid UTF-8 whatever a server presents;
//   - fingerprint is 64 lowercase hex digits; SAN counts are consistent;
//   - a chain verdict is consistent: verified <=> reason "ok" and no errors; the reason is
//     one of the documented words; an empty store never verifies; the path starts at the
//     leaf; presented_count is the number given;
//   - every function leaves this thread's OpenSSL error queue empty (as the header promises).
//
// Check "san_match_diff": MatchesAnyDnsSan(facts.dns_sans, host) agrees with
// MatchCertificateName(cert, host) == kMatch (the header says they are the same judgement),
// for hosts in the form the DNS parser produces.
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "probes/judgement/cert_checks.h"

namespace {

using mxtls_fuzz::IsPrintableAscii;

X509_STORE* g_empty_store = nullptr;

// 2025-06-01T00:00:00Z: a fixed "now", so that a crash reproduces on any day.
const mxtls::WallTime kNow = mxtls::FromUnixSeconds(1748736000);

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct StoreFree {
  void operator()(X509_STORE* s) const { X509_STORE_free(s); }
};

bool IsLowerHex(const std::string& s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool IsChainReason(const std::string& r) {
  return r == "ok" || r == "expired" || r == "not_yet_valid" || r == "self_signed" ||
         r == "untrusted" || r == "incomplete_chain" || r == "bad_signature" ||
         r == "invalid_purpose" || r == "invalid_ca" || r == "path_too_long" ||
         r == "no_certificate" || r == "unknown";
}

void CheckFacts(const mxtls::CertFacts& f) {
  FUZZ_CHECK(f.fingerprint_sha256.size() == 64 && IsLowerHex(f.fingerprint_sha256));
  FUZZ_CHECK(IsPrintableAscii(f.subject));
  FUZZ_CHECK(IsPrintableAscii(f.issuer));
  FUZZ_CHECK(IsPrintableAscii(f.serial));
  FUZZ_CHECK(!f.key_type.empty() && IsPrintableAscii(f.key_type));
  FUZZ_CHECK(IsPrintableAscii(f.curve));
  FUZZ_CHECK(!f.signature_algorithm.empty() && IsPrintableAscii(f.signature_algorithm));
  FUZZ_CHECK(f.san_count >= 0);
  FUZZ_CHECK(f.dns_sans.size() + f.ip_sans.size() <= static_cast<size_t>(f.san_count));
  FUZZ_CHECK(f.key_bits >= 0);
}

void CheckVerdict(const mxtls::ChainVerdict& v, size_t presented, bool may_verify) {
  FUZZ_CHECK(v.presented_count == static_cast<int>(presented));
  FUZZ_CHECK(IsChainReason(v.reason));
  FUZZ_CHECK(v.verified == (v.reason == "ok"));
  FUZZ_CHECK(IsPrintableAscii(v.detail));
  if (v.verified) {
    FUZZ_CHECK(may_verify);
    FUZZ_CHECK(v.errors.empty() && v.openssl_error == 0 && v.chain_complete);
    FUZZ_CHECK(v.earliest_not_after.has_value() && !v.path.empty());
  } else {
    FUZZ_CHECK(!v.earliest_not_after.has_value());
    FUZZ_CHECK(!v.errors.empty() || v.reason == "no_certificate" || v.reason == "unknown");
  }
  for (const mxtls::ChainError& e : v.errors) FUZZ_CHECK(IsChainReason(e.reason));
  for (const std::string& r : v.all_reasons) FUZZ_CHECK(IsChainReason(r));
  for (const mxtls::CertFacts& f : v.path) CheckFacts(f);
}

// Host names to match: a fixed MX name, and each of the first DNS SANs as a host (a
// wildcard's '*' replaced by a label), so that the matching code sees names that can match.
std::vector<std::string> HostsFor(const mxtls::CertFacts& f) {
  std::vector<std::string> hosts = {"mx.example.com"};
  for (size_t i = 0; i < f.dns_sans.size() && i < 4; ++i) {
    std::string h = f.dns_sans[i];
    if (h.rfind("*.", 0) == 0) h = "mx1" + h.substr(1);
    hosts.push_back(h);
  }
  return hosts;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  g_empty_store = X509_STORE_new();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::unique_ptr<X509, X509Free>> owned;
  const unsigned char* p = data;
  const unsigned char* end = data + size;
  while (p < end && owned.size() < 8) {
    X509* cert = d2i_X509(nullptr, &p, static_cast<long>(end - p));
    if (cert == nullptr) break;
    owned.emplace_back(cert);
  }
  ERR_clear_error();  // d2i_X509's own errors are not the code under test
  if (owned.empty()) return 0;

  std::vector<X509*> chain;
  for (const auto& c : owned) chain.push_back(c.get());

  for (X509* cert : chain) {
    const mxtls::CertFacts facts = mxtls::DescribeCertificate(cert);
    FUZZ_CHECK(ERR_peek_error() == 0);
    CheckFacts(facts);
    for (const std::string& host : HostsFor(facts)) {
      const mxtls::NameMatch m = mxtls::MatchCertificateName(cert, host);
      FUZZ_CHECK(ERR_peek_error() == 0);
      // Only for hosts the prober can pass: MX names come from the DNS parser in printable
      // presentation form (no NUL, no spaces, no bytes above 0x7E).
      const bool plausible_host = !host.empty() && IsPrintableAscii(host) &&
                                  host.find(' ') == std::string::npos;
      if (plausible_host && mxtls_fuzz::CheckEnabled("san_match_diff")) {
        FUZZ_CHECK(mxtls::MatchesAnyDnsSan(facts.dns_sans, host) == (m == mxtls::NameMatch::kMatch));
      }
    }
    FUZZ_CHECK(mxtls::MatchCertificateName(cert, "") == mxtls::NameMatch::kMismatch);
    FUZZ_CHECK(mxtls::MatchCertificateName(cert, "*.example.com") == mxtls::NameMatch::kMismatch);
  }

  const mxtls::ChainVerdict untrusted = mxtls::JudgeChain(chain, g_empty_store, kNow);
  FUZZ_CHECK(ERR_peek_error() == 0);
  CheckVerdict(untrusted, chain.size(), /*may_verify=*/false);

  if (chain.size() >= 2) {
    std::unique_ptr<X509_STORE, StoreFree> store(X509_STORE_new());
    X509_STORE_add_cert(store.get(), chain.back());
    ERR_clear_error();
    const mxtls::ChainVerdict trusted = mxtls::JudgeChain(chain, store.get(), kNow);
    FUZZ_CHECK(ERR_peek_error() == 0);
    CheckVerdict(trusted, chain.size(), /*may_verify=*/true);
  }
  return 0;
}
