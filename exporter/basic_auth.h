// HTTP basic authentication against exporter-toolkit's `basic_auth_users` (bcrypt hashes).
//
// bcrypt is slow on purpose (about 70 ms at cost 10), far too slow for every scrape of a
// busy exporter, so verdicts are cached: the key is an HMAC-SHA256, under a random key made
// per process, of user and password, so neither is kept in memory and a cache dump cannot be
// used to guess them. Right AND wrong verdicts are cached (a client retrying a stale password
// costs one bcrypt), and the bcrypt runs that miss the cache are rate-limited by a token
// bucket: once it is empty an unknown credential gets 401 without a bcrypt run, so a
// password-guessing client cannot burn the CPU. Comparison with the stored hash is in
// constant time; an unknown user is checked against a dummy hash so that timing does not
// tell which users exist.
//
// Thread-safe. One BasicAuth per loaded web config: a reload with other users starts a fresh
// cache, so a removed user or a changed hash takes effect at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>

namespace mxtls {

class BasicAuth {
 public:
  enum class Verdict { kAllowed, kMissing, kDenied, kRateLimited };

  struct Options {
    size_t max_cache_entries = 4096;
    double bcrypt_runs_per_second = 10;  // uncached verifications, refilled continuously
    double bcrypt_burst = 20;
  };

  explicit BasicAuth(std::map<std::string, std::string> users_to_bcrypt_hash);
  BasicAuth(std::map<std::string, std::string> users_to_bcrypt_hash, Options options);

  // True when no users are configured: every request is allowed.
  bool open() const { return users_.empty(); }

  // Checks the value of an Authorization header ("Basic <base64(user:password)>"); an empty
  // value is kMissing.
  Verdict Check(const std::string& authorization_header);

  // The bcrypt check itself, without cache or rate limit (exposed for tests and benchmarks).
  static bool VerifyBcrypt(const std::string& password, const std::string& hash);

  uint64_t bcrypt_runs() const;

 private:
  std::string CacheKey(const std::string& user, const std::string& password) const;
  bool TakeToken();

  std::map<std::string, std::string> users_;
  Options options_;
  unsigned char hmac_key_[32];

  mutable std::mutex mu_;
  std::unordered_map<std::string, bool> cache_;  // guarded by mu_
  double tokens_;                                 // guarded by mu_
  std::chrono::steady_clock::time_point refilled_;  // guarded by mu_
  uint64_t bcrypt_runs_ = 0;                       // guarded by mu_
};

}  // namespace mxtls
