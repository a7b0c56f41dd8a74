#include "probes/chain_interner.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

namespace mxtls {

namespace {

// Expired weak references are dropped after this many new chains: the map stays within the
// chains alive plus this many.
constexpr size_t kSweepEvery = 1024;

// SHA-256 of each certificate's DER, concatenated ("" when a certificate cannot be hashed:
// such a chain is simply not shared).
std::string ChainIdentity(const std::vector<X509Ptr>& chain) {
  std::string key;
  key.reserve(chain.size() * 32);
  for (const X509Ptr& cert : chain) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!cert || X509_digest(cert.get(), EVP_sha256(), md, &len) != 1) {
      ERR_clear_error();
      return {};
    }
    key.append(reinterpret_cast<const char*>(md), len);
  }
  return key;
}

}  // namespace

ChainInterner& ChainInterner::Global() {
  static ChainInterner interner;
  return interner;
}

// A chain handed out here may be judged on several loops at once (a shared session, cached
// observations), so it is primed for sharing first; a held chain was primed by whoever put it
// here, and a fresh one that duplicates it is dropped unprimed.
ChainInterner::Chain ChainInterner::Intern(std::vector<X509Ptr> fresh) {
  auto prime = [&fresh] {
    for (const X509Ptr& cert : fresh) PrimeX509ForSharing(cert.get());
    ERR_clear_error();
  };
  std::string key = ChainIdentity(fresh);
  if (key.empty()) {
    prime();
    return std::make_shared<const std::vector<X509Ptr>>(std::move(fresh));
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto it = chains_.find(key);
  if (it != chains_.end()) {
    if (Chain held = it->second.lock()) return held;  // `fresh` is freed on return
  }
  prime();  // before anyone else can be handed it
  Chain shared = std::make_shared<const std::vector<X509Ptr>>(std::move(fresh));
  chains_[std::move(key)] = shared;
  if (++inserts_since_sweep_ >= kSweepEvery) {
    inserts_since_sweep_ = 0;
    for (auto i = chains_.begin(); i != chains_.end();) {
      i = i->second.expired() ? chains_.erase(i) : std::next(i);
    }
  }
  return shared;
}

size_t ChainInterner::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return chains_.size();
}

}  // namespace mxtls
