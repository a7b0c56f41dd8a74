// Facts the engine remembers between probes: the slow-changing sessions of each endpoint (the
// no-SNI session, the TLS version sessions and the key-type sessions), so that a scrape
// normally opens only one SMTP session per endpoint, the last MTA-STS policy fetch of each
// domain (refetched every few minutes rather than at every scrape), and the first
// MTA-STS policy seen under each policy id (a policy that changes while its id does not is
// never re-fetched by senders that cached the old one).
#pragma once

#include <chrono>
#include <cstddef>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "probes/https_fetch.h"
#include "probes/judgement/domain_report.h"

namespace mxtls {

// Thread-safe. Bounded: the least recently used entries go first.
class FactCache {
 public:
  explicit FactCache(size_t max_entries = 100000) : max_entries_(max_entries) {}

  struct NoSniFact {
    std::chrono::steady_clock::time_point checked_at;
    EndpointReport session;  // the no-SNI session, certificate chain included
  };

  // The remembered no-SNI session for `key` if it is younger than `max_age`.
  std::optional<NoSniFact> GetNoSni(const std::string& key, std::chrono::milliseconds max_age);
  void PutNoSni(const std::string& key, NoSniFact fact);

  // The TLS versions an endpoint accepts (ProbeTlsVersions: 1.0 to 1.2; 1.3 is the main
  // session's and is judged at every probe).
  struct VersionsFact {
    std::chrono::steady_clock::time_point checked_at;
    TlsVersionsReport versions;
  };
  std::optional<VersionsFact> GetVersions(const std::string& key,
                                          std::chrono::milliseconds max_age);
  void PutVersions(const std::string& key, VersionsFact fact);

  // A session offering only RSA or only ECDSA signature algorithms, with the chain it saw.
  struct KeyTypeFact {
    std::chrono::steady_clock::time_point checked_at;
    KeyTypeSession session;
    std::shared_ptr<const std::vector<X509Ptr>> chain;  // null when no certificate was seen
  };
  // `key` names the endpoint and the key type.
  std::optional<KeyTypeFact> GetKeyType(const std::string& key, std::chrono::milliseconds max_age);
  void PutKeyType(const std::string& key, KeyTypeFact fact);

  // The PTR names of an address and what each resolves back to (forward confirmation). PTR
  // records change rarely and every domain on a shared mail host asks for the same address, so
  // one lookup serves every probe for a while; the judgement (which also depends on the MX
  // name) is made again at every probe. Failed lookups (timeouts, SERVFAIL) are not kept.
  struct ReverseDnsFact {
    std::chrono::steady_clock::time_point checked_at;
    std::vector<std::string> ptr_names;
    std::map<std::string, std::vector<std::string>> forward;  // name -> addresses
    std::string error;  // "" or an answer without names: "nxdomain", "nodata"
  };
  std::optional<ReverseDnsFact> GetReverseDns(const std::string& address,
                                              std::chrono::milliseconds max_age);
  void PutReverseDns(const std::string& address, ReverseDnsFact fact);

  // The last MTA-STS policy fetch for a domain: what the HTTPS fetch saw (the presented chain
  // included, so that it can be judged again with a later clock), under which TXT id, and what
  // the id check said then. The caller decides whether it is still fresh.
  struct PolicyFetchFact {
    WallTime fetched_at;     // by the probe's clock
    std::string txt_id;      // the TXT record's id when it was fetched (as published)
    std::string host_address;
    double fetch_seconds = 0;
    HttpsFetchResult fetched;
    bool id_not_bumped = false;
  };
  std::optional<PolicyFetchFact> GetPolicyFetch(const std::string& key);
  void PutPolicyFetch(const std::string& key, PolicyFetchFact fact);

  // Records that `domain` published a policy with `id` whose content has `fingerprint`.
  // Returns true when a different content was seen first under the same id: the policy
  // changed without its id being bumped.
  bool PolicyChangedWithoutNewId(const std::string& domain, const std::string& id,
                                 const std::string& fingerprint);

  size_t size() const;

 private:
  template <typename V>
  struct Lru {
    std::list<std::string> order;  // most recent first
    std::unordered_map<std::string, std::pair<V, std::list<std::string>::iterator>> map;
  };
  template <typename V>
  void Touch(Lru<V>& lru, const std::string& key);
  template <typename V>
  void Insert(Lru<V>& lru, const std::string& key, V value);
  // The entry for `key` if it was checked less than `max_age` ago (V has `checked_at`).
  template <typename V>
  std::optional<V> GetFresh(Lru<V>& lru, const std::string& key, std::chrono::milliseconds max_age);

  const size_t max_entries_;
  mutable std::mutex mu_;
  Lru<NoSniFact> no_sni_;
  Lru<VersionsFact> versions_;
  Lru<KeyTypeFact> key_types_;
  // domain -> (id, fingerprint of the first content seen with that id)
  Lru<std::pair<std::string, std::string>> policies_;
  Lru<PolicyFetchFact> policy_fetches_;
  Lru<ReverseDnsFact> reverse_dns_;
};

}  // namespace mxtls
