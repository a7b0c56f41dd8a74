#include "probes/judgement/cert_checks.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <initializer_list>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/cert_factory.h"

namespace mxtls {
namespace {

using testing::CertSpec;
using testing::KeyType;
using testing::MakeCrossSigned;
using testing::MakeIssued;
using testing::MakeSelfSigned;
using testing::Chain;
using testing::TestCert;
using testing::TestPki;

constexpr std::chrono::hours kDay(24);

bool HasReason(const ChainVerdict& v, const std::string& reason) {
  return std::find(v.all_reasons.begin(), v.all_reasons.end(), reason) != v.all_reasons.end();
}

std::string IndependentSha256(X509* cert) {
  unsigned char* der = nullptr;
  const int len = i2d_X509(cert, &der);
  REQUIRE(len > 0);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  REQUIRE(EVP_Digest(der, static_cast<size_t>(len), md, &md_len, EVP_sha256(), nullptr) == 1);
  OPENSSL_free(der);
  std::string hex;
  char buf[3];
  for (unsigned int i = 0; i < md_len; ++i) {
    snprintf(buf, sizeof(buf), "%02x", md[i]);
    hex += buf;
  }
  return hex;
}

TEST_CASE("good chain verifies and is complete, ordered, without root", "[cert_checks]") {
  const WallTime now = std::chrono::system_clock::now();
  TestPki pki("good");
  TestCert leaf = pki.Leaf({"mx.example.com"});
  X509StorePtr store = pki.TrustStore();

  ChainVerdict v = JudgeChain(Chain({&leaf, &pki.intermediate()}), store.get(), now);
  CHECK(v.verified);
  CHECK(v.reason == "ok");
  CHECK(v.openssl_error == 0);
  CHECK(v.detail == "ok");
  CHECK(v.chain_complete);
  CHECK(v.order_ok);
  CHECK_FALSE(v.root_included);
  CHECK(v.presented_count == 2);
  CHECK(v.all_reasons.empty());
  CHECK(v.errors.empty());
  REQUIRE(v.path.size() == 3);
  CHECK(v.path[0].subject == "CN=mx.example.com");
  CHECK(v.path[1].subject == "CN=good Intermediate CA,O=good");
  CHECK(v.path[2].subject == "CN=good Root CA,O=good");
  CHECK(v.path[2].self_signed);
  REQUIRE(v.earliest_not_after.has_value());
  CHECK(*v.earliest_not_after == v.path[0].not_after);
  CHECK(MatchCertificateName(leaf.get(), "mx.example.com") == NameMatch::kMatch);
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("expired leaf is reported as expired", "[cert_checks]") {
  const WallTime now = std::chrono::system_clock::now();
  TestPki pki("expired");
  TestCert leaf = pki.Leaf({"mx.example.com"}, now - 2 * kDay, now - 100 * kDay);
  X509StorePtr store = pki.TrustStore();

  ChainVerdict v = JudgeChain(Chain({&leaf, &pki.intermediate()}), store.get(), now);
  CHECK_FALSE(v.verified);
  CHECK(v.reason == "expired");
  CHECK(v.openssl_error == X509_V_ERR_CERT_HAS_EXPIRED);
  CHECK(v.detail == "certificate has expired (depth 0)");
  CHECK(v.chain_complete);
  CHECK_FALSE(v.earliest_not_after.has_value());
  REQUIRE(v.path.size() == 3);  // the path is reported even though verification failed
  CHECK(IsExpired(v.path[0], now));
  CHECK(DaysToExpiry(v.path[0].not_after, now) < -1.9);
  CHECK(DaysToExpiry(v.path[0].not_after, now) > -2.1);
}

TEST_CASE("leaf not yet valid", "[cert_checks]") {
  const WallTime now = std::chrono::system_clock::now();
  TestPki pki("future");
  TestCert leaf = pki.Leaf({"mx.example.com"}, now + 90 * kDay, now + kDay);
  X509StorePtr store = pki.TrustStore();

  ChainVerdict v = JudgeChain(Chain({&leaf, &pki.intermediate()}), store.get(), now);
  CHECK_FALSE(v.verified);
  CHECK(v.reason == "not_yet_valid");
  CHECK(v.openssl_error == X509_V_ERR_CERT_NOT_YET_VALID);
  REQUIRE_FALSE(v.path.empty());
  CHECK(IsNotYetValid(v.path[0], now));
  CHECK_FALSE(IsExpired(v.path[0], now));
}

TEST_CASE("missing intermediate is an incomplete chain", "[cert_checks]") {
  const WallTime now = std::chrono::system_clock::now();
  TestPki pki("incomplete");
  X509StorePtr store = pki.TrustStore();

  SECTION("leaf only") {
    TestCert leaf = pki.Leaf({"mx.example.com"});
    ChainVerdict v = JudgeChain(Chain({&leaf}), store.get(), now);
    CHECK_FALSE(v.verified);
    CHECK(v.reason == "incomplete_chain");
    CHECK(v.openssl_error == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
    CHECK_FALSE(v.chain_complete);
    CHECK(v.presented_count == 1);
    CHECK(v.path.size() == 1);
    CHECK(v.order_ok);
    CHECK_FALSE(v.earliest_not_after.has_value());
  }
  SECTION("leaf and an unrelated certificate") {
    TestPki other("unrelated");
    TestCert leaf = pki.Leaf({"mx.example.com"});
    ChainVerdict v = JudgeChain(Chain({&leaf, &other.intermediate()}), store.get(), now);
    CHECK(v.reason == "incomplete_chain");
    CHECK_FALSE(v.chain_complete);
  }
  SECTION("expired leaf without intermediate: OpenSSL reports the missing issuer first") {
    TestCert leaf = pki.Leaf({"mx.example.com"}, now - kDay, now - 100 * kDay);
    ChainVerdict v = JudgeChain(Chain({&leaf}), store.get(), now);
    CHECK(v.reason == "incomplete_chain");
    CHECK(HasReason(v, "expired"));
    REQUIRE(v.path.size() == 1);
    CHECK(IsExpired(v.path[0], now));  // still visible through the leaf's facts
  }
}

TEST_CASE("self-signed leaf", "[cert_checks]") {
  const WallTime now = std::chrono::system_clock::now();
  TestPki pki("selfsigned");
  X509StorePtr store = pki.TrustStore();
  CertSpec spec;
  spec.common_name = "mx.example.com";
  spec.dns_sans = {"mx.example.com"};
  TestCert leaf = MakeSelfSigned(spec);

  ChainVerdict v = JudgeChain(Chain({&leaf}), store.get(), now);
  CHECK_FALSE(v.verified);
  CHECK(v.reason == "self_signed");
  CHECK(v.openssl_error == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
  CHECK(v.chain_complete);
  CHECK_FALSE(v.root_included);
  REQUIRE(v.path.size() == 1);
  CHECK(v.path[0].self_signed);
  CHECK_FALSE(v.path[0].is_ca);
  // The name still matches: name and chain are separate judgements.
  CHECK(MatchCertificateName(leaf.get(), "mx.example.com") == NameMatch::kMatch);
}

TEST_CASE("chain to an unknown root is untrusted", "[cert_checks]") {
  const WallTime now = std::chrono::system_clock::now();
  TestPki trusted("trusted");
  TestPki unknown("unknown");
  X509StorePtr store = trusted.TrustStore();
  TestCert leaf = unknown.Leaf({"mx.example.com"});

  SECTION("root not sent: the top's issuer is missing above a presented intermediate") {
    ChainVerdict v = JudgeChain(Chain({&leaf, &unknown.intermediate()}), store.get(), now);
    CHECK_FALSE(v.verified);
    CHECK(v.reason == "untrusted");
    CHECK(v.openssl_error == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
    REQUIRE_FALSE(v.errors.empty());
    CHECK(v.errors[0].depth == 1);
    CHECK_FALSE(v.chain_complete);
    CHECK(v.path.size() == 2);
  }
  SECTION("root sent: self-signed certificate in chain") {
    ChainVerdict v =
        JudgeChain(Chain({&leaf, &unknown.intermediate(), &unknown.root()}), store.get(), now);
    CHECK_FALSE(v.verified);
    CHECK(v.reason == "untrusted");
    CHECK(v.openssl_error == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN);
    CHECK(v.chain_complete);
    CHECK(v.root_included);
    CHECK(v.order_ok);
    CHECK(v.path.size() == 3);
  }
}

TEST_CASE("wrong name still verifies as a chain", "[cert_checks]") {
  const WallTime now = std::chrono::system_clock::now();
  TestPki pki("wrongname");
  X509StorePtr store = pki.TrustStore();
  TestCert leaf = pki.Leaf({"mail.other.net"});

  ChainVerdict v = JudgeChain(Chain({&leaf, &pki.intermediate()}), store.get(), now);
  CHECK(v.verified);
  CHECK(MatchCertificateName(leaf.get(), "mx.example.com") == NameMatch::kMismatch);
  CHECK(MatchCertificateName(leaf.get(), "MAIL.other.NET.") == NameMatch::kMatch);
  CHECK_FALSE(MatchesAnyDnsSan(v.path[0].dns_sans, "mx.example.com"));
}

TEST_CASE("wildcard leaf matches one label only", "[cert_checks]") {
  TestPki pki("wildcard");
  TestCert leaf = pki.Leaf({"*.example.com"});
  const std::vector<std::string> sans = DescribeCertificate(leaf.get()).dns_sans;
  struct Case {
    const char* host;
    NameMatch expected;
  };
  const Case cases[] = {
      {"mx.example.com", NameMatch::kMatch},    {"MX.EXAMPLE.COM.", NameMatch::kMatch},
      {"example.com", NameMatch::kMismatch},    {"a.b.example.com", NameMatch::kMismatch},
      {"mx.example.org", NameMatch::kMismatch}, {"", NameMatch::kMismatch},
  };
  for (const Case& c : cases) {
    INFO("host=" << c.host);
    CHECK(MatchCertificateName(leaf.get(), c.host) == c.expected);
    CHECK(MatchesAnyDnsSan(sans, c.host) == (c.expected == NameMatch::kMatch));
  }
}

TEST_CASE("CN-only certificate is reported as such", "[cert_checks]") {
  TestPki pki("cnonly");
  CertSpec spec;
  spec.common_name = "mx.example.com";
  TestCert leaf = MakeIssued(spec, pki.intermediate());
  const CertFacts facts = DescribeCertificate(leaf.get());
  CHECK(facts.san_count == 0);
  CHECK(facts.common_name == "mx.example.com");
  CHECK(MatchCertificateName(leaf.get(), "mx.example.com") == NameMatch::kCnOnly);
  CHECK(MatchCertificateName(leaf.get(), "Mx.Example.Com.") == NameMatch::kCnOnly);
  CHECK(MatchCertificateName(leaf.get(), "other.example.com") == NameMatch::kMismatch);
  CHECK_FALSE(MatchesAnyDnsSan(facts.dns_sans, "mx.example.com"));

  SECTION("a matching CN next to non-matching DNS-IDs is a mismatch (RFC 6125 6.4.4)") {
    CertSpec both;
    both.common_name = "mx.example.com";
    both.dns_sans = {"other.example.com"};
    TestCert leaf2 = MakeIssued(both, pki.intermediate());
    CHECK(MatchCertificateName(leaf2.get(), "mx.example.com") == NameMatch::kMismatch);
  }
  SECTION("an IP-only SAN leaves the CN as the only host identity") {
    CertSpec ip_only;
    ip_only.common_name = "mx.example.com";
    ip_only.ip_sans = {"192.0.2.25"};
    TestCert leaf3 = MakeIssued(ip_only, pki.intermediate());
    CHECK(MatchCertificateName(leaf3.get(), "mx.example.com") == NameMatch::kCnOnly);
  }
}

TEST_CASE("root included verifies and is flagged", "[cert_checks]") {
  const WallTime now = std::chrono::system_clock::now();
  TestPki pki("rootincluded");
  X509StorePtr store = pki.TrustStore();
  TestCert leaf = pki.Leaf({"mx.example.com"});

  ChainVerdict v = JudgeChain(Chain({&leaf, &pki.intermediate(), &pki.root()}), store.get(), now);
  CHECK(v.verified);
  CHECK(v.reason == "ok");
  CHECK(v.root_included);
  CHECK(v.order_ok);
  CHECK(v.chain_complete);
  CHECK(v.presented_count == 3);
}

TEST_CASE("presentation order", "[cert_checks]") {
  const WallTime now = std::chrono::system_clock::now();
  TestPki pki("order");
  TestPki other("extra");
  X509StorePtr store = pki.TrustStore();
  TestCert leaf = pki.Leaf({"mx.example.com"});
  const TestCert& inter = pki.intermediate();
  const TestCert& root = pki.root();
  const TestCert& extra = other.intermediate();

  struct Case {
    const char* name;
    std::vector<X509*> presented;
    bool order_ok;
  };
  const Case cases[] = {
      {"leaf, intermediate", Chain({&leaf, &inter}), true},
      {"leaf, intermediate, root", Chain({&leaf, &inter, &root}), true},
      {"leaf, intermediate, extra at the end", Chain({&leaf, &inter, &extra}), true},
      {"leaf, root, intermediate", Chain({&leaf, &root, &inter}), false},
      {"leaf, extra, intermediate", Chain({&leaf, &extra, &inter}), false},
      {"leaf, intermediate twice", Chain({&leaf, &inter, &inter}), true},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    ChainVerdict v = JudgeChain(c.presented, store.get(), now);
    CHECK(v.verified);  // OpenSSL, like MTAs, tolerates the order; we only report it
    CHECK(v.order_ok == c.order_ok);
  }
}

TEST_CASE("extra expired cross-signed certificate does not count", "[cert_checks]") {
  const WallTime now = std::chrono::system_clock::now();
  TestPki pki("cross");
  TestPki old_pki("old");
  X509StorePtr store = pki.TrustStore();
  // A leaf that outlives the intermediate, so the earliest expiry on the path is the
  // intermediate's, and a mistaken look at the cross-sign would show.
  TestCert leaf = pki.Leaf({"mx.example.com"}, now + 4000 * kDay);
  CertSpec expired;
  expired.not_before = now - 400 * kDay;
  expired.not_after = now - 10 * kDay;
  TestCert cross = MakeCrossSigned(pki.intermediate(), expired, old_pki.root());
  const CertFacts cross_facts = DescribeCertificate(cross.get());
  const CertFacts inter_facts = DescribeCertificate(pki.intermediate().get());
  REQUIRE(cross_facts.subject == inter_facts.subject);
  REQUIRE(cross_facts.issuer != inter_facts.issuer);

  ChainVerdict v = JudgeChain(Chain({&leaf, &pki.intermediate(), &cross}), store.get(), now);
  CHECK(v.verified);
  CHECK(v.order_ok);
  CHECK(v.chain_complete);
  REQUIRE(v.path.size() == 3);
  for (const CertFacts& f : v.path) {
    CHECK(f.fingerprint_sha256 != cross_facts.fingerprint_sha256);
  }
  const long long expected = std::min({v.path[0].not_after, inter_facts.not_after,
                                       DescribeCertificate(pki.root().get()).not_after});
  REQUIRE(v.earliest_not_after.has_value());
  CHECK(*v.earliest_not_after == expected);
  CHECK(*v.earliest_not_after == inter_facts.not_after);
  CHECK(*v.earliest_not_after > cross_facts.not_after);
}

TEST_CASE("path length constraint", "[cert_checks]") {
  const WallTime now = std::chrono::system_clock::now();
  TestPki pki("pathlen");  // the intermediate has pathlen:0
  X509StorePtr store = pki.TrustStore();
  CertSpec sub;
  sub.common_name = "pathlen Sub CA";
  sub.is_ca = true;
  TestCert sub_ca = MakeIssued(sub, pki.intermediate());
  CertSpec leaf_spec;
  leaf_spec.common_name = "mx.example.com";
  leaf_spec.dns_sans = {"mx.example.com"};
  TestCert leaf = MakeIssued(leaf_spec, sub_ca);

  ChainVerdict v = JudgeChain(Chain({&leaf, &sub_ca, &pki.intermediate()}), store.get(), now);
  CHECK_FALSE(v.verified);
  CHECK(v.reason == "path_too_long");
  CHECK(v.openssl_error == X509_V_ERR_PATH_LENGTH_EXCEEDED);
  CHECK(v.chain_complete);
}

TEST_CASE("weak and modern key facts", "[cert_checks]") {
  TestPki pki("keys");
  struct Case {
    const char* name;
    KeyType key_type;
    const char* digest;
    bool self_signed;
    const char* expected_key_type;
    int expected_bits;
    const char* expected_sig;
    bool weak_key;
    bool sha1;
  };
  const Case cases[] = {
      {"RSA-1024 + SHA-1 self-signed", KeyType::kRsa1024, "sha1", true, "RSA", 1024,
       "sha1WithRSAEncryption", true, true},
      {"EC leaf signed with SHA-1", KeyType::kEcP256, "sha1", false, "EC", 256, "ecdsa-with-SHA1",
       false, true},
      {"EC P-256", KeyType::kEcP256, "sha256", false, "EC", 256, "ecdsa-with-SHA256", false, false},
      {"RSA-2048", KeyType::kRsa2048, "sha256", true, "RSA", 2048, "sha256WithRSAEncryption", false,
       false},
      {"Ed25519", KeyType::kEd25519, "sha256", true, "Ed25519", 256, "ED25519", false, false},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    CertSpec spec;
    spec.common_name = "mx.example.com";
    spec.key_type = c.key_type;
    spec.digest = c.digest;
    TestCert cert = c.self_signed ? MakeSelfSigned(spec) : MakeIssued(spec, pki.intermediate());
    const CertFacts f = DescribeCertificate(cert.get());
    CHECK(f.key_type == c.expected_key_type);
    CHECK(f.key_bits == c.expected_bits);
    CHECK(f.signature_algorithm == c.expected_sig);
    CHECK(f.weak_key == c.weak_key);
    CHECK(f.sha1_signature == c.sha1);
    CHECK(f.self_signed == c.self_signed);
    CHECK(f.curve == (c.key_type == KeyType::kEcP256 ? "prime256v1" : ""));
  }
}

TEST_CASE("Ed25519 root signs a verifiable chain", "[cert_checks]") {
  const WallTime now = std::chrono::system_clock::now();
  CertSpec root_spec;
  root_spec.common_name = "ed25519 root";
  root_spec.is_ca = true;
  root_spec.key_type = KeyType::kEd25519;
  TestCert root = MakeSelfSigned(root_spec);
  CertSpec leaf_spec;
  leaf_spec.common_name = "mx.example.com";
  leaf_spec.dns_sans = {"mx.example.com"};
  TestCert leaf = MakeIssued(leaf_spec, root);
  X509StorePtr store(X509_STORE_new());
  REQUIRE(X509_STORE_add_cert(store.get(), root.get()) == 1);

  ChainVerdict v = JudgeChain(Chain({&leaf}), store.get(), now);
  CHECK(v.verified);
  REQUIRE(v.path.size() == 2);
  CHECK(v.path[0].signature_algorithm == "ED25519");
  CHECK(v.path[0].key_type == "EC");
}

TEST_CASE("DescribeCertificate reads identity facts", "[cert_checks]") {
  TestPki pki("facts");
  CertSpec spec;
  spec.common_name = "mx.example.com";
  spec.dns_sans = {"mx.example.com", "*.mx.example.com"};
  spec.ip_sans = {"192.0.2.1", "2001:db8::1"};
  spec.serial = 0x1234ABCD;
  TestCert leaf = MakeIssued(spec, pki.intermediate());

  const CertFacts f = DescribeCertificate(leaf.get());
  CHECK(f.fingerprint_sha256 == IndependentSha256(leaf.get()));
  CHECK(f.fingerprint_sha256.size() == 64);
  CHECK(f.serial == "1234ABCD");
  CHECK(f.san_count == 4);
  CHECK(f.dns_sans == std::vector<std::string>{"mx.example.com", "*.mx.example.com"});
  CHECK(f.ip_sans == std::vector<std::string>{"192.0.2.1", "2001:db8:0:0:0:0:0:1"});
  CHECK(f.subject == "CN=mx.example.com");
  CHECK(f.issuer == "CN=facts Intermediate CA,O=facts");
  CHECK(f.common_name == "mx.example.com");
  CHECK(f.not_before == ToUnixSeconds(spec.not_before));
  CHECK(f.not_after == ToUnixSeconds(spec.not_after));
  CHECK_FALSE(f.is_ca);
  CHECK_FALSE(f.self_signed);

  const CertFacts inter = DescribeCertificate(pki.intermediate().get());
  CHECK(inter.is_ca);
  CHECK_FALSE(inter.self_signed);
  CHECK(inter.san_count == 0);
  const CertFacts root = DescribeCertificate(pki.root().get());
  CHECK(root.is_ca);
  CHECK(root.self_signed);
  CHECK(root.subject == root.issuer);

  CertSpec random_serial;
  random_serial.common_name = "x";
  const CertFacts r = DescribeCertificate(MakeSelfSigned(random_serial).get());
  CHECK_FALSE(r.serial.empty());
  CHECK(r.serial != "0");
  CHECK(r.serial[0] != '-');
  CHECK(r.subject == "CN=x");
}

TEST_CASE("validity dates before 1970 and after 2038 convert exactly", "[cert_checks]") {
  struct Case {
    long long not_before;
    long long not_after;
  };
  const Case cases[] = {
      {-86400LL * 365, 4102444800LL},  // 1969-01-01 .. 2100-01-01 (GeneralizedTime)
      {2147483647LL, 2524607999LL},    // 2038-01-19 03:14:07 .. 2049-12-31 23:59:59
      {2524608000LL, 7258118400LL},    // 2050-01-01 .. 2200-01-01 (WallTime ends in 2262)
      {-631152000LL, 0},               // 1950-01-01 .. the epoch
  };
  for (const Case& c : cases) {
    INFO(c.not_before << " .. " << c.not_after);
    CertSpec spec;
    spec.common_name = "time";
    spec.not_before = FromUnixSeconds(c.not_before);
    spec.not_after = FromUnixSeconds(c.not_after);
    const CertFacts f = DescribeCertificate(MakeSelfSigned(spec).get());
    CHECK(f.not_before == c.not_before);
    CHECK(f.not_after == c.not_after);
  }
}

TEST_CASE("injected clock moves a chain into expiry", "[cert_checks]") {
  const WallTime now = std::chrono::system_clock::now();
  TestPki pki("clock");
  X509StorePtr store = pki.TrustStore();
  TestCert leaf = pki.Leaf({"mx.example.com"}, now + 90 * kDay);
  const std::vector<X509*> chain = Chain({&leaf, &pki.intermediate()});

  FakeClock clock(now);
  ChainVerdict today = JudgeChain(chain, store.get(), clock.Now());
  CHECK(today.verified);
  CHECK(DaysToExpiry(today.path[0].not_after, clock.Now()) == Approx(90.0).margin(0.01));

  clock.Advance(std::chrono::hours(24 * 100));
  ChainVerdict later = JudgeChain(chain, store.get(), clock.Now());
  CHECK_FALSE(later.verified);
  CHECK(later.reason == "expired");
  CHECK(DaysToExpiry(later.path[0].not_after, clock.Now()) == Approx(-10.0).margin(0.01));
}

TEST_CASE("DaysToExpiry and expiry helpers at the boundaries", "[cert_checks]") {
  CHECK(DaysToExpiry(2 * 86400, FromUnixSeconds(43200)) == Approx(1.5));
  CHECK(DaysToExpiry(0, FromUnixSeconds(86400)) == Approx(-1.0));
  CHECK(DaysToExpiry(0, FromUnixSeconds(0) + std::chrono::milliseconds(8640)) == Approx(-0.0001));
  CertFacts f;
  f.not_before = 100;
  f.not_after = 200;
  CHECK(IsNotYetValid(f, FromUnixSeconds(99)));
  CHECK_FALSE(IsNotYetValid(f, FromUnixSeconds(100)));
  CHECK_FALSE(IsExpired(f, FromUnixSeconds(199)));
  CHECK(IsExpired(f, FromUnixSeconds(200)));
}

TEST_CASE("ReasonForVerifyError maps OpenSSL codes to fixed words", "[cert_checks]") {
  struct Case {
    int code;
    int depth;
    const char* reason;
  };
  const Case cases[] = {
      {X509_V_OK, 0, "ok"},
      {X509_V_ERR_CERT_HAS_EXPIRED, 1, "expired"},
      {X509_V_ERR_CERT_NOT_YET_VALID, 0, "not_yet_valid"},
      {X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, 0, "self_signed"},
      {X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, 2, "untrusted"},
      {X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, 0, "incomplete_chain"},
      {X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, 0, "incomplete_chain"},
      {X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, 1, "untrusted"},
      {X509_V_ERR_CERT_SIGNATURE_FAILURE, 0, "bad_signature"},
      {X509_V_ERR_INVALID_PURPOSE, 0, "invalid_purpose"},
      {X509_V_ERR_INVALID_CA, 1, "invalid_ca"},
      {X509_V_ERR_PATH_LENGTH_EXCEEDED, 1, "path_too_long"},
      {X509_V_ERR_OUT_OF_MEM, 0, "unknown"},
  };
  for (const Case& c : cases) {
    INFO(c.code);
    CHECK(ReasonForVerifyError(c.code, c.depth) == c.reason);
  }
}

TEST_CASE("bad signature is detected", "[cert_checks]") {
  const WallTime now = std::chrono::system_clock::now();
  TestPki pki("badsig");
  X509StorePtr store = pki.TrustStore();
  TestCert leaf = pki.Leaf({"mx.example.com"});
  // Flip the last byte of the DER encoding: it belongs to the signature value.
  unsigned char* der = nullptr;
  const int len = i2d_X509(leaf.get(), &der);
  REQUIRE(len > 0);
  der[len - 1] ^= 0x01;
  const unsigned char* p = der;
  X509Ptr tampered(d2i_X509(nullptr, &p, len));
  OPENSSL_free(der);
  REQUIRE(tampered);

  std::vector<X509*> chain = {tampered.get(), pki.intermediate().get()};
  ChainVerdict v = JudgeChain(chain, store.get(), now);
  CHECK_FALSE(v.verified);
  CHECK(v.reason == "bad_signature");
  CHECK(v.openssl_error == X509_V_ERR_CERT_SIGNATURE_FAILURE);
  CHECK(v.chain_complete);
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("no certificate", "[cert_checks]") {
  TestPki pki("empty");
  X509StorePtr store = pki.TrustStore();
  ChainVerdict v = JudgeChain({}, store.get(), std::chrono::system_clock::now());
  CHECK_FALSE(v.verified);
  CHECK(v.reason == "no_certificate");
  CHECK(v.presented_count == 0);
}

TEST_CASE("failed verification leaves no OpenSSL errors behind", "[cert_checks]") {
  const WallTime now = std::chrono::system_clock::now();
  TestPki pki("errqueue");
  X509StorePtr store = pki.TrustStore();
  TestCert leaf = pki.Leaf({"mx.example.com"}, now - kDay, now - 10 * kDay);
  ERR_clear_error();
  ChainVerdict v = JudgeChain(Chain({&leaf}), store.get(), now);
  CHECK_FALSE(v.verified);
  CHECK(ERR_peek_error() == 0);
  MatchCertificateName(leaf.get(), "");
  MatchCertificateName(leaf.get(), "*.*");
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("concurrent judgements share one immutable store", "[cert_checks]") {
  const WallTime now = std::chrono::system_clock::now();
  TestPki pki("threads");
  X509StorePtr store = pki.TrustStore();
  TestCert leaf = pki.Leaf({"mx.example.com"});
  const std::vector<X509*> good = Chain({&leaf, &pki.intermediate()});
  const std::vector<X509*> incomplete = Chain({&leaf});
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        const bool want_good = (i + t) % 2 == 0;
        ChainVerdict v = JudgeChain(want_good ? good : incomplete, store.get(), now);
        if (v.verified != want_good) ++wrong;
      }
    });
  }
  for (std::thread& th : threads) th.join();
  CHECK(wrong == 0);
}

TEST_CASE("copies of a CertFactsList share one list, and appending never changes another copy",
          "[cert_checks][cert_facts_list]") {
  CertFacts leaf;
  leaf.subject = "CN=mx.example.net";
  CertFacts intermediate;
  intermediate.subject = "CN=Example CA";

  CertFactsList empty;
  CHECK(empty.empty());
  CHECK(empty.size() == 0);
  CHECK(empty.begin() == empty.end());

  CertFactsList original{leaf, intermediate};
  CertFactsList copy = original;
  REQUIRE(copy.size() == 2);
  // Shared, not copied: both read the very same facts.
  CHECK(&copy.front() == &original.front());
  CHECK(&copy.get() == &original.get());

  CertFacts root;
  root.subject = "CN=Example Root";
  copy.push_back(root);
  CHECK(copy.size() == 3);
  CHECK(copy.back().subject == "CN=Example Root");
  REQUIRE(original.size() == 2);  // untouched by the copy's append
  CHECK(original[0].subject == "CN=mx.example.net");
  CHECK(original.at(1).subject == "CN=Example CA");

  // Read like the vector it stands for.
  const std::vector<CertFacts>& as_vector = original;
  CHECK(as_vector.size() == 2);
  std::vector<std::string> subjects;
  for (const CertFacts& f : copy) subjects.push_back(f.subject);
  CHECK(subjects ==
        std::vector<std::string>{"CN=mx.example.net", "CN=Example CA", "CN=Example Root"});
}

}  // namespace
}  // namespace mxtls
