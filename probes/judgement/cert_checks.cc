#include "probes/judgement/cert_checks.h"

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <memory>

#include "common/hex.h"
#include "common/openssl_util.h"
#include "probes/judgement/dns_names.h"

namespace mxtls {
namespace {

using GeneralNamesPtr =
    std::unique_ptr<GENERAL_NAMES, OpenSslDeleter<GENERAL_NAMES, GENERAL_NAMES_free>>;

void FreeX509Stack(STACK_OF(X509) * stack) { sk_X509_free(stack); }
// Does not own the certificates, only the stack.
using X509StackPtr = std::unique_ptr<STACK_OF(X509), OpenSslDeleter<STACK_OF(X509), FreeX509Stack>>;

// Clears the thread's OpenSSL error queue when a public function returns, however it returns.
struct ErrorQueueDrain {
  ~ErrorQueueDrain() { ERR_clear_error(); }
};

std::string NameToRfc2253(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) return "";
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

std::string SerialHex(const X509* cert) {
  std::unique_ptr<BIGNUM, OpenSslDeleter<BIGNUM, BN_free>> bn(
      ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
  if (!bn) return "";
  char* hex = BN_bn2hex(bn.get());  // uppercase
  if (hex == nullptr) return "";
  std::string out(hex);
  OPENSSL_free(hex);
  return out;
}

std::string FirstCommonName(const X509_NAME* name) {
  const int index = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (index < 0) return "";
  const ASN1_STRING* value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  unsigned char* utf8 = nullptr;
  const int len = ASN1_STRING_to_UTF8(&utf8, value);
  if (len < 0) return "";
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

std::string IpToText(const ASN1_OCTET_STRING* ip) {
  const unsigned char* p = ASN1_STRING_get0_data(ip);
  const int len = ASN1_STRING_length(ip);
  char buf[64];
  if (len == 4) {
    snprintf(buf, sizeof(buf), "%d.%d.%d.%d", p[0], p[1], p[2], p[3]);
    return buf;
  }
  if (len == 16) {
    // Full form without "::" compression: unambiguous and good enough for facts.
    std::string out;
    for (int i = 0; i < 16; i += 2) {
      if (i > 0) out += ':';
      snprintf(buf, sizeof(buf), "%x", (p[i] << 8) | p[i + 1]);
      out += buf;
    }
    return out;
  }
  return "";
}

void ReadSubjectAltNames(X509* cert, CertFacts* facts) {
  GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return;
  facts->san_count = sk_GENERAL_NAME_num(names.get());
  for (int i = 0; i < facts->san_count; ++i) {
    const GENERAL_NAME* gen = sk_GENERAL_NAME_value(names.get(), i);
    if (gen->type == GEN_DNS) {
      const ASN1_IA5STRING* dns = gen->d.dNSName;
      facts->dns_sans.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                                   static_cast<size_t>(ASN1_STRING_length(dns)));
    } else if (gen->type == GEN_IPADD) {
      facts->ip_sans.push_back(IpToText(gen->d.iPAddress));
    }
  }
}

void ReadKey(X509* cert, CertFacts* facts) {
  EVP_PKEY* key = X509_get0_pubkey(cert);
  if (key == nullptr) {
    facts->key_type = "unknown";
    return;
  }
  facts->key_bits = EVP_PKEY_get_bits(key);
  const int id = EVP_PKEY_get_base_id(key);
  switch (id) {
    case EVP_PKEY_RSA:
      facts->key_type = "RSA";
      break;
    case EVP_PKEY_RSA_PSS:
      facts->key_type = "RSA-PSS";
      break;
    case EVP_PKEY_EC:
      facts->key_type = "EC";
      break;
    case EVP_PKEY_ED25519:
      facts->key_type = "Ed25519";
      break;
    case EVP_PKEY_ED448:
      facts->key_type = "Ed448";
      break;
    case EVP_PKEY_DSA:
      facts->key_type = "DSA";
      break;
    default: {
      const char* name = id != NID_undef ? OBJ_nid2sn(id) : nullptr;
      facts->key_type = name != nullptr ? name : "unknown";
    }
  }
  if (id == EVP_PKEY_EC) {
    char group[80];
    size_t len = 0;
    if (EVP_PKEY_get_group_name(key, group, sizeof(group), &len) == 1) {
      facts->curve.assign(group, len);
    }
  }
  const bool rsa_like = id == EVP_PKEY_RSA || id == EVP_PKEY_RSA_PSS || id == EVP_PKEY_DSA;
  facts->weak_key =
      (rsa_like && facts->key_bits < 2048) || (id == EVP_PKEY_EC && facts->key_bits < 224);
}

void ReadSignature(X509* cert, CertFacts* facts) {
  const int sig_nid = X509_get_signature_nid(cert);
  const char* name = sig_nid != NID_undef ? OBJ_nid2ln(sig_nid) : nullptr;
  facts->signature_algorithm = name != nullptr ? name : "unknown";
  int md_nid = NID_undef;
  int pk_nid = NID_undef;
  if (OBJ_find_sigid_algs(sig_nid, &md_nid, &pk_nid) == 1) {
    facts->sha1_signature = md_nid == NID_sha1 || md_nid == NID_md5 || md_nid == NID_md5_sha1 ||
                            md_nid == NID_md4 || md_nid == NID_md2;
  }
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). Used
// instead of timegm so that the result is independent of time_t width and locale settings.
long long DaysFromCivil(long long y, unsigned m, unsigned d) {
  y -= m <= 2;
  const long long era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<long long>(doe) - 719468;
}

// ASN1_TIME_to_tm parses both UTCTime (1950-2049) and GeneralizedTime of any year.
long long AsnTimeToUnix(const ASN1_TIME* time) {
  struct tm tm = {};
  if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1) return 0;
  const long long days =
      DaysFromCivil(static_cast<long long>(tm.tm_year) + 1900, static_cast<unsigned>(tm.tm_mon + 1),
                    static_cast<unsigned>(tm.tm_mday));
  return days * 86400 + tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
}

// --- chain judgement ---

struct VerifyLog {
  std::vector<ChainError> errors;
};

// Records every error and tells OpenSSL to carry on, so that one pass collects all problems
// (an expired leaf behind a missing intermediate shows both). Because errors are overridden,
// X509_verify_cert's return value alone does not mean "verified": the log must be empty too.
int RecordingVerifyCallback(int ok, X509_STORE_CTX* ctx) {
  if (ok == 1) return 1;
  auto* log = static_cast<VerifyLog*>(X509_STORE_CTX_get_app_data(ctx));
  if (log == nullptr) return 0;
  ChainError error;
  error.code = X509_STORE_CTX_get_error(ctx);
  error.depth = X509_STORE_CTX_get_error_depth(ctx);
  error.reason = std::string(ReasonForVerifyError(error.code, error.depth));
  log->errors.push_back(std::move(error));
  return 1;
}

bool IsMissingIssuerError(int code) {
  return code == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ||
         code == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
         code == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE;
}

bool SameCert(X509* a, X509* b) { return a == b || X509_cmp(a, b) == 0; }

// Order rule (RFC 5246 §7.4.2: each certificate certifies the one before it): for every
// certificate on the built path above the leaf that the server presented, the certificate it
// issued (one step down the path) must sit immediately before it in the presented list.
// Certificates off the path (extras, cross-signs the builder did not use) are otherwise
// ignored, so extras at the end are harmless, while one wedged between a certificate and its
// issuer breaks the order. Path certificates taken from the store impose nothing. Examples:
// leaf,int and leaf,int,root and leaf,int,extra are ok; leaf,root,int and leaf,extra,int are not.
bool PresentedOrderOk(const std::vector<X509*>& presented, STACK_OF(X509) * path) {
  const int n = path != nullptr ? sk_X509_num(path) : 0;
  for (int i = 1; i < n; ++i) {
    X509* issuer = sk_X509_value(path, i);
    X509* issued = sk_X509_value(path, i - 1);
    bool issuer_presented = false;
    bool follows_issued = false;
    for (size_t p = 1; p < presented.size(); ++p) {
      if (presented[p] == nullptr || !SameCert(presented[p], issuer)) continue;
      issuer_presented = true;
      if (presented[p - 1] != nullptr && SameCert(presented[p - 1], issued)) {
        follows_issued = true;
      }
    }
    if (issuer_presented && !follows_issued) return false;
  }
  return true;
}

std::string DescribeError(int code, int depth) {
  return std::string(X509_verify_cert_error_string(code)) + " (depth " + std::to_string(depth) +
         ")";
}

}  // namespace

std::string FingerprintSha256(X509* cert) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  if (cert == nullptr || X509_digest(cert, EVP_sha256(), digest, &digest_len) != 1) {
    ERR_clear_error();
    return {};
  }
  return LowerHex(digest, digest_len);
}

