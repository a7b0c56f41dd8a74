#include "tests/support/cert_factory.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <cstdint>
#include <ctime>
#include <stdexcept>

namespace mxtls::testing {
namespace {

using X509NamePtr = std::unique_ptr<X509_NAME, OpenSslDeleter<X509_NAME, X509_NAME_free>>;

// The factory serves tests only: a failure is a broken test environment, so it throws (Catch2
// reports the exception with OpenSSL's own error text) instead of returning a Status.
[[noreturn]] void Fail(const std::string& what) {
  throw std::runtime_error("cert_factory: " + what + ": " + DrainOpenSslErrors());
}

EvpPkeyPtr GenerateKey(KeyType type) {
  EVP_PKEY* key = nullptr;
  switch (type) {
    case KeyType::kEcP256:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
      break;
    case KeyType::kRsa2048:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048));
      break;
    case KeyType::kRsa1024:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(1024));
      break;
    case KeyType::kEd25519:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
      break;
  }
  if (key == nullptr) Fail("key generation");
  return EvpPkeyPtr(key);
}

X509NamePtr MakeName(const std::string& common_name, const std::string& organization) {
  X509NamePtr name(X509_NAME_new());
  if (!name) Fail("X509_NAME_new");
  auto add = [&](const char* field, const std::string& value) {
    if (value.empty()) return;
    if (X509_NAME_add_entry_by_txt(name.get(), field, MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(value.data()),
                                   static_cast<int>(value.size()), -1, 0) != 1) {
      Fail(std::string("name entry ") + field);
    }
  };
  add("O", organization);
  add("CN", common_name);
  return name;
}

void SetSerial(X509* cert, long serial) {
  ASN1_INTEGER* field = X509_get_serialNumber(cert);
  if (serial != 0) {
    if (ASN1_INTEGER_set(field, serial) != 1) Fail("serial");
    return;
  }
  // Random, positive and non-zero: 63 random bits.
  uint64_t value = 0;
  while (value == 0) {
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&value), sizeof(value)) != 1) Fail("RAND");
    value &= 0x7fffffffffffffffULL;
  }
  if (ASN1_INTEGER_set_uint64(field, value) != 1) Fail("serial");
}

// A version 3 certificate with everything but extensions and signature.
X509Ptr StartCertificate(const X509_NAME* subject, EVP_PKEY* subject_key,
                         const X509_NAME* issuer_name, WallTime not_before, WallTime not_after,
                         long serial) {
  X509Ptr cert(X509_new());
  if (!cert) Fail("X509_new");
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1) Fail("version");
  SetSerial(cert.get(), serial);
  if (X509_set_subject_name(cert.get(), subject) != 1 ||
      X509_set_issuer_name(cert.get(), issuer_name) != 1) {
    Fail("names");
  }
  if (X509_set_pubkey(cert.get(), subject_key) != 1) Fail("pubkey");
  // ASN1_TIME_set picks UTCTime or GeneralizedTime (after 2049) as RFC 5280 requires.
  if (ASN1_TIME_set(X509_getm_notBefore(cert.get()),
                    static_cast<time_t>(ToUnixSeconds(not_before))) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert.get()),
                    static_cast<time_t>(ToUnixSeconds(not_after))) == nullptr) {
    Fail("validity");
  }
  return cert;
}

void AddConfExtension(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  X509_EXTENSION* ext = X509V3_EXT_nconf_nid(nullptr, ctx, nid, value.c_str());
  if (ext == nullptr) Fail(std::string("extension ") + OBJ_nid2sn(nid) + "=" + value);
  const int added = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (added != 1) Fail(std::string("add extension ") + OBJ_nid2sn(nid));
}

