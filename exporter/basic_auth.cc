#include "exporter/basic_auth.h"

#include <crypt.h>
#include <strings.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <memory>

namespace mxtls {
namespace {

// A valid bcrypt hash of a random password nobody knows: unknown users are checked against
// it so that they cost the same bcrypt run as known ones.
constexpr const char* kDummyHash = "$2b$10$OXiSM4UZQ2Rikb6q/bIshO9kIgEOf80O8iHCey4LPxG228EnU1mj.";

bool DecodeBase64(const std::string& in, std::string* out) {
  if (in.empty() || in.size() % 4 != 0 || in.size() > 4096) return false;
  std::string buf(in.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(buf.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  if (n < 0) return false;
  size_t pad = 0;
  if (in.back() == '=') ++pad;
  if (in.size() >= 2 && in[in.size() - 2] == '=') ++pad;
  buf.resize(static_cast<size_t>(n) - pad);
  *out = std::move(buf);
  return true;
}

}  // namespace

BasicAuth::BasicAuth(std::map<std::string, std::string> users)
    : BasicAuth(std::move(users), Options{}) {}

BasicAuth::BasicAuth(std::map<std::string, std::string> users, Options options)
    : users_(std::move(users)),
      options_(options),
      tokens_(options.bcrypt_burst),
      refilled_(std::chrono::steady_clock::now()) {
  RAND_bytes(hmac_key_, sizeof(hmac_key_));
}

bool BasicAuth::VerifyBcrypt(const std::string& password, const std::string& hash) {
  // crypt_data is 32 KiB: on the heap, not on a handler thread's stack.
  auto data = std::make_unique<crypt_data>();
  const char* out = crypt_r(password.c_str(), hash.c_str(), data.get());
  // libxcrypt returns a string starting with '*' on failure, never the hash.
  if (out == nullptr || out[0] == '*') return false;
  std::string computed(out);
  return computed.size() == hash.size() &&
         CRYPTO_memcmp(computed.data(), hash.data(), hash.size()) == 0;
}

std::string BasicAuth::CacheKey(const std::string& user, const std::string& password) const {
  // Length-prefixed so that ("a:b", "c") and ("a", "b:c") differ.
  std::string msg = std::to_string(user.size()) + ":" + user + password;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), hmac_key_, sizeof(hmac_key_), reinterpret_cast<const unsigned char*>(msg.data()),
       msg.size(), mac, &len);
  OPENSSL_cleanse(msg.data(), msg.size());
  return std::string(reinterpret_cast<const char*>(mac), len);
}

bool BasicAuth::TakeToken() {
  auto now = std::chrono::steady_clock::now();
  double elapsed = std::chrono::duration<double>(now - refilled_).count();
  refilled_ = now;
  tokens_ = std::min(options_.bcrypt_burst, tokens_ + elapsed * options_.bcrypt_runs_per_second);
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  ++bcrypt_runs_;
  return true;
}

uint64_t BasicAuth::bcrypt_runs() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bcrypt_runs_;
}

BasicAuth::Verdict BasicAuth::Check(const std::string& header) {
  if (open()) return Verdict::kAllowed;
  if (header.empty()) return Verdict::kMissing;
  // The scheme is case-insensitive (RFC 7617).
  if (header.size() < 6 || strncasecmp(header.c_str(), "Basic ", 6) != 0) return Verdict::kDenied;
  size_t start = header.find_first_not_of(' ', 6);
  if (start == std::string::npos) return Verdict::kDenied;
  std::string decoded;
  if (!DecodeBase64(header.substr(start), &decoded)) return Verdict::kDenied;
  size_t colon = decoded.find(':');
  if (colon == std::string::npos) return Verdict::kDenied;
  std::string user = decoded.substr(0, colon);
  std::string password = decoded.substr(colon + 1);
  OPENSSL_cleanse(decoded.data(), decoded.size());

  std::string key = CacheKey(user, password);
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) return it->second ? Verdict::kAllowed : Verdict::kDenied;
    if (!TakeToken()) return Verdict::kRateLimited;
  }
  auto u = users_.find(user);
  bool ok = VerifyBcrypt(password, u != users_.end() ? u->second : kDummyHash) &&
            u != users_.end();
  OPENSSL_cleanse(password.data(), password.size());
  std::lock_guard<std::mutex> lock(mu_);
  // Bounded: when full, start over rather than track recency; the right credentials of the
  // few real scrapers are back in the cache after one bcrypt run each.
  if (cache_.size() >= options_.max_cache_entries) cache_.clear();
  cache_[key] = ok;
  return ok ? Verdict::kAllowed : Verdict::kDenied;
}

}  // namespace mxtls
