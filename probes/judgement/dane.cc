#include "probes/judgement/dane.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <map>
#include <memory>
#include <utility>

#include "common/hex.h"
#include "common/openssl_util.h"
#include "probes/judgement/cert_checks.h"

namespace mxtls {
namespace {

void FreeX509Stack(STACK_OF(X509) * stack) { sk_X509_free(stack); }
// Owns the stack only, not the certificates on it.
using X509StackPtr = std::unique_ptr<STACK_OF(X509), OpenSslDeleter<STACK_OF(X509), FreeX509Stack>>;

// Clears the thread's OpenSSL error queue when a public function returns, however it returns.
struct ErrorQueueDrain {
  ~ErrorQueueDrain() { ERR_clear_error(); }
};

constexpr size_t kSha256Bytes = 32;
constexpr size_t kSha512Bytes = 64;

// The bytes a selector designates (RFC 6698 §2.1.2): the DER certificate, or the DER
// SubjectPublicKeyInfo. Empty when OpenSSL cannot encode them.
std::vector<uint8_t> SelectedBytes(X509* cert, uint8_t selector) {
  unsigned char* der = nullptr;
  int len = 0;
  if (selector == kTlsaSelectorCert) {
    len = i2d_X509(cert, &der);
  } else if (selector == kTlsaSelectorSpki) {
    len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
  }
  if (len <= 0 || der == nullptr) return {};
  std::vector<uint8_t> out(der, der + len);
  OPENSSL_free(der);
  return out;
}

std::vector<uint8_t> Digest(const std::vector<uint8_t>& bytes, const EVP_MD* md) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int out_len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), out, &out_len, md, nullptr) != 1) return {};
  return std::vector<uint8_t>(out, out + out_len);
}

// True when the record's association data designates `cert` (usable records only).
bool AssociationMatches(const TlsaRecord& record, X509* cert) {
  const std::vector<uint8_t> selected = SelectedBytes(cert, record.selector);
  if (selected.empty()) return false;
  switch (record.matching_type) {
    case kTlsaMatchFull:
      return selected == record.data;
    case kTlsaMatchSha256:
      return Digest(selected, EVP_sha256()) == record.data;
    case kTlsaMatchSha512:
      return Digest(selected, EVP_sha512()) == record.data;
    default:
      return false;
  }
}

// Self-issued in the RFC 5280 sense: subject and issuer names are equal. Not
// X509_check_issued, which also demands keyCertSign and so rejects a self-signed server
// certificate whose key usage is digitalSignature only.
bool SelfIssued(X509* cert) {
  return X509_NAME_cmp(X509_get_subject_name(cert), X509_get_issuer_name(cert)) == 0;
}

// DANE-TA outcomes from best to worst: when several presented certificates match a record,
// the one that got furthest decides.
int TaFailureRank(const std::string& reason) {
  if (reason == "match") return 0;
  if (reason == "name_mismatch") return 1;
  if (reason == "expired") return 2;
  if (reason == "chain") return 3;
  if (reason == "ta_not_presented") return 4;
  return 5;  // no_match
}

// Verifies the path from the leaf to `anchor` with nothing but `anchor` trusted. PARTIAL_CHAIN
// makes a non-self-signed anchor (an intermediate) acceptable as the end of the path, which is
// exactly what a DANE-TA(2) record designates. Returns "ok", "expired" or "chain".
std::string VerifyToAnchor(const std::vector<X509*>& chain, X509* anchor, WallTime now) {
  X509StorePtr store(X509_STORE_new());
  X509StackPtr untrusted(sk_X509_new_null());
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!store || !untrusted || !ctx || X509_STORE_add_cert(store.get(), anchor) != 1) {
    return "chain";
  }
  for (size_t i = 1; i < chain.size(); ++i) sk_X509_push(untrusted.get(), chain[i]);
  if (X509_STORE_CTX_init(ctx.get(), store.get(), chain.front(), untrusted.get()) != 1) {
    return "chain";
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
  X509_VERIFY_PARAM_set_time(param, static_cast<time_t>(ToUnixSeconds(now)));
  // Key sizes and SHA-1 are reported elsewhere as facts; DANE decides on the match alone.
  X509_VERIFY_PARAM_set_auth_level(param, 0);
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER);
  if (X509_verify_cert(ctx.get()) == 1) return "ok";
  const int error = X509_STORE_CTX_get_error(ctx.get());
  if (error == X509_V_ERR_CERT_HAS_EXPIRED || error == X509_V_ERR_CERT_NOT_YET_VALID) {
    return "expired";
  }
  return "chain";
}

