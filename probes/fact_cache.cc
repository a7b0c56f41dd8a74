#include "probes/fact_cache.h"

namespace mxtls {

template <typename V>
void FactCache::Touch(Lru<V>& lru, const std::string& key) {
  auto it = lru.map.find(key);
  lru.order.splice(lru.order.begin(), lru.order, it->second.second);
}

template <typename V>
void FactCache::Insert(Lru<V>& lru, const std::string& key, V value) {
  auto it = lru.map.find(key);
  if (it != lru.map.end()) {
    it->second.first = std::move(value);
    Touch(lru, key);
    return;
  }
  lru.order.push_front(key);
  lru.map.emplace(key, std::make_pair(std::move(value), lru.order.begin()));
  while (lru.map.size() > max_entries_) {
    lru.map.erase(lru.order.back());
    lru.order.pop_back();
  }
}

template <typename V>
std::optional<V> FactCache::GetFresh(Lru<V>& lru, const std::string& key,
                                     std::chrono::milliseconds max_age) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = lru.map.find(key);
  if (it == lru.map.end()) return std::nullopt;
  if (std::chrono::steady_clock::now() - it->second.first.checked_at >= max_age) {
    return std::nullopt;
  }
  Touch(lru, key);
  return it->second.first;
}

std::optional<FactCache::NoSniFact> FactCache::GetNoSni(const std::string& key,
                                                        std::chrono::milliseconds max_age) {
  return GetFresh(no_sni_, key, max_age);
}

std::optional<FactCache::VersionsFact> FactCache::GetVersions(const std::string& key,
                                                              std::chrono::milliseconds max_age) {
  return GetFresh(versions_, key, max_age);
}

void FactCache::PutVersions(const std::string& key, VersionsFact fact) {
  std::lock_guard<std::mutex> lock(mu_);
  Insert(versions_, key, std::move(fact));
}

std::optional<FactCache::KeyTypeFact> FactCache::GetKeyType(const std::string& key,
                                                            std::chrono::milliseconds max_age) {
  return GetFresh(key_types_, key, max_age);
}

void FactCache::PutKeyType(const std::string& key, KeyTypeFact fact) {
  std::lock_guard<std::mutex> lock(mu_);
  Insert(key_types_, key, std::move(fact));
}

std::optional<FactCache::ReverseDnsFact> FactCache::GetReverseDns(
    const std::string& address, std::chrono::milliseconds max_age) {
  return GetFresh(reverse_dns_, address, max_age);
}

void FactCache::PutReverseDns(const std::string& address, ReverseDnsFact fact) {
  std::lock_guard<std::mutex> lock(mu_);
  Insert(reverse_dns_, address, std::move(fact));
}

void FactCache::PutNoSni(const std::string& key, NoSniFact fact) {
  std::lock_guard<std::mutex> lock(mu_);
  Insert(no_sni_, key, std::move(fact));
}

std::optional<FactCache::PolicyFetchFact> FactCache::GetPolicyFetch(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = policy_fetches_.map.find(key);
  if (it == policy_fetches_.map.end()) return std::nullopt;
  Touch(policy_fetches_, key);
  return it->second.first;
}

void FactCache::PutPolicyFetch(const std::string& key, PolicyFetchFact fact) {
  std::lock_guard<std::mutex> lock(mu_);
  Insert(policy_fetches_, key, std::move(fact));
}

bool FactCache::PolicyChangedWithoutNewId(const std::string& domain, const std::string& id,
                                          const std::string& fingerprint) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = policies_.map.find(domain);
  if (it == policies_.map.end() || it->second.first.first != id) {
    // First sight of this id: remember what it stands for.
    Insert(policies_, domain, std::make_pair(id, fingerprint));
    return false;
  }
  Touch(policies_, domain);
  return it->second.first.second != fingerprint;
}

size_t FactCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return no_sni_.map.size() + versions_.map.size() + key_types_.map.size() +
         policies_.map.size() + policy_fetches_.map.size() + reverse_dns_.map.size();
}

}  // namespace mxtls
