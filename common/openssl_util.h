// RAII owners for every OpenSSL handle the project touches, and the helper that drains
// OpenSSL's thread-local error queue into a message so that one probe's errors never show up
// in another probe's reason.
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <vector>

namespace mxtls {

template <typename T, void (*Free)(T*)>
struct OpenSslDeleter {
  void operator()(T* p) const {
    if (p != nullptr) Free(p);
  }
};

using X509Ptr = std::unique_ptr<X509, OpenSslDeleter<X509, X509_free>>;
using X509StorePtr = std::unique_ptr<X509_STORE, OpenSslDeleter<X509_STORE, X509_STORE_free>>;
using X509StoreCtxPtr =
    std::unique_ptr<X509_STORE_CTX, OpenSslDeleter<X509_STORE_CTX, X509_STORE_CTX_free>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, OpenSslDeleter<EVP_PKEY, EVP_PKEY_free>>;
using BioPtr = std::unique_ptr<BIO, OpenSslDeleter<BIO, BIO_free_all>>;
using SslCtxPtr = std::unique_ptr<SSL_CTX, OpenSslDeleter<SSL_CTX, SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, OpenSslDeleter<SSL, SSL_free>>;

// Takes a new reference on `cert` and returns an owner of it.
inline X509Ptr RetainX509(X509* cert) {
  if (cert != nullptr) X509_up_ref(cert);
  return X509Ptr(cert);
}

// OpenSSL 3.0 fills a certificate's cached extension data (key identifiers, key usage, CA
// flags) the first time a verification needs it. When one certificate was verified on two
// event loops at once (the chain of a session shared by several domains, a trust anchor),
// ThreadSanitizer saw one thread read those fields while the other was still filling them.
// Filling them while the certificate has a single user makes every later use read-only.
inline void PrimeX509ForSharing(X509* cert) {
  if (cert != nullptr) X509_check_purpose(cert, -1, 0);
}
// The same for every certificate a store holds (those a CA file loaded; a hashed directory's
// are loaded on demand, under the store's lock).
inline void PrimeStoreForSharing(X509_STORE* store) {
  if (store == nullptr) return;
  STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(store);
  for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i) {
    PrimeX509ForSharing(X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objects, i)));
  }
}

// A shared, immutable trust store. X509_STORE is reference-counted and safe to use from
// several verifications at once once it is no longer modified.
using SharedX509Store = std::shared_ptr<X509_STORE>;
inline SharedX509Store ShareX509Store(X509StorePtr store) {
  return SharedX509Store(store.release(), [](X509_STORE* s) { X509_STORE_free(s); });
}

// Empties this thread's OpenSSL error queue and returns its entries joined by "; "
// (empty string when there were none).
std::string DrainOpenSslErrors();

// Parses every PEM certificate in `pem`. Returns an empty vector when none parse.
std::vector<X509Ptr> ParsePemCertificates(const std::string& pem);

// PEM text of one certificate.
std::string CertificateToPem(X509* cert);

}  // namespace mxtls