bool LeafCarriesName(X509* leaf, const DaneReferenceNames& names) {
  // RFC 7672 §3.2.3 defers to RFC 6125: DNS-IDs, and the subject CN only when there is none,
  // which is what MatchCertificateName's kCnOnly means.
  for (const std::string* name : {&names.base_domain, &names.mx_host}) {
    if (name->empty()) continue;
    const NameMatch match = MatchCertificateName(leaf, *name);
    if (match == NameMatch::kMatch || match == NameMatch::kCnOnly) return true;
  }
  return false;
}

std::string JudgeDaneTa(const TlsaRecord& record, const std::vector<X509*>& chain,
                        const DaneReferenceNames& names, WallTime now) {
  // Candidates are what the server sent above the leaf; the leaf itself only when it is its
  // own issuer (a self-signed server certificate published as its own TA).
  std::string best = "no_match";
  bool any_candidate_matched = false;
  for (size_t i = 0; i < chain.size(); ++i) {
    X509* candidate = chain[i];
    if (i == 0 && !SelfIssued(candidate)) continue;
    if (!AssociationMatches(record, candidate)) continue;
    any_candidate_matched = true;
    std::string outcome = VerifyToAnchor(chain, candidate, now);
    if (outcome == "ok")
      outcome = LeafCarriesName(chain.front(), names) ? "match" : "name_mismatch";
    if (TaFailureRank(outcome) < TaFailureRank(best)) best = std::move(outcome);
    if (best == "match") break;
  }
  if (any_candidate_matched) return best;
  // Nothing the server sent matches. RFC 7672 §3.1.2 requires the server to send its TA; when
  // the presented chain does not end in a self-issued certificate, the TA may well be the
  // unsent issuer (the usual mistake). A chain that does end in one had its chance.
  const bool ends_self_issued =
      std::any_of(chain.begin(), chain.end(), [](X509* cert) { return SelfIssued(cert); });
  return chain.empty() || ends_self_issued ? "no_match" : "ta_not_presented";
}

// Order of chains for the HeldCertificate overload: dane_sni, then sni, then the rest.
int SessionRank(const HeldCertificate& held) {
  const auto seen = [&](const char* session) {
    return std::find(held.seen_by.begin(), held.seen_by.end(), session) != held.seen_by.end();
  };
  if (seen("dane_sni")) return 0;
  if (seen("sni")) return 1;
  return 2;
}

}  // namespace

Result<TlsaRecord> ParseTlsaRdata(std::span<const uint8_t> rdata) {
  if (rdata.size() < 3) {
    return Status::Error("malformed", "TLSA RDATA of " + std::to_string(rdata.size()) +
                                          " bytes: usage, selector and matching type need 3");
  }
  TlsaRecord record;
  record.usage = rdata[0];
  record.selector = rdata[1];
  record.matching_type = rdata[2];
  record.data.assign(rdata.begin() + 3, rdata.end());
  if (!HasWellFormedData(record)) {
    return Status::Error("malformed", "TLSA matching type " + std::to_string(record.matching_type) +
                                          " with " + std::to_string(record.data.size()) +
                                          " bytes of association data");
  }
  return record;
}

bool HasWellFormedData(const TlsaRecord& record) {
  switch (record.matching_type) {
    case kTlsaMatchFull:
      return !record.data.empty();
    case kTlsaMatchSha256:
      return record.data.size() == kSha256Bytes;
    case kTlsaMatchSha512:
      return record.data.size() == kSha512Bytes;
    default:
      return true;  // unknown to us: unusable, but not malformed
  }
}

bool IsUsableForSmtp(const TlsaRecord& record) {
  const bool usage_ok = record.usage == kTlsaUsageDaneTa || record.usage == kTlsaUsageDaneEe;
  const bool selector_ok =
      record.selector == kTlsaSelectorCert || record.selector == kTlsaSelectorSpki;
  const bool mtype_ok = record.matching_type == kTlsaMatchFull ||
                        record.matching_type == kTlsaMatchSha256 ||
                        record.matching_type == kTlsaMatchSha512;
  return usage_ok && selector_ok && mtype_ok && HasWellFormedData(record);
}

std::string DescribeTlsaRecord(const TlsaRecord& record) {
  constexpr size_t kShownBytes = 8;
  std::string out = std::to_string(record.usage) + " " + std::to_string(record.selector) + " " +
                    std::to_string(record.matching_type);
  if (!record.data.empty()) {
    out += ' ';
    out += LowerHex(record.data.data(), std::min(record.data.size(), kShownBytes));
  }
  return out;
}

std::vector<bool> SupersededByDigestAgility(const std::vector<TlsaRecord>& records) {
  // Strongest digest matching type present per (usage, selector) among usable records. Our
  // strength order coincides with the code points: SHA2-512(2) > SHA2-256(1). Full(0) is not
  // a digest and takes no part (RFC 7671 §9).
  std::map<std::pair<uint8_t, uint8_t>, uint8_t> strongest;
  for (const TlsaRecord& record : records) {
    if (!IsUsableForSmtp(record) || record.matching_type == kTlsaMatchFull) continue;
    uint8_t& best = strongest[{record.usage, record.selector}];
    best = std::max(best, record.matching_type);
  }
  std::vector<bool> superseded(records.size(), false);
  for (size_t i = 0; i < records.size(); ++i) {
    const TlsaRecord& record = records[i];
    if (!IsUsableForSmtp(record) || record.matching_type == kTlsaMatchFull) continue;
    superseded[i] = record.matching_type < strongest[{record.usage, record.selector}];
  }
  return superseded;
}

