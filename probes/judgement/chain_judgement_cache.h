// Memoizes the costly, slowly changing part of judging a certificate chain: the facts of every
// presented certificate and the chain verdict against one trust store. Thousands of probes a
// minute see the same few chains (every scrape of a domain, every domain on a shared mail
// host); parsing names and keys and verifying signatures again for each is most of a probe's
// CPU after the TLS handshake itself.
//
// What is reused, and for how long:
// - The key is the SHA-256 of every presented certificate, in the order presented: anything a
//   server changes in its chain is a different key. The cache belongs to one trust store (it is
//   attached to the X509_STORE and freed with it), so a reloaded or different store never sees
//   another store's verdicts.
// - A verdict depends on time only through the validity periods of the certificates involved.
//   An entry is therefore reused only while the judged time stays inside the interval between
//   the nearest notBefore/notAfter of any presented or path certificate before it and the next
//   one after it: across a boundary (a certificate expires or becomes valid) it is judged again.
//   Expiry figures (days to expiry) are never cached; callers compute them at every probe.
// - Entries are also judged again after `max_age` (default 1 h): path building may prefer a
//   store certificate that only became valid later, which the interval above cannot see.
// - At most `capacity` entries; when full, the least recently used one goes.
//
// Thread-safe: one mutex around a map; the entries handed out are immutable and shared.
#pragma once

#include <openssl/x509.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "probes/judgement/cert_checks.h"

namespace mxtls {

class ChainJudgementCache {
 public:
  // What a chain judgement is, apart from the name match and the expiry figures.
  struct Judgement {
    CertFactsList presented;  // as the server sent them, leaf first
    ChainVerdict chain;
    long long reusable_from = 0;   // unix seconds: the interval of judged times over which
    long long reusable_until = 0;  // the verdict cannot change (until is exclusive)
    long long judged_at = 0;       // unix seconds of the judgement
  };

  explicit ChainJudgementCache(size_t capacity = 20000,
                               std::chrono::seconds max_age = std::chrono::hours(1));
  ChainJudgementCache(const ChainJudgementCache&) = delete;
  ChainJudgementCache& operator=(const ChainJudgementCache&) = delete;

  // Gives `store` a cache of its own, freed with the store. Call once per store, before the
  // store is shared between threads. False when OpenSSL cannot hold it (the store then simply
  // has no cache and every judgement is computed).
  static bool AttachTo(X509_STORE* store, size_t capacity = 20000);
  // The cache attached to `store`, or null.
  static ChainJudgementCache* Of(X509_STORE* store);

  // The judgement of `presented` (leaf first, not empty, no null) against `trust` at `now`:
  // reused when a valid entry exists, computed with DescribeCertificate and JudgeChain (and
  // stored) otherwise.
  std::shared_ptr<const Judgement> Judge(const std::vector<X509*>& presented, X509_STORE* trust,
                                         WallTime now);

  // The interval of judged times (unix seconds) around `at` over which certificates with these
  // validity periods keep their state: [latest boundary <= at, earliest boundary > at).
  static std::pair<long long, long long> StableInterval(const std::vector<CertFacts>& presented,
                                                        const std::vector<CertFacts>& path,
                                                        long long at);

  size_t size() const;
  // Requests answered from the cache / computed, over every cache of the process (for the
  // exporter's own metrics).
  static uint64_t TotalHits() { return total_hits_.load(std::memory_order_relaxed); }
  static uint64_t TotalMisses() { return total_misses_.load(std::memory_order_relaxed); }

 private:
  struct Slot {
    std::shared_ptr<const Judgement> judgement;
    std::list<std::string>::iterator recency;  // position in recency_ (front: most recent)
  };

  // Computes the judgement without looking at the cache.
  static std::shared_ptr<const Judgement> Compute(const std::vector<X509*>& presented,
                                                  X509_STORE* trust, long long at);
  bool Reusable(const Judgement& j, long long at) const;

  const size_t capacity_;
  const long long max_age_seconds_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Slot> slots_;
  std::list<std::string> recency_;

  static std::atomic<uint64_t> total_hits_;
  static std::atomic<uint64_t> total_misses_;
};

}  // namespace mxtls