// Built from GENERAL_NAMEs directly rather than a config string, so that test names with
// unusual characters (wildcards, commas) go in verbatim.
void AddSubjectAltNames(X509* cert, const std::vector<std::string>& dns,
                        const std::vector<std::string>& ips) {
  if (dns.empty() && ips.empty()) return;
  GENERAL_NAMES* names = sk_GENERAL_NAME_new_null();
  if (names == nullptr) Fail("GENERAL_NAMES");
  auto push = [&](GENERAL_NAME* gen) {
    if (sk_GENERAL_NAME_push(names, gen) <= 0) {
      GENERAL_NAME_free(gen);
      GENERAL_NAMES_free(names);
      Fail("push SAN");
    }
  };
  for (const std::string& name : dns) {
    GENERAL_NAME* gen = GENERAL_NAME_new();
    ASN1_IA5STRING* ia5 = ASN1_IA5STRING_new();
    if (gen == nullptr || ia5 == nullptr ||
        ASN1_STRING_set(ia5, name.data(), static_cast<int>(name.size())) != 1) {
      GENERAL_NAME_free(gen);
      ASN1_IA5STRING_free(ia5);
      GENERAL_NAMES_free(names);
      Fail("DNS SAN " + name);
    }
    GENERAL_NAME_set0_value(gen, GEN_DNS, ia5);
    push(gen);
  }
  for (const std::string& ip : ips) {
    ASN1_OCTET_STRING* octets = a2i_IPADDRESS(ip.c_str());
    GENERAL_NAME* gen = GENERAL_NAME_new();
    if (octets == nullptr || gen == nullptr) {
      ASN1_OCTET_STRING_free(octets);
      GENERAL_NAME_free(gen);
      GENERAL_NAMES_free(names);
      Fail("IP SAN " + ip);
    }
    GENERAL_NAME_set0_value(gen, GEN_IPADD, octets);
    push(gen);
  }
  const int added = X509_add1_ext_i2d(cert, NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT);
  GENERAL_NAMES_free(names);
  if (added != 1) Fail("add subjectAltName");
}

// Extensions of a fresh certificate. `issuer_cert` may be `cert` itself (self-signed): the
// subject key identifier is added first so the authority key identifier can copy it.
void AddStandardExtensions(X509* cert, const CertSpec& spec, X509* issuer_cert,
                           EVP_PKEY* issuer_key) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer_cert, cert, nullptr, nullptr, 0);
  X509V3_set_ctx_nodb(&ctx);
  if (X509V3_set_issuer_pkey(&ctx, issuer_key) != 1) Fail("issuer pkey");
  if (spec.is_ca) {
    std::string bc = "critical,CA:TRUE";
    if (spec.path_len >= 0) bc += ",pathlen:" + std::to_string(spec.path_len);
    AddConfExtension(cert, &ctx, NID_basic_constraints, bc);
    AddConfExtension(cert, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    AddConfExtension(cert, &ctx, NID_basic_constraints, "critical,CA:FALSE");
    AddConfExtension(cert, &ctx, NID_key_usage, "critical,digitalSignature,keyEncipherment");
    AddConfExtension(cert, &ctx, NID_ext_key_usage, "serverAuth");
  }
  AddConfExtension(cert, &ctx, NID_subject_key_identifier, "hash");
  AddConfExtension(cert, &ctx, NID_authority_key_identifier, "keyid:always");
  AddSubjectAltNames(cert, spec.dns_sans, spec.ip_sans);
}

// EdDSA signs the message itself: it takes no separate digest.
void Sign(X509* cert, EVP_PKEY* signer, const std::string& digest) {
  const EVP_MD* md = nullptr;
  const int base = EVP_PKEY_get_base_id(signer);
  if (base != EVP_PKEY_ED25519 && base != EVP_PKEY_ED448) {
    md = EVP_get_digestbyname(digest.c_str());
    if (md == nullptr) Fail("unknown digest " + digest);
  }
  if (X509_sign(cert, signer, md) <= 0) Fail("sign");
}

EvpPkeyPtr RetainKey(EVP_PKEY* key) {
  if (key != nullptr) EVP_PKEY_up_ref(key);
  return EvpPkeyPtr(key);
}

}  // namespace

std::string TestCert::CertPem() const { return CertificateToPem(cert.get()); }

std::string TestCert::KeyPem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    Fail("write key PEM");
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

TestCert MakeSelfSigned(const CertSpec& spec) {
  TestCert out;
  out.key = GenerateKey(spec.key_type);
  X509NamePtr name = MakeName(spec.common_name, "");
  out.cert = StartCertificate(name.get(), out.key.get(), name.get(), spec.not_before,
                              spec.not_after, spec.serial);
  AddStandardExtensions(out.cert.get(), spec, out.cert.get(), out.key.get());
  Sign(out.cert.get(), out.key.get(), spec.digest);
  return out;
}