CertFactsList::CertFactsList(std::vector<CertFacts> facts) {
  if (!facts.empty()) facts_ = std::make_shared<std::vector<CertFacts>>(std::move(facts));
}

const std::vector<CertFacts>& CertFactsList::get() const {
  static const std::vector<CertFacts> kNone;
  return facts_ ? *facts_ : kNone;
}

void CertFactsList::push_back(CertFacts facts) {
  // Copy on write: another list may share this one, and it must never see the change.
  if (!facts_) {
    facts_ = std::make_shared<std::vector<CertFacts>>();
  } else if (facts_.use_count() > 1) {
    facts_ = std::make_shared<std::vector<CertFacts>>(*facts_);
  }
  facts_->push_back(std::move(facts));
}

CertFacts DescribeCertificate(X509* cert) {
  ErrorQueueDrain drain;
  CertFacts facts;
  facts.fingerprint_sha256 = FingerprintSha256(cert);
  facts.subject = NameToRfc2253(X509_get_subject_name(cert));
  facts.issuer = NameToRfc2253(X509_get_issuer_name(cert));
  facts.serial = SerialHex(cert);
  facts.common_name = FirstCommonName(X509_get_subject_name(cert));
  ReadSubjectAltNames(cert, &facts);
  ReadKey(cert, &facts);
  ReadSignature(cert, &facts);
  facts.not_before = AsnTimeToUnix(X509_get0_notBefore(cert));
  facts.not_after = AsnTimeToUnix(X509_get0_notAfter(cert));
  // With signature verification: a certificate that merely names itself as issuer but was
  // signed by another key is not self-signed.
  facts.self_signed = X509_self_signed(cert, 1) == 1;
  facts.is_ca = X509_check_ca(cert) != 0;
  return facts;
}

