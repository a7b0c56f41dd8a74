// Generates certificates for tests: a private root, intermediates and leaves with chosen
// names, validity and key types, all in memory. Nothing here touches the network or disk.
#pragma once

#include <chrono>
#include <initializer_list>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/openssl_util.h"

namespace mxtls::testing {

enum class KeyType { kEcP256, kRsa2048, kRsa1024, kEd25519 };

struct CertSpec {
  std::string common_name;            // empty: no CN in the subject
  std::vector<std::string> dns_sans;  // empty (and no ip_sans): no SAN extension at all
  std::vector<std::string> ip_sans;   // textual IPv4/IPv6 addresses
  // Validity; defaults are relative to the real current time.
  WallTime not_before = std::chrono::system_clock::now() - std::chrono::hours(24);
  WallTime not_after = std::chrono::system_clock::now() + std::chrono::hours(24 * 90);
  bool is_ca = false;
  int path_len = -1;                  // CA only; -1 = unlimited
  KeyType key_type = KeyType::kEcP256;
  std::string digest = "sha256";      // "sha1" makes a weak signature; ignored for Ed25519
  long serial = 0;                    // 0: a random positive serial
};

struct TestCert {
  X509Ptr cert;
  EvpPkeyPtr key;

  std::string CertPem() const;
  std::string KeyPem() const;
  X509* get() const { return cert.get(); }
};

// A self-signed certificate (a root when spec.is_ca).
TestCert MakeSelfSigned(const CertSpec& spec);
// A certificate for spec, signed by issuer's key, with issuer's subject as its issuer name.
TestCert MakeIssued(const CertSpec& spec, const TestCert& issuer);
// A second certificate for the same subject and key as `subject_cert` but signed by another
// issuer (a cross-sign), with the validity of `spec` (other spec fields are ignored).
TestCert MakeCrossSigned(const TestCert& subject_cert, const CertSpec& spec,
                         const TestCert& issuer);

// A private PKI: root -> intermediate -> leaves.
class TestPki {
 public:
  explicit TestPki(const std::string& name = "mxtls test");

  const TestCert& root() const { return root_; }
  const TestCert& intermediate() const { return intermediate_; }

  // A leaf issued by the intermediate; the CN is the first DNS name (if any).
  TestCert Leaf(const std::vector<std::string>& dns_names,
                WallTime not_after = std::chrono::system_clock::now() +
                                     std::chrono::hours(24 * 90),
                WallTime not_before = std::chrono::system_clock::now() -
                                      std::chrono::hours(24)) const;

  // A new store trusting only this PKI's root. Caller owns it.
  X509StorePtr TrustStore() const;
  std::string RootPem() const { return root_.CertPem(); }

 private:
  TestCert root_;
  TestCert intermediate_;
};

// The raw pointers of certificates, in the order given: a presented chain for the judgements.
std::vector<X509*> Chain(std::initializer_list<const TestCert*> certs);

// Concatenated PEM of certificates, in the order given.
std::string PemChain(const std::vector<const TestCert*>& certs);

}  // namespace mxtls::testing