TestCert MakeIssued(const CertSpec& spec, const TestCert& issuer) {
  TestCert out;
  out.key = GenerateKey(spec.key_type);
  X509NamePtr name = MakeName(spec.common_name, "");
  out.cert = StartCertificate(name.get(), out.key.get(), X509_get_subject_name(issuer.get()),
                              spec.not_before, spec.not_after, spec.serial);
  AddStandardExtensions(out.cert.get(), spec, issuer.get(), issuer.key.get());
  Sign(out.cert.get(), issuer.key.get(), spec.digest);
  return out;
}

TestCert MakeCrossSigned(const TestCert& subject_cert, const CertSpec& spec,
                         const TestCert& issuer) {
  TestCert out;
  out.key = RetainKey(subject_cert.key.get());
  out.cert =
      StartCertificate(X509_get_subject_name(subject_cert.get()), out.key.get(),
                       X509_get_subject_name(issuer.get()), spec.not_before, spec.not_after, 0);
  // Same extensions as the original, except the authority key identifier, which must name
  // the new issuer's key.
  X509* original = subject_cert.get();
  for (int i = 0; i < X509_get_ext_count(original); ++i) {
    X509_EXTENSION* ext = X509_get_ext(original, i);
    if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) == NID_authority_key_identifier) continue;
    if (X509_add_ext(out.cert.get(), ext, -1) != 1) Fail("copy extension");
  }
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer.get(), out.cert.get(), nullptr, nullptr, 0);
  X509V3_set_ctx_nodb(&ctx);
  if (X509V3_set_issuer_pkey(&ctx, issuer.key.get()) != 1) Fail("issuer pkey");
  AddConfExtension(out.cert.get(), &ctx, NID_authority_key_identifier, "keyid:always");
  Sign(out.cert.get(), issuer.key.get(), spec.digest);
  return out;
}

TestPki::TestPki(const std::string& name) {
  const WallTime now = std::chrono::system_clock::now();
  constexpr auto kDay = std::chrono::hours(24);

  CertSpec root;
  root.common_name = name + " Root CA";
  root.is_ca = true;
  root.not_before = now - 30 * kDay;
  root.not_after = now + 3650 * kDay;
  root_.key = GenerateKey(root.key_type);
  X509NamePtr root_name = MakeName(root.common_name, name);
  root_.cert = StartCertificate(root_name.get(), root_.key.get(), root_name.get(), root.not_before,
                                root.not_after, 0);
  AddStandardExtensions(root_.cert.get(), root, root_.cert.get(), root_.key.get());
  Sign(root_.cert.get(), root_.key.get(), root.digest);

  CertSpec inter;
  inter.common_name = name + " Intermediate CA";
  inter.is_ca = true;
  inter.path_len = 0;
  inter.not_before = now - 30 * kDay;
  inter.not_after = now + 1825 * kDay;
  intermediate_.key = GenerateKey(inter.key_type);
  X509NamePtr inter_name = MakeName(inter.common_name, name);
  intermediate_.cert =
      StartCertificate(inter_name.get(), intermediate_.key.get(),
                       X509_get_subject_name(root_.get()), inter.not_before, inter.not_after, 0);
  AddStandardExtensions(intermediate_.cert.get(), inter, root_.get(), root_.key.get());
  Sign(intermediate_.cert.get(), root_.key.get(), inter.digest);
}

TestCert TestPki::Leaf(const std::vector<std::string>& dns_names, WallTime not_after,
                       WallTime not_before) const {
  CertSpec spec;
  if (!dns_names.empty()) spec.common_name = dns_names.front();
  spec.dns_sans = dns_names;
  spec.not_after = not_after;
  spec.not_before = not_before;
  return MakeIssued(spec, intermediate_);
}

X509StorePtr TestPki::TrustStore() const {
  X509StorePtr store(X509_STORE_new());
  if (!store || X509_STORE_add_cert(store.get(), root_.get()) != 1) Fail("trust store");
  return store;
}

std::string PemChain(const std::vector<const TestCert*>& certs) {
  std::string out;
  for (const TestCert* cert : certs) out += cert->CertPem();
  return out;
}

std::vector<X509*> Chain(std::initializer_list<const TestCert*> certs) {
  std::vector<X509*> out;
  for (const TestCert* cert : certs) out.push_back(cert->get());
  return out;
}

}  // namespace mxtls::testing
