// Judges certificates the way a strict sending MTA does: pure functions that take certificates,
// a trust store and an injected time, and return plain facts (names, keys, validity, chain
// verdict with a fixed reason word). No sockets, no Prometheus types.
//
// Ownership: no function here takes ownership of an X509* or X509_STORE*; they must stay alive
// for the duration of the call. Every function is thread-safe for concurrent calls, including
// calls sharing one trust store as long as nobody modifies that store any more. Each function
// leaves this thread's OpenSSL error queue empty.
#pragma once

#include <openssl/x509.h>

#include <cstddef>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"

namespace mxtls {

// What one certificate says about itself.
struct CertFacts {
  std::string fingerprint_sha256;     // SHA-256 of the DER, lowercase hex, no colons
  std::string subject;                // RFC 2253 one-line form, e.g. "CN=mx.example.com,O=Ex"
  std::string issuer;                 // same form
  std::string serial;                 // uppercase hex, "-" prefix if (wrongly) negative
  std::vector<std::string> dns_sans;  // dNSName entries, as written in the certificate
  std::vector<std::string> ip_sans;   // iPAddress entries, textual
  int san_count = 0;                  // every GeneralName in subjectAltName, of any type
  std::string common_name;            // the first subject CN, UTF-8; empty when none
  std::string key_type;               // "RSA", "RSA-PSS", "EC", "Ed25519", "Ed448", "DSA", ...
  std::string curve;                  // EC group name ("prime256v1"); empty for other keys
  int key_bits = 0;                   // EVP_PKEY_get_bits (Ed25519: 256)
  std::string signature_algorithm;    // OpenSSL long name: "sha256WithRSAEncryption",
                                      // "ecdsa-with-SHA256", "ED25519"
  bool weak_key = false;              // RSA/RSA-PSS/DSA < 2048 bits, EC < 224 bits
  bool sha1_signature = false;        // signed with SHA-1 or older (MD5, MD4, MD2)
  long long not_before = 0;           // Unix seconds (correct before 1970 and after 2038)
  long long not_after = 0;            // Unix seconds
  bool self_signed = false;           // issuer == subject and its own key verifies it
  bool is_ca = false;                 // OpenSSL would accept it as a CA (X509_check_ca)
};

// Reads the facts of `cert` (not null).
CertFacts DescribeCertificate(X509* cert);

// The facts of a chain's certificates, in order: read like a const std::vector<CertFacts>, and
// copies share one immutable list. One judged chain is copied into many reports (every
// endpoint showing it, every domain's report, the caches and the status page); with its
// strings a list is several KiB, and a private copy in each of those was tens of MiB at a few
// thousand endpoints. Appending (while a list is built) copies the list first if it is shared,
// so no copy ever sees another change. Thread-safety: like a std::vector of immutable values.
class CertFactsList {
 public:
  using value_type = CertFacts;
  using const_iterator = std::vector<CertFacts>::const_iterator;

  CertFactsList() = default;
  CertFactsList(std::vector<CertFacts> facts);  // NOLINT: implicit, a list is its vector
  CertFactsList(std::initializer_list<CertFacts> facts)
      : CertFactsList(std::vector<CertFacts>(facts)) {}

  const std::vector<CertFacts>& get() const;
  operator const std::vector<CertFacts>&() const { return get(); }  // NOLINT

  bool empty() const { return get().empty(); }
  size_t size() const { return get().size(); }
  const CertFacts& operator[](size_t i) const { return get()[i]; }
  const CertFacts& at(size_t i) const { return get().at(i); }
  const CertFacts& front() const { return get().front(); }
  const CertFacts& back() const { return get().back(); }
  const_iterator begin() const { return get().begin(); }
  const_iterator end() const { return get().end(); }

  void push_back(CertFacts facts);

