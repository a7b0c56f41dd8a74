#include "probes/judgement/dane.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/cert_factory.h"

namespace mxtls {
namespace {

using testing::CertSpec;
using testing::KeyType;
using testing::MakeIssued;
using testing::MakeSelfSigned;
using testing::Chain;
using testing::TestCert;
using testing::TestPki;

constexpr std::chrono::hours kDay(24);
const char kMx[] = "mx.example.com";

// Association data computed independently of the code under test: the SPKI through
// EVP_PKEY/i2d_PUBKEY rather than X509_PUBKEY.
std::vector<uint8_t> Selected(X509* cert, uint8_t selector) {
  unsigned char* der = nullptr;
  const int len = selector == 0 ? i2d_X509(cert, &der) : i2d_PUBKEY(X509_get0_pubkey(cert), &der);
  REQUIRE(len > 0);
  std::vector<uint8_t> out(der, der + len);
  OPENSSL_free(der);
  return out;
}

TlsaRecord Tlsa(uint8_t usage, uint8_t selector, uint8_t mtype, const TestCert& cert) {
  TlsaRecord record;
  record.usage = usage;
  record.selector = selector;
  record.matching_type = mtype;
  const std::vector<uint8_t> bytes = Selected(cert.get(), selector);
  if (mtype == 0) {
    record.data = bytes;
  } else {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    REQUIRE(EVP_Digest(bytes.data(), bytes.size(), md, &md_len,
                       mtype == 1 ? EVP_sha256() : EVP_sha512(), nullptr) == 1);
    record.data.assign(md, md + md_len);
  }
  return record;
}

DaneHostReport SecureHost(std::vector<TlsaRecord> records, std::string base_domain = kMx) {
  DaneHostReport host;
  host.looked_up = true;
  host.base_domain = std::move(base_domain);
  host.tlsa_dnssec = DnssecStatus::kSecure;
  host.records = std::move(records);
  return host;
}

std::vector<uint8_t> Bytes(std::initializer_list<int> head, size_t total, uint8_t fill = 0xab) {
  std::vector<uint8_t> out;
  for (int b : head) out.push_back(static_cast<uint8_t>(b));
  while (out.size() < total) out.push_back(fill);
  return out;
}

std::vector<std::string> Reasons(const DaneEndpointReport& report) {
  std::vector<std::string> out;
  for (const TlsaRecordResult& r : report.records) out.push_back(r.reason);
  return out;
}

// --- parsing, usability, rendering ---

TEST_CASE("TLSA RDATA parses usage, selector, matching type and data", "[dane]") {
  struct Case {
    std::vector<uint8_t> rdata;
    uint8_t usage, selector, mtype;
    size_t data_len;
  };
  const std::vector<Case> cases = {
      {Bytes({3, 1, 1}, 3 + 32), 3, 1, 1, 32},
      {Bytes({2, 0, 2}, 3 + 64), 2, 0, 2, 64},
      {Bytes({3, 1, 0}, 3 + 1), 3, 1, 0, 1},
      {Bytes({3, 0, 0}, 3 + 900), 3, 0, 0, 900},
      // Unknown values parse (the record is unusable, not malformed).
      {Bytes({4, 1, 1}, 3 + 32), 4, 1, 1, 32},
      {Bytes({3, 7, 1}, 3 + 32), 3, 7, 1, 32},
      {Bytes({3, 1, 9}, 3), 3, 1, 9, 0},
      {Bytes({255, 255, 255}, 3 + 5), 255, 255, 255, 5},
      {Bytes({0, 0, 1}, 3 + 32), 0, 0, 1, 32},
  };
  for (const Case& c : cases) {
    INFO("rdata length " << c.rdata.size() << " type " << int(c.mtype));
    Result<TlsaRecord> parsed = ParseTlsaRdata(c.rdata);
    REQUIRE(parsed.ok());
    CHECK(parsed->usage == c.usage);
    CHECK(parsed->selector == c.selector);
    CHECK(parsed->matching_type == c.mtype);
    CHECK(parsed->data.size() == c.data_len);
    CHECK(std::vector<uint8_t>(c.rdata.begin() + 3, c.rdata.end()) == parsed->data);
  }
}

TEST_CASE("malformed and truncated TLSA RDATA is an error", "[dane]") {
  struct Case {
    std::vector<uint8_t> rdata;
    std::string message_part;
  };
  const std::vector<Case> cases = {
      {{}, "0 bytes"},
      {{3}, "1 bytes"},
      {{3, 1}, "2 bytes"},
      {Bytes({3, 1, 1}, 3), "matching type 1 with 0 bytes"},
      {Bytes({3, 1, 1}, 3 + 31), "matching type 1 with 31 bytes"},
      {Bytes({3, 1, 1}, 3 + 33), "matching type 1 with 33 bytes"},
      {Bytes({3, 1, 1}, 3 + 64), "matching type 1 with 64 bytes"},
      {Bytes({3, 1, 2}, 3 + 32), "matching type 2 with 32 bytes"},
      {Bytes({2, 0, 2}, 3 + 63), "matching type 2 with 63 bytes"},
      {Bytes({3, 0, 0}, 3), "matching type 0 with 0 bytes"},
      // A matching-type byte that is known makes the length check apply whatever the usage.
      {Bytes({0, 0, 1}, 3 + 20), "matching type 1 with 20 bytes"},
  };
  for (const Case& c : cases) {
    INFO("expect: " << c.message_part);
    Result<TlsaRecord> parsed = ParseTlsaRdata(c.rdata);
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.status().reason() == "malformed");
    CHECK(parsed.status().message().find(c.message_part) != std::string::npos);
  }
}

TEST_CASE("only DANE-TA and DANE-EE with known selector and matching type are usable for SMTP",
          "[dane]") {
  struct Case {
    uint8_t usage, selector, mtype;
    size_t data_len;
    bool usable;
  };
  const std::vector<Case> cases = {
      {3, 1, 1, 32, true},  {3, 0, 1, 32, true},  {3, 1, 2, 64, true},
      {3, 1, 0, 91, true},  {2, 0, 1, 32, true},  {2, 1, 2, 64, true},
      {2, 0, 0, 400, true}, {0, 0, 1, 32, false},  // PKIX-TA: RFC 7672 §3.1.3
      {1, 1, 1, 32, false},                        // PKIX-EE
      {4, 1, 1, 32, false}, {3, 2, 1, 32, false}, {3, 1, 3, 32, false},
      {3, 1, 1, 31, false},  // built by hand with a wrong length: malformed
      {3, 1, 0, 0, false},
  };
  for (const Case& c : cases) {
    TlsaRecord record{c.usage, c.selector, c.mtype, std::vector<uint8_t>(c.data_len, 1)};
    INFO(DescribeTlsaRecord(record) << " len " << c.data_len);
    CHECK(IsUsableForSmtp(record) == c.usable);
  }
}

TEST_CASE("a TLSA record renders as fields and the first 16 hex digits of its data", "[dane]") {
  std::vector<uint8_t> sha256 = {0x1f, 0x2e, 0x3d, 0x4c, 0x5b, 0x6a, 0x79, 0x88};
  sha256.resize(32, 0xff);
  CHECK(DescribeTlsaRecord({3, 1, 1, sha256}) == "3 1 1 1f2e3d4c5b6a7988");
  CHECK(DescribeTlsaRecord({2, 0, 2, std::vector<uint8_t>(64, 0xAB)}) == "2 0 2 abababababababab");
  CHECK(DescribeTlsaRecord({3, 1, 0, {0x00, 0x0a}}) == "3 1 0 000a");
  CHECK(DescribeTlsaRecord({255, 7, 9, {}}) == "255 7 9");
}

// --- every usage x selector x matching type ---

TEST_CASE("every usage, selector and matching type, matching and not matching", "[dane]") {
  const WallTime now = std::chrono::system_clock::now();
  TestPki pki("dane matrix");
  TestPki other("dane other");
  const TestCert leaf = pki.Leaf({kMx});
  const TestCert other_leaf = other.Leaf({kMx});
  // The full chain including the root: a DANE-TA record for nothing presented is "no_match".
  const std::vector<X509*> chain = Chain({&leaf, &pki.intermediate(), &pki.root()});
  const DaneReferenceNames names{kMx, kMx};

  for (uint8_t usage = 0; usage <= 3; ++usage) {
    for (uint8_t selector = 0; selector <= 1; ++selector) {
      for (uint8_t mtype = 0; mtype <= 2; ++mtype) {
        // DANE-TA designates the issuing CA, every other usage the leaf.
        const TestCert& target = usage == 2 ? pki.intermediate() : leaf;
        const TestCert& stranger = usage == 2 ? other.intermediate() : other_leaf;
        const TlsaRecord good = Tlsa(usage, selector, mtype, target);
        const TlsaRecord bad = Tlsa(usage, selector, mtype, stranger);
        const bool usable = usage >= 2;
        INFO("record " << DescribeTlsaRecord(good));

        const TlsaRecordResult hit = JudgeTlsaRecord(good, 4, chain, names, now);
        CHECK(hit.record_index == 4);
        CHECK(hit.usable == usable);
        CHECK_FALSE(hit.superseded);
        CHECK(hit.matches == usable);
        CHECK(hit.reason == (usable ? "match" : "unusable"));

        const TlsaRecordResult miss = JudgeTlsaRecord(bad, 0, chain, names, now);
        CHECK(miss.usable == usable);
        CHECK_FALSE(miss.matches);
        CHECK(miss.reason == (usable ? "no_match" : "unusable"));

        const DaneEndpointReport with_good =
            JudgeDaneEndpoint(SecureHost({good}), kMx, {chain}, now);
        CHECK(with_good.evaluated);
        CHECK(with_good.authenticated == usable);
        CHECK(with_good.reason == (usable ? "ok" : "only_unusable"));
        CHECK_FALSE(with_good.next_key_published);

        const DaneEndpointReport with_bad = JudgeDaneEndpoint(SecureHost({bad}), kMx, {chain}, now);
        CHECK(with_bad.evaluated);
        CHECK_FALSE(with_bad.authenticated);
        CHECK(with_bad.reason == (usable ? "no_match" : "only_unusable"));
      }
    }
  }
}

// --- digest algorithm agility (RFC 7671 §9) ---

TEST_CASE("digest agility supersedes weaker digests per usage and selector only", "[dane]") {
  const std::vector<uint8_t> d32(32, 1), d64(64, 2), full = {0x30, 0x01};
  struct Case {
    std::string name;
    std::vector<TlsaRecord> records;
    std::vector<bool> superseded;
  };
  const std::vector<Case> cases = {
      {"sha256 beside sha512", {{3, 1, 1, d32}, {3, 1, 2, d64}}, {true, false}},
      {"two sha256", {{3, 1, 1, d32}, {3, 1, 1, d32}}, {false, false}},
      {"other selector", {{3, 0, 1, d32}, {3, 1, 2, d64}}, {false, false}},
      {"other usage", {{2, 1, 1, d32}, {3, 1, 2, d64}}, {false, false}},
      {"full stays beside sha512",
       {{3, 1, 0, full}, {3, 1, 1, d32}, {3, 1, 2, d64}},
       {false, true, false}},
      {"full supersedes nothing", {{3, 1, 0, full}, {3, 1, 1, d32}}, {false, false}},
      {"unusable sha512 supersedes nothing",
       {{1, 1, 1, d32}, {1, 1, 2, d64}, {3, 1, 1, d32}},
       {false, false, false}},
      {"malformed sha512 supersedes nothing", {{3, 1, 1, d32}, {3, 1, 2, d32}}, {false, false}},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    CHECK(SupersededByDigestAgility(c.records) == c.superseded);
  }
}

TEST_CASE("a stale stronger digest fails the endpoint; a stale weaker one does not", "[dane]") {
  const WallTime now = std::chrono::system_clock::now();
  TestPki pki("agility");
  const TestCert leaf = pki.Leaf({kMx});
  const TestCert old_leaf = pki.Leaf({kMx});  // another key: its records are stale
  const std::vector<X509*> chain = Chain({&leaf, &pki.intermediate()});

  struct Case {
    std::string name;
    std::vector<TlsaRecord> records;
    bool authenticated;
    std::string reason;
    std::vector<std::string> record_reasons;
  };
  const std::vector<Case> cases = {
      {"stale 3 1 2 beside good 3 1 1",
       {Tlsa(3, 1, 1, leaf), Tlsa(3, 1, 2, old_leaf)},
       false,
       "stale_digest",
       {"superseded", "no_match"}},
      {"good 3 1 2 beside stale 3 1 1",
       {Tlsa(3, 1, 2, leaf), Tlsa(3, 1, 1, old_leaf)},
       true,
       "ok",
       {"match", "superseded"}},
      {"3 0 1 and 3 1 2 are separate groups",
       {Tlsa(3, 0, 1, leaf), Tlsa(3, 1, 2, old_leaf)},
       true,
       "ok",
       {"match", "no_match"}},
      {"DANE-TA and DANE-EE are separate groups",
       {Tlsa(3, 1, 1, leaf), Tlsa(2, 1, 2, pki.root())},
       true,
       "ok",
       {"match", "ta_not_presented"}},
      {"full 3 1 0 counts beside a stale 3 1 2",
       {Tlsa(3, 1, 0, leaf), Tlsa(3, 1, 2, old_leaf)},
       true,
       "ok",
       {"match", "no_match"}},
      {"stale full 3 1 0 does not hide a good 3 1 1",
       {Tlsa(3, 1, 0, old_leaf), Tlsa(3, 1, 1, leaf)},
       true,
       "ok",
       {"no_match", "match"}},
      {"stale DANE-TA 2 0 2 beside good 2 0 1",
       {Tlsa(2, 0, 1, pki.intermediate()), Tlsa(2, 0, 2, pki.root())},
       false,
       "stale_digest",
       {"superseded", "ta_not_presented"}},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    const DaneEndpointReport report = JudgeDaneEndpoint(SecureHost(c.records), kMx, {chain}, now);
    CHECK(report.evaluated);
    CHECK(report.authenticated == c.authenticated);
    CHECK(report.reason == c.reason);
    CHECK(Reasons(report) == c.record_reasons);
    for (const TlsaRecordResult& r : report.records) {
      CHECK(r.superseded == (r.reason == "superseded"));
      if (r.superseded) CHECK_FALSE(r.matches);
    }
  }
}

// --- DANE-EE ---

TEST_CASE("DANE-EE ignores the leaf's names and validity", "[dane]") {
  const WallTime now = std::chrono::system_clock::now();
  CertSpec spec;
  spec.common_name = "wrong.example.net";
  spec.dns_sans = {"wrong.example.net"};
  spec.not_before = now - 400 * kDay;
  spec.not_after = now - 30 * kDay;
  const TestCert expired_misnamed = MakeSelfSigned(spec);
  const std::vector<X509*> chain = Chain({&expired_misnamed});

  for (uint8_t selector = 0; selector <= 1; ++selector) {
    const TlsaRecord record = Tlsa(3, selector, 1, expired_misnamed);
    const TlsaRecordResult r = JudgeTlsaRecord(record, 0, chain, {kMx, kMx}, now);
    CHECK(r.matches);
    CHECK(r.reason == "match");
    const DaneEndpointReport report = JudgeDaneEndpoint(SecureHost({record}), kMx, {chain}, now);
    CHECK(report.authenticated);
    CHECK(report.reason == "ok");
  }
}

TEST_CASE("DANE-EE matches the leaf only, not an issuer the server sent", "[dane]") {
  const WallTime now = std::chrono::system_clock::now();
  TestPki pki("ee only leaf");
  const TestCert leaf = pki.Leaf({kMx});
  const TlsaRecordResult r = JudgeTlsaRecord(Tlsa(3, 1, 1, pki.intermediate()), 0,
                                             Chain({&leaf, &pki.intermediate()}), {kMx, kMx}, now);
  CHECK_FALSE(r.matches);
  CHECK(r.reason == "no_match");
}

// --- DANE-TA ---

TEST_CASE("DANE-TA needs the TA in the chain, a valid path and the right name", "[dane]") {
  const WallTime now = std::chrono::system_clock::now();
  TestPki pki("dane ta");
  TestPki other("dane ta other");
  const TestCert& inter = pki.intermediate();
  const TestCert good = pki.Leaf({kMx});
  const TestCert base_only = pki.Leaf({"mx1.hosting.example"});
  const TestCert wildcard = pki.Leaf({"*.example.com"});
  const TestCert partial_wildcard = pki.Leaf({"m*.example.com"});
  const TestCert misnamed = pki.Leaf({"mail.example.org"});
  const TestCert expired = pki.Leaf({kMx}, now - 2 * kDay, now - 60 * kDay);
  const TestCert not_yet = pki.Leaf({kMx}, now + 60 * kDay, now + 2 * kDay);
  const TestCert foreign = other.Leaf({kMx});
  CertSpec cn_only_spec;
  cn_only_spec.common_name = kMx;  // no SAN at all: RFC 6125 allows the CN
  const TestCert cn_only = MakeIssued(cn_only_spec, inter);
  CertSpec cn_beside_san_spec;
  cn_beside_san_spec.common_name = kMx;
  cn_beside_san_spec.dns_sans = {"other.example.com"};
  const TestCert cn_beside_san = MakeIssued(cn_beside_san_spec, inter);

  CertSpec old_ca_spec;
  old_ca_spec.common_name = "expired issuing CA";
  old_ca_spec.is_ca = true;
  old_ca_spec.not_before = now - 400 * kDay;
  old_ca_spec.not_after = now - 10 * kDay;
  const TestCert old_ca = MakeIssued(old_ca_spec, pki.root());
  CertSpec under_old_ca_spec;
  under_old_ca_spec.common_name = kMx;
  under_old_ca_spec.dns_sans = {kMx};
  const TestCert under_old_ca = MakeIssued(under_old_ca_spec, old_ca);

  const DaneReferenceNames names{"mx1.hosting.example", kMx};  // CNAME-expanded base, MX name
  struct Case {
    std::string name;
    TlsaRecord record;
    std::vector<X509*> chain;
    WallTime at;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {"TA certificate presented", Tlsa(2, 0, 1, inter), Chain({&good, &inter}), now, "match"},
      {"TA key presented", Tlsa(2, 1, 1, inter), Chain({&good, &inter}), now, "match"},
      {"root as TA, presented", Tlsa(2, 0, 2, pki.root()), Chain({&good, &inter, &pki.root()}), now,
       "match"},
      {"root as TA, full key", Tlsa(2, 1, 0, pki.root()), Chain({&good, &inter, &pki.root()}), now,
       "match"},
      {"intermediate TA while root also sent", Tlsa(2, 0, 1, inter),
       Chain({&good, &inter, &pki.root()}), now, "match"},
      {"name is the TLSA base domain", Tlsa(2, 0, 1, inter), Chain({&base_only, &inter}), now,
       "match"},
      {"wildcard covers the MX name", Tlsa(2, 0, 1, inter), Chain({&wildcard, &inter}), now,
       "match"},
      {"CN-only leaf", Tlsa(2, 0, 1, inter), Chain({&cn_only, &inter}), now, "match"},
      {"TA not sent", Tlsa(2, 0, 1, inter), Chain({&good}), now, "ta_not_presented"},
      {"root TA not sent", Tlsa(2, 0, 1, pki.root()), Chain({&good, &inter}), now,
       "ta_not_presented"},
      {"a TA record does not match a leaf that is not self-issued", Tlsa(2, 0, 1, good),
       Chain({&good, &inter}), now, "ta_not_presented"},
      {"wrong name", Tlsa(2, 0, 1, inter), Chain({&misnamed, &inter}), now, "name_mismatch"},
      {"partial wildcard", Tlsa(2, 0, 1, inter), Chain({&partial_wildcard, &inter}), now,
       "name_mismatch"},
      {"CN beside a SAN is ignored", Tlsa(2, 0, 1, inter), Chain({&cn_beside_san, &inter}), now,
       "name_mismatch"},
      {"expired leaf", Tlsa(2, 0, 1, inter), Chain({&expired, &inter}), now, "expired"},
      {"leaf not yet valid", Tlsa(2, 0, 1, inter), Chain({&not_yet, &inter}), now, "expired"},
      {"injected clock past the leaf's expiry", Tlsa(2, 0, 1, inter), Chain({&good, &inter}),
       now + 200 * kDay, "expired"},
      {"expiry beats the name", Tlsa(2, 0, 1, inter), Chain({&misnamed, &inter}), now + 200 * kDay,
       "expired"},
      // The matched TA is on the verified path, so its own validity counts too.
      {"expired TA", Tlsa(2, 1, 1, old_ca), Chain({&under_old_ca, &old_ca}), now, "expired"},
      {"TA presented but did not issue the leaf", Tlsa(2, 0, 1, inter), Chain({&foreign, &inter}),
       now, "chain"},
      {"complete chain of another CA", Tlsa(2, 0, 1, inter),
       Chain({&foreign, &other.intermediate(), &other.root()}), now, "no_match"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    const TlsaRecordResult r = JudgeTlsaRecord(c.record, 0, c.chain, names, c.at);
    CHECK(r.usable);
    CHECK(r.reason == c.reason);
    CHECK(r.matches == (c.reason == "match"));
    // The endpoint reports the same failure when this is the only record.
    const DaneEndpointReport report =
        JudgeDaneEndpoint(SecureHost({c.record}, names.base_domain), kMx, {c.chain}, c.at);
    CHECK(report.authenticated == (c.reason == "match"));
    CHECK(report.reason == (c.reason == "match" ? "ok" : c.reason));
  }
}

TEST_CASE("DANE-TA accepts a self-signed leaf published as its own TA", "[dane]") {
  const WallTime now = std::chrono::system_clock::now();
  CertSpec spec;
  spec.common_name = kMx;
  spec.dns_sans = {kMx};
  const TestCert self_signed = MakeSelfSigned(spec);
  const std::vector<X509*> chain = Chain({&self_signed});
  const TlsaRecord record = Tlsa(2, 0, 1, self_signed);

  CHECK(JudgeTlsaRecord(record, 0, chain, {kMx, kMx}, now).reason == "match");
  CHECK(JudgeTlsaRecord(record, 0, chain, {"other.example", "other.example"}, now).reason ==
        "name_mismatch");
  CHECK(JudgeTlsaRecord(record, 0, chain, {kMx, kMx}, now + 400 * kDay).reason == "expired");
}

TEST_CASE("the MX name is a reference identifier besides the TLSA base domain", "[dane]") {
  const WallTime now = std::chrono::system_clock::now();
  TestPki pki("dane names");
  const TestCert mx_named = pki.Leaf({kMx});
  const TestCert base_named = pki.Leaf({"mx1.hosting.example"});
  const TlsaRecord record = Tlsa(2, 0, 1, pki.intermediate());
  const DaneHostReport host = SecureHost({record}, "mx1.hosting.example");
  for (const TestCert* leaf : {&mx_named, &base_named}) {
    const DaneEndpointReport report =
        JudgeDaneEndpoint(host, kMx, {Chain({leaf, &pki.intermediate()})}, now);
    CHECK(report.authenticated);
  }
  // Neither name: the MX host name as published is not "mx.example.org".
  const DaneEndpointReport report =
      JudgeDaneEndpoint(host, "mx.example.org", {Chain({&mx_named, &pki.intermediate()})}, now);
  CHECK_FALSE(report.authenticated);
  CHECK(report.reason == "name_mismatch");
}

// --- endpoints holding several certificates ---

TEST_CASE("every certificate the endpoint holds must be authenticated", "[dane]") {
  const WallTime now = std::chrono::system_clock::now();
  TestPki pki("dual");
  CertSpec ec_spec;
  ec_spec.common_name = kMx;
  ec_spec.dns_sans = {kMx};
  CertSpec rsa_spec = ec_spec;
  rsa_spec.key_type = KeyType::kRsa2048;
  const TestCert ec = MakeIssued(ec_spec, pki.intermediate());
  const TestCert rsa = MakeIssued(rsa_spec, pki.intermediate());
  const std::vector<X509*> ec_chain = Chain({&ec, &pki.intermediate()});
  const std::vector<X509*> rsa_chain = Chain({&rsa, &pki.intermediate()});

  SECTION("only the ECDSA key published") {
    const DaneEndpointReport report =
        JudgeDaneEndpoint(SecureHost({Tlsa(3, 1, 1, ec)}), kMx, {ec_chain, rsa_chain}, now);
    CHECK(report.evaluated);
    CHECK_FALSE(report.authenticated);
    CHECK(report.reason == "no_match");
    // Per-record results are those of the first (SNI) chain, which the record does match.
    CHECK(Reasons(report) == std::vector<std::string>{"match"});
    CHECK_FALSE(report.next_key_published);
  }
  SECTION("both keys published") {
    const DaneEndpointReport report = JudgeDaneEndpoint(
        SecureHost({Tlsa(3, 1, 1, ec), Tlsa(3, 1, 1, rsa)}), kMx, {ec_chain, rsa_chain}, now);
    CHECK(report.authenticated);
    CHECK(report.reason == "ok");
    CHECK(Reasons(report) == std::vector<std::string>{"match", "no_match"});
    CHECK_FALSE(report.next_key_published);  // each record matches one held chain
  }
  SECTION("a DANE-TA record covers both") {
    const DaneEndpointReport report = JudgeDaneEndpoint(
        SecureHost({Tlsa(2, 0, 1, pki.intermediate())}), kMx, {ec_chain, rsa_chain}, now);
    CHECK(report.authenticated);
  }
  SECTION("held certificates: the DANE SNI session reports, RSA-only session also judged") {
    auto hold = [](const TestCert& leaf, const TestCert& inter, std::vector<std::string> seen) {
      HeldCertificate held;
      held.seen_by = std::move(seen);
      auto chain = std::make_shared<std::vector<X509Ptr>>();
      chain->push_back(RetainX509(leaf.get()));
      chain->push_back(RetainX509(inter.get()));
      held.chain = chain;
      return held;
    };
    const std::vector<HeldCertificate> held = {hold(rsa, pki.intermediate(), {"rsa"}),
                                               HeldCertificate{},  // no chain: skipped
                                               hold(ec, pki.intermediate(), {"sni", "ecdsa"})};
    const DaneEndpointReport report =
        JudgeDaneEndpoint(SecureHost({Tlsa(3, 1, 1, ec)}), kMx, held, now);
    CHECK_FALSE(report.authenticated);
    CHECK(report.reason == "no_match");
    CHECK(Reasons(report) == std::vector<std::string>{"match"});  // the "sni" chain first

    const DaneEndpointReport both =
        JudgeDaneEndpoint(SecureHost({Tlsa(3, 1, 1, rsa), Tlsa(3, 1, 1, ec)}), kMx, held, now);
    CHECK(both.authenticated);
    CHECK(Reasons(both) == std::vector<std::string>{"no_match", "match"});
  }
}

TEST_CASE("a record for the next key is reported as a prepared rollover", "[dane]") {
  const WallTime now = std::chrono::system_clock::now();
  TestPki pki("rollover");
  const TestCert current = pki.Leaf({kMx});
  const TestCert next = pki.Leaf({kMx});
  const std::vector<X509*> chain = Chain({&current, &pki.intermediate()});

  const DaneEndpointReport ready = JudgeDaneEndpoint(
      SecureHost({Tlsa(3, 1, 1, current), Tlsa(3, 1, 1, next)}), kMx, {chain}, now);
  CHECK(ready.authenticated);
  CHECK(ready.reason == "ok");
  CHECK(ready.next_key_published);

  const DaneEndpointReport not_ready =
      JudgeDaneEndpoint(SecureHost({Tlsa(3, 1, 1, current)}), kMx, {chain}, now);
  CHECK(not_ready.authenticated);
  CHECK_FALSE(not_ready.next_key_published);

  // A next key next to a failing current key is no rollover: nothing is authenticated.
  const TestCert unrelated = pki.Leaf({kMx});
  const DaneEndpointReport broken = JudgeDaneEndpoint(
      SecureHost({Tlsa(3, 1, 1, unrelated), Tlsa(3, 1, 1, next)}), kMx, {chain}, now);
  CHECK_FALSE(broken.authenticated);
  CHECK_FALSE(broken.next_key_published);

  // A superseded weaker digest of some other key is not a prepared next key.
  const DaneEndpointReport stale_extra = JudgeDaneEndpoint(
      SecureHost({Tlsa(3, 1, 2, current), Tlsa(3, 1, 1, next)}), kMx, {chain}, now);
  CHECK(stale_extra.authenticated);
  CHECK_FALSE(stale_extra.next_key_published);
}

// --- what DANE cannot judge ---

TEST_CASE("only unusable records require TLS but authenticate nothing", "[dane]") {
  const WallTime now = std::chrono::system_clock::now();
  TestPki pki("unusable");
  const TestCert leaf = pki.Leaf({kMx});
  const std::vector<X509*> chain = Chain({&leaf, &pki.intermediate()});
  TlsaRecord malformed{3, 1, 1, std::vector<uint8_t>(20, 7)};
  const DaneEndpointReport report = JudgeDaneEndpoint(
      SecureHost({Tlsa(0, 0, 1, pki.root()), Tlsa(1, 1, 1, leaf), malformed}), kMx, {chain}, now);
  CHECK(report.evaluated);
  CHECK_FALSE(report.authenticated);
  CHECK(report.reason == "only_unusable");
  CHECK(Reasons(report) == std::vector<std::string>{"unusable", "unusable", "malformed"});
  for (const TlsaRecordResult& r : report.records) {
    CHECK_FALSE(r.usable);
    CHECK_FALSE(r.matches);
  }
  CHECK_FALSE(report.next_key_published);

  // One usable record among unusable ones decides.
  const DaneEndpointReport mixed =
      JudgeDaneEndpoint(SecureHost({Tlsa(1, 1, 1, leaf), Tlsa(3, 1, 1, leaf)}), kMx, {chain}, now);
  CHECK(mixed.authenticated);
  CHECK_FALSE(mixed.next_key_published);  // unusable records are never a next key
}

TEST_CASE("DANE endpoint outcomes without a judgement of records", "[dane]") {
  const WallTime now = std::chrono::system_clock::now();
  TestPki pki("no judgement");
  const TestCert leaf = pki.Leaf({kMx});
  const std::vector<X509*> chain = Chain({&leaf, &pki.intermediate()});
  const TlsaRecord record = Tlsa(3, 1, 1, leaf);

  SECTION("TLSA lookup failed") {
    DaneHostReport host;
    host.looked_up = true;
    host.lookup_error = "servfail";
    const DaneEndpointReport report = JudgeDaneEndpoint(host, kMx, {chain}, now);
    CHECK(report.evaluated);
    CHECK_FALSE(report.authenticated);
    CHECK(report.reason == "tlsa_lookup_failed");
    CHECK(report.records.empty());
    // Also when no certificate was seen: the sender defers before it connects.
    CHECK(JudgeDaneEndpoint(host, kMx, std::vector<std::vector<X509*>>{}, now).reason ==
          "tlsa_lookup_failed");
  }
  SECTION("DANE does not apply") {
    DaneHostReport insecure = SecureHost({record});
    insecure.tlsa_dnssec = DnssecStatus::kInsecure;
    DaneHostReport no_records = SecureHost({});
    for (const DaneHostReport* host : {&insecure, &no_records}) {
      const DaneEndpointReport report = JudgeDaneEndpoint(*host, kMx, {chain}, now);
      CHECK_FALSE(report.evaluated);
      CHECK_FALSE(report.authenticated);
      CHECK(report.reason.empty());
    }
  }
  SECTION("no certificate held: the caller names the failure") {
    const DaneEndpointReport report =
        JudgeDaneEndpoint(SecureHost({record}), kMx, std::vector<std::vector<X509*>>{}, now);
    CHECK_FALSE(report.evaluated);
    CHECK(report.reason.empty());
    CHECK(report.records.empty());
  }
}

TEST_CASE("the endpoint reason is the nearest miss over the records", "[dane]") {
  const WallTime now = std::chrono::system_clock::now();
  TestPki pki("nearest miss");
  TestPki other("nearest other");
  const TestCert misnamed = pki.Leaf({"mail.example.org"});
  const std::vector<X509*> chain = Chain({&misnamed, &pki.intermediate()});
  const DaneEndpointReport report =
      JudgeDaneEndpoint(SecureHost({Tlsa(3, 1, 1, other.Leaf({kMx})), Tlsa(2, 0, 1, other.root()),
                                    Tlsa(2, 0, 1, pki.intermediate())}),
                        kMx, {chain}, now);
  CHECK_FALSE(report.authenticated);
  CHECK(report.reason == "name_mismatch");
  CHECK(Reasons(report) ==
        std::vector<std::string>{"no_match", "ta_not_presented", "name_mismatch"});
}

}  // namespace
}  // namespace mxtls