TlsaRecordResult JudgeTlsaRecord(const TlsaRecord& record, size_t record_index,
                                 const std::vector<X509*>& chain, const DaneReferenceNames& names,
                                 WallTime now) {
  ErrorQueueDrain drain;
  TlsaRecordResult result;
  result.record_index = record_index;
  result.usable = IsUsableForSmtp(record);
  if (!result.usable) {
    result.reason = HasWellFormedData(record) ? "unusable" : "malformed";
    return result;
  }
  if (record.usage == kTlsaUsageDaneEe) {
    // RFC 7672 §3.1.1: the key (or certificate) is all that counts; no name, no expiry.
    result.matches = !chain.empty() && AssociationMatches(record, chain.front());
    result.reason = result.matches ? "match" : "no_match";
    return result;
  }
  result.reason = JudgeDaneTa(record, chain, names, now);
  result.matches = result.reason == "match";
  return result;
}

DaneEndpointReport JudgeDaneEndpoint(const DaneHostReport& host, const std::string& mx_host,
                                     const std::vector<std::vector<X509*>>& chains_held,
                                     WallTime now) {
  DaneEndpointReport report;
  if (!host.lookup_error.empty()) {
    report.evaluated = true;
    report.reason = "tlsa_lookup_failed";
    return report;
  }
  if (!host.applies() || chains_held.empty()) return report;
  report.evaluated = true;

  const DaneReferenceNames names{host.base_domain.empty() ? mx_host : host.base_domain, mx_host};
  const std::vector<TlsaRecord>& records = host.records;
  const std::vector<bool> superseded = SupersededByDigestAgility(records);
  const bool any_usable = std::any_of(records.begin(), records.end(), IsUsableForSmtp);

  // matched_some_chain[i]: record i authenticates at least one held chain.
  std::vector<bool> matched_some_chain(records.size(), false);
  bool all_chains_authenticated = true;
  std::string first_failure;
  for (size_t c = 0; c < chains_held.size(); ++c) {
    std::vector<TlsaRecordResult> results;
    bool authenticated = false;
    bool stale_would_match = false;
    std::string best_failure = "no_match";
    for (size_t i = 0; i < records.size(); ++i) {
      TlsaRecordResult result = JudgeTlsaRecord(records[i], i, chains_held[c], names, now);
      if (superseded[i]) {
        stale_would_match = stale_would_match || result.matches;
        result.superseded = true;
        result.matches = false;
        result.reason = "superseded";
      } else if (result.usable && !result.matches &&
                 TaFailureRank(result.reason) < TaFailureRank(best_failure)) {
        best_failure = result.reason;
      }
      if (result.matches) {
        authenticated = true;
        matched_some_chain[i] = true;
      }
      results.push_back(std::move(result));
    }
    if (c == 0) report.records = std::move(results);
    if (!authenticated) {
      all_chains_authenticated = false;
      if (first_failure.empty()) first_failure = stale_would_match ? "stale_digest" : best_failure;
    }
  }

  if (!any_usable) {
    report.reason = "only_unusable";
    return report;
  }
  report.authenticated = all_chains_authenticated;
  report.reason = all_chains_authenticated ? "ok" : first_failure;
  if (report.authenticated) {
    for (size_t i = 0; i < records.size(); ++i) {
      if (IsUsableForSmtp(records[i]) && !superseded[i] && !matched_some_chain[i]) {
        report.next_key_published = true;
      }
    }
  }
  return report;
}

DaneEndpointReport JudgeDaneEndpoint(const DaneHostReport& host, const std::string& mx_host,
                                     const std::vector<HeldCertificate>& held, WallTime now) {
  std::vector<const HeldCertificate*> ordered;
  for (const HeldCertificate& cert : held) {
    if (cert.chain && !cert.chain->empty()) ordered.push_back(&cert);
  }
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](const HeldCertificate* a, const HeldCertificate* b) {
                     return SessionRank(*a) < SessionRank(*b);
                   });
  std::vector<std::vector<X509*>> chains;
  for (const HeldCertificate* cert : ordered) {
    std::vector<X509*> chain;
    for (const X509Ptr& x : *cert->chain) {
      if (x) chain.push_back(x.get());
    }
    chains.push_back(std::move(chain));
  }
  return JudgeDaneEndpoint(host, mx_host, chains, now);
}

}  // namespace mxtls
