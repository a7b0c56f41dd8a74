#include "probes/judgement/chain_judgement_cache.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <algorithm>
#include <limits>

namespace mxtls {

std::atomic<uint64_t> ChainJudgementCache::total_hits_{0};
std::atomic<uint64_t> ChainJudgementCache::total_misses_{0};

namespace {

// OpenSSL frees the cache together with its store, whoever drops the last reference.
void FreeAttachedCache(void* /*parent*/, void* ptr, CRYPTO_EX_DATA* /*ad*/, int /*idx*/,
                       long /*argl*/, void* /*argp*/) {
  delete static_cast<ChainJudgementCache*>(ptr);
}

int StoreIndex() {
  // Registered once per process; -1 if OpenSSL refused (then no store gets a cache).
  static const int index =
      X509_STORE_get_ex_new_index(0, nullptr, nullptr, nullptr, FreeAttachedCache);
  return index;
}

// SHA-256 of each certificate's DER, concatenated: the identity of a presented chain. The DER
// is kept by the X509 object since it was parsed, so this is one hash per certificate.
bool ChainKey(const std::vector<X509*>& presented, std::string& key) {
  static const EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (sha256 == nullptr) return false;
  key.clear();
  key.reserve(presented.size() * 32);
  for (X509* cert : presented) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (cert == nullptr || X509_digest(cert, sha256, md, &len) != 1) {
      ERR_clear_error();
      return false;
    }
    key.append(reinterpret_cast<const char*>(md), len);
  }
  return true;
}

}  // namespace

ChainJudgementCache::ChainJudgementCache(size_t capacity, std::chrono::seconds max_age)
    : capacity_(std::max<size_t>(capacity, 1)), max_age_seconds_(max_age.count()) {}

bool ChainJudgementCache::AttachTo(X509_STORE* store, size_t capacity) {
  const int index = StoreIndex();
  if (store == nullptr || index < 0) return false;
  auto cache = std::make_unique<ChainJudgementCache>(capacity);
  if (X509_STORE_set_ex_data(store, index, cache.get()) != 1) {
    ERR_clear_error();
    return false;
  }
  cache.release();  // owned by the store now (FreeAttachedCache)
  return true;
}

ChainJudgementCache* ChainJudgementCache::Of(X509_STORE* store) {
  const int index = StoreIndex();
  if (store == nullptr || index < 0) return nullptr;
  return static_cast<ChainJudgementCache*>(X509_STORE_get_ex_data(store, index));
}

std::pair<long long, long long> ChainJudgementCache::StableInterval(
    const std::vector<CertFacts>& presented, const std::vector<CertFacts>& path, long long at) {
  // OpenSSL's rules: not yet valid while at < notBefore, expired once at >= notAfter. So every
  // state holds on [boundary, next boundary).
  long long from = std::numeric_limits<long long>::min();
  long long until = std::numeric_limits<long long>::max();
  auto consider = [&](long long boundary) {
    if (boundary <= at) {
      from = std::max(from, boundary);
    } else {
      until = std::min(until, boundary);
    }
  };
  for (const auto* list : {&presented, &path}) {
    for (const CertFacts& c : *list) {
      consider(c.not_before);
      consider(c.not_after);
    }
  }
  return {from, until};
}

std::shared_ptr<const ChainJudgementCache::Judgement> ChainJudgementCache::Compute(
    const std::vector<X509*>& presented, X509_STORE* trust, long long at) {
  auto j = std::make_shared<Judgement>();
  std::vector<CertFacts> facts;
  facts.reserve(presented.size());
  for (X509* cert : presented) facts.push_back(DescribeCertificate(cert));
  j->presented = std::move(facts);
  j->chain = JudgeChain(presented, trust, FromUnixSeconds(at));
  std::tie(j->reusable_from, j->reusable_until) = StableInterval(j->presented, j->chain.path, at);
  j->judged_at = at;
  return j;
}

bool ChainJudgementCache::Reusable(const Judgement& j, long long at) const {
  if (at < j.reusable_from || at >= j.reusable_until) return false;
  // Either direction: an injected or stepped clock may go back.
  const long long age = at >= j.judged_at ? at - j.judged_at : j.judged_at - at;
  return age < max_age_seconds_;
}

std::shared_ptr<const ChainJudgementCache::Judgement> ChainJudgementCache::Judge(
    const std::vector<X509*>& presented, X509_STORE* trust, WallTime now) {
  const long long at = ToUnixSeconds(now);
  std::string key;
  if (!ChainKey(presented, key)) {
    total_misses_.fetch_add(1, std::memory_order_relaxed);
    return Compute(presented, trust, at);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = slots_.find(key);
    if (it != slots_.end() && Reusable(*it->second.judgement, at)) {
      recency_.splice(recency_.begin(), recency_, it->second.recency);
      total_hits_.fetch_add(1, std::memory_order_relaxed);
      return it->second.judgement;
    }
  }
  total_misses_.fetch_add(1, std::memory_order_relaxed);
  // Computed outside the lock: two probes of a new chain at once may both verify it, which
  // costs one verification, while a lock held across verifications would serialize them all.
  std::shared_ptr<const Judgement> judged = Compute(presented, trust, at);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = slots_.find(key);
  if (it != slots_.end()) {
    it->second.judgement = judged;
    recency_.splice(recency_.begin(), recency_, it->second.recency);
    return judged;
  }
  if (slots_.size() >= capacity_) {
    slots_.erase(recency_.back());
    recency_.pop_back();
  }
  recency_.push_front(key);
  slots_.emplace(std::move(key), Slot{judged, recency_.begin()});
  return judged;
}

size_t ChainJudgementCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return slots_.size();
}

}  // namespace mxtls