NameMatch MatchCertificateName(X509* leaf, std::string_view host) {
  ErrorQueueDrain drain;
  const std::string name = NormalizeHostName(host);
  // The same preconditions as MatchesDnsPattern: OpenSSL would compare a host such as
  // "*.example.com" or "a..b" literally against the SANs and report a match.
  if (leaf == nullptr || name.empty() || name.front() == '.' ||
      name.find_first_of(std::string_view("*\0", 2)) != std::string::npos ||
      name.find("..") != std::string::npos) {
    return NameMatch::kMismatch;
  }
  constexpr unsigned int kStrict =
      X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT;
  if (X509_check_host(leaf, name.data(), name.size(), kStrict, nullptr) == 1) {
    return NameMatch::kMatch;
  }
  // Without NEVER_CHECK_SUBJECT, OpenSSL falls back to the subject CN only when the
  // certificate has no DNS-ID at all (RFC 6125 §6.4.4). A CN that matches next to DNS-IDs that
  // do not is rejected by every client, legacy ones included, so it stays a mismatch.
  if (X509_check_host(leaf, name.data(), name.size(), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS,
                      nullptr) == 1) {
    return NameMatch::kCnOnly;
  }
  return NameMatch::kMismatch;
}

bool MatchesAnyDnsSan(const std::vector<std::string>& sans, std::string_view host) {
  // MatchesDnsPattern ignores a trailing dot, as MTA-STS mx patterns need; OpenSSL does not
  // match a dNSName SAN that has one, and here the two must agree.
  return std::any_of(sans.begin(), sans.end(), [&](const std::string& san) {
    return !san.empty() && san.back() != '.' && MatchesDnsPattern(san, host);
  });
}

std::string_view ReasonForVerifyError(int code, int depth) {
  switch (code) {
    case X509_V_OK:
      return "ok";
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return "expired";
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return "not_yet_valid";
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      return "self_signed";
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_UNTRUSTED:
    case X509_V_ERR_CERT_REJECTED:
      return "untrusted";
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
      // OpenSSL reports the depth of the topmost certificate it could place. If that is the
      // leaf, the server sent no usable issuer at all: an intermediate is missing (an MTA
      // does not fetch it). If the server's own intermediates got the path further and the
      // top's issuer is still unknown, the chain leads to a root nobody trusts: a private or
      // unknown root. Without AIA the two cannot be told apart any better.
      return depth == 0 ? "incomplete_chain" : "untrusted";
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
    case X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY:
      return "bad_signature";
    case X509_V_ERR_INVALID_PURPOSE:
      return "invalid_purpose";
    case X509_V_ERR_INVALID_CA:
    case X509_V_ERR_KEYUSAGE_NO_CERTSIGN:
      return "invalid_ca";
    case X509_V_ERR_PATH_LENGTH_EXCEEDED:
    case X509_V_ERR_CERT_CHAIN_TOO_LONG:
      return "path_too_long";
    default:
      return "unknown";
  }
}