 private:
  // Null for an empty list. Never modified while shared (see push_back).
  std::shared_ptr<std::vector<CertFacts>> facts_;
};

// CertFacts::fingerprint_sha256 alone, without the rest of DescribeCertificate ("" for null).
std::string FingerprintSha256(X509* cert);

enum class NameMatch {
  kMatch,     // a DNS-ID subjectAltName matches (RFC 6125, no partial wildcards)
  kCnOnly,    // the certificate has no DNS-ID at all and only its subject CN matches:
              // legacy clients accept it, RFC 6125 / RFC 8461 clients do not
  kMismatch,  // nothing matches (including a CN that matches while DNS-IDs exist)
};

// Matches the leaf's names against `host` (an MX host name; case and one trailing dot are
// ignored) with OpenSSL's X509_check_host. A host that is empty, has an empty label or
// contains '*' matches nothing (OpenSSL would compare such a host literally).
NameMatch MatchCertificateName(X509* leaf, std::string_view host);

// True when any of `sans` matches `host` under MatchesDnsPattern: the same judgement as
// MatchCertificateName's kMatch, for names already extracted into CertFacts. Like OpenSSL, a
// SAN written with a trailing dot (not valid in a certificate, RFC 5280) matches nothing.
bool MatchesAnyDnsSan(const std::vector<std::string>& sans, std::string_view host);

// One error reported by OpenSSL while verifying a chain.
struct ChainError {
  int code = 0;        // X509_V_ERR_*
  int depth = 0;       // 0 = leaf
  std::string reason;  // the fixed reason word for `code` (see ReasonForVerifyError)
};

// The verdict on a chain as a server presented it.
struct ChainVerdict {
  // A path to a trust anchor exists, every certificate on it is valid at the judged time and
  // every signature verifies. Name checks are not part of it (see MatchCertificateName).
  bool verified = false;
  // "ok" when verified; otherwise the word for the first error OpenSSL reported: "expired",
  // "not_yet_valid", "self_signed", "untrusted", "incomplete_chain", "bad_signature",
  // "invalid_purpose", "invalid_ca", "path_too_long", "no_certificate" or "unknown".
  std::string reason = "unknown";
  int openssl_error = 0;  // X509_V_ERR_* of the first error, 0 when verified
  std::string detail;     // human text, e.g. "certificate has expired (depth 0)"
  // False when OpenSSL could not find the issuer of some certificate among the presented
  // certificates and the trust store (X509_V_ERR 2, 20 or 21).
  bool chain_complete = false;
  // The server sent a self-signed CA certificate besides the leaf.
  bool root_included = false;
  // Every presented certificate on the built path comes right after the one it issued.
  bool order_ok = true;
  int presented_count = 0;
  // The path OpenSSL built, leaf first, also (as far as it got) when verification failed.
  CertFactsList path;
  // The earliest not_after on the verified path; present only when verified.
  std::optional<long long> earliest_not_after;
  // Reason words of every error, in report order, without repetitions.
  std::vector<std::string> all_reasons;
  // Every error OpenSSL reported, in order.
  std::vector<ChainError> errors;
};

// Verifies `presented` (leaf first, in the order the server sent it) against `trust` at time
// `now`, for the TLS server purpose, without fetching missing issuers (no AIA), as an MTA
// does. presented[1..] are only candidates for building the path. Every problem is collected;
// the primary reason is the first one. `trust` must not be null and is not modified.
ChainVerdict JudgeChain(const std::vector<X509*>& presented, X509_STORE* trust, WallTime now);

// The fixed reason word for an X509_V_ERR_* code reported at `depth` (see ChainVerdict::reason).
std::string_view ReasonForVerifyError(int code, int depth);

// (not_after - now) in days, fractional; negative once expired.
double DaysToExpiry(long long not_after, WallTime now);
// True when `now` is past the certificate's not_after (OpenSSL's rule).
bool IsExpired(const CertFacts& facts, WallTime now);
// True when `now` is before the certificate's not_before.
bool IsNotYetValid(const CertFacts& facts, WallTime now);

}  // namespace mxtls
