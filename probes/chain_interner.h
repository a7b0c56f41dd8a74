// Keeps identical certificate chains in memory once. A provider's certificate is shown by
// every customer endpoint on its mail hosts, and one server shows the same chain to the main,
// no-SNI and key-type sessions; the engine keeps those chains for hours (FactCache) so that
// it can judge them again at every probe. Parsed, each copy costs several times its DER size,
// so a fleet of thousands of endpoints would otherwise hold thousands of copies of one chain.
//
// Thread-safe. Holds only weak references: a chain lives as long as some report or cache
// entry holds it. The certificates it hands out are shared between event loops: Intern primes
// them for sharing (PrimeX509ForSharing) before anyone else can get them, and they are never
// modified afterwards. Every captured chain goes through it.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/openssl_util.h"

namespace mxtls {

class ChainInterner {
 public:
  using Chain = std::shared_ptr<const std::vector<X509Ptr>>;

  // The one the engine uses.
  static ChainInterner& Global();

  // A chain with the same certificates (SHA-256 of each DER) in the same order that is still
  // held somewhere, or else `fresh`, from now on handed to later callers. Never null; an
  // empty `fresh` is returned as it is.
  Chain Intern(std::vector<X509Ptr> fresh);

  // Distinct chains known (held or expired and not swept yet).
  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::weak_ptr<const std::vector<X509Ptr>>> chains_;
  size_t inserts_since_sweep_ = 0;
};

}  // namespace mxtls