ChainVerdict JudgeChain(const std::vector<X509*>& presented, X509_STORE* trust, WallTime now) {
  ErrorQueueDrain drain;
  ChainVerdict verdict;
  verdict.presented_count = static_cast<int>(presented.size());
  if (presented.empty() || presented.front() == nullptr || trust == nullptr) {
    verdict.reason = "no_certificate";
    verdict.detail = "no certificate to verify";
    return verdict;
  }

  for (size_t i = 1; i < presented.size(); ++i) {
    X509* cert = presented[i];
    if (cert != nullptr && X509_check_ca(cert) != 0 && X509_self_signed(cert, 0) == 1) {
      verdict.root_included = true;
    }
  }

  X509StackPtr untrusted(sk_X509_new_null());
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!untrusted || !ctx) {
    verdict.detail = "out of memory: " + DrainOpenSslErrors();
    return verdict;
  }
  for (size_t i = 1; i < presented.size(); ++i) {
    if (presented[i] != nullptr) sk_X509_push(untrusted.get(), presented[i]);
  }
  if (X509_STORE_CTX_init(ctx.get(), trust, presented.front(), untrusted.get()) != 1) {
    verdict.detail = "X509_STORE_CTX_init failed: " + DrainOpenSslErrors();
    return verdict;
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_time(param, static_cast<time_t>(ToUnixSeconds(now)));
  // Weak keys and SHA-1 are reported as facts (CertFacts), not as verification failures.
  X509_VERIFY_PARAM_set_auth_level(param, 0);
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER);
  VerifyLog log;
  X509_STORE_CTX_set_app_data(ctx.get(), &log);
  X509_STORE_CTX_set_verify_cb(ctx.get(), RecordingVerifyCallback);

  const int rc = X509_verify_cert(ctx.get());
  if (rc <= 0 && log.errors.empty()) {
    // Failed without reaching the callback: an internal error rather than a chain problem.
    const int code = X509_STORE_CTX_get_error(ctx.get());
    log.errors.push_back({code, X509_STORE_CTX_get_error_depth(ctx.get()), "unknown"});
  }

  STACK_OF(X509)* path = X509_STORE_CTX_get0_chain(ctx.get());
  for (int i = 0; path != nullptr && i < sk_X509_num(path); ++i) {
    verdict.path.push_back(DescribeCertificate(sk_X509_value(path, i)));
  }
  verdict.order_ok = PresentedOrderOk(presented, path);

  // chain_complete: every certificate on the path found its issuer among the presented ones
  // or in the store, up to a self-signed certificate (trusted or not). Only the "issuer not
  // found" errors (2, 20, 21) make it false; an untrusted self-signed root at the top is
  // complete but untrusted.
  verdict.chain_complete = true;
  for (const ChainError& error : log.errors) {
    if (IsMissingIssuerError(error.code)) verdict.chain_complete = false;
    if (std::find(verdict.all_reasons.begin(), verdict.all_reasons.end(), error.reason) ==
        verdict.all_reasons.end()) {
      verdict.all_reasons.push_back(error.reason);
    }
  }

  verdict.verified = rc == 1 && log.errors.empty();
  if (verdict.verified) {
    verdict.reason = "ok";
    verdict.detail = "ok";
    long long earliest = verdict.path.front().not_after;
    for (const CertFacts& facts : verdict.path) earliest = std::min(earliest, facts.not_after);
    verdict.earliest_not_after = earliest;
  } else {
    const ChainError& first = log.errors.front();
    verdict.reason = first.reason;
    verdict.openssl_error = first.code;
    verdict.detail = DescribeError(first.code, first.depth);
  }
  verdict.errors = std::move(log.errors);
  return verdict;
}

double DaysToExpiry(long long not_after, WallTime now) {
  const double now_seconds = std::chrono::duration<double>(now.time_since_epoch()).count();
  return (static_cast<double>(not_after) - now_seconds) / 86400.0;
}

bool IsExpired(const CertFacts& facts, WallTime now) {
  // OpenSSL treats a certificate as expired from the second its notAfter is reached.
  return ToUnixSeconds(now) >= facts.not_after;
}

bool IsNotYetValid(const CertFacts& facts, WallTime now) {
  return ToUnixSeconds(now) < facts.not_before;
}

}  // namespace mxtls
