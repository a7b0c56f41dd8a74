#include "probes/judgement/chain_judgement_cache.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <initializer_list>
#include <string>
#include <thread>
#include <vector>

#include "probes/judgement/certificate_report.h"
#include "tests/support/cert_factory.h"

namespace mxtls {
namespace {

using testing::Chain;
using testing::TestCert;
using testing::TestPki;

constexpr std::chrono::hours kDay(24);

// A fixed "now" on a whole second, so that interval arithmetic in the tests is exact.
WallTime Base() {
  return FromUnixSeconds(ToUnixSeconds(std::chrono::system_clock::now()));
}

// Hits and misses of every cache, counted from construction.
struct CounterDelta {
  uint64_t hits0 = ChainJudgementCache::TotalHits();
  uint64_t misses0 = ChainJudgementCache::TotalMisses();
  uint64_t hits() const { return ChainJudgementCache::TotalHits() - hits0; }
  uint64_t misses() const { return ChainJudgementCache::TotalMisses() - misses0; }
};

void RequireSameReport(const CertificateReport& a, const CertificateReport& b) {
  REQUIRE(a.presented.size() == b.presented.size());
  for (size_t i = 0; i < a.presented.size(); ++i) {
    CHECK(a.presented[i].fingerprint_sha256 == b.presented[i].fingerprint_sha256);
    CHECK(a.presented[i].subject == b.presented[i].subject);
    CHECK(a.presented[i].dns_sans == b.presented[i].dns_sans);
    CHECK(a.presented[i].not_after == b.presented[i].not_after);
  }
  CHECK(a.chain.verified == b.chain.verified);
  CHECK(a.chain.reason == b.chain.reason);
  CHECK(a.chain.all_reasons == b.chain.all_reasons);
  CHECK(a.chain.chain_complete == b.chain.chain_complete);
  CHECK(a.chain.path.size() == b.chain.path.size());
  CHECK(a.chain.earliest_not_after == b.chain.earliest_not_after);
  CHECK(a.name_match == b.name_match);
  CHECK(a.checked_name == b.checked_name);
  CHECK(a.judged_at == b.judged_at);
  CHECK(a.days_to_expiry == Approx(b.days_to_expiry));
}

TEST_CASE("a store's cache gives the same report as judging afresh, and reuses it",
          "[chain_cache]") {
  TestPki pki("cache");
  const WallTime now = Base();
  TestCert leaf = pki.Leaf({"mx.cache.test"}, now + 40 * kDay, now - kDay);
  X509StorePtr plain = pki.TrustStore();
  X509StorePtr cached = pki.TrustStore();
  REQUIRE(ChainJudgementCache::AttachTo(cached.get()));
  REQUIRE(ChainJudgementCache::Of(cached.get()) != nullptr);
  REQUIRE(ChainJudgementCache::Of(plain.get()) == nullptr);

  const auto chain = Chain({&leaf, &pki.intermediate()});
  CounterDelta counters;
  for (const WallTime at : {now, now + std::chrono::minutes(10), now + std::chrono::minutes(59)}) {
    for (const std::string name : {"mx.cache.test", "other.cache.test"}) {
      CAPTURE(name);
      RequireSameReport(JudgeCertificate(chain, cached.get(), name, at),
                        JudgeCertificate(chain, plain.get(), name, at));
    }
  }
  // One verification; the five other judgements (other times, other names) reused it, with
  // the expiry figures and the name match computed for each.
  CHECK(counters.misses() == 1);
  CHECK(counters.hits() == 5);
  CHECK(ChainJudgementCache::Of(cached.get())->size() == 1);
  const CertificateReport later =
      JudgeCertificate(chain, cached.get(), "mx.cache.test", now + std::chrono::minutes(59));
  CHECK(later.days_to_expiry == Approx(40.0 - 59.0 / 1440.0));
  CHECK(later.judged_at == ToUnixSeconds(now + std::chrono::minutes(59)));
}

TEST_CASE("a validity boundary between two judgements makes the second one verify again",
          "[chain_cache]") {
  TestPki pki("cache boundary");
  const WallTime now = Base();
  X509StorePtr store = pki.TrustStore();
  REQUIRE(ChainJudgementCache::AttachTo(store.get()));

  SECTION("the leaf expires") {
    TestCert leaf = pki.Leaf({"mx.cache.test"}, now + std::chrono::minutes(30), now - kDay);
    const auto chain = Chain({&leaf, &pki.intermediate()});
    CounterDelta counters;
    CHECK(JudgeCertificate(chain, store.get(), "mx.cache.test", now).chain.verified);
    // One second before notAfter: still the same verdict, from the cache.
    const WallTime last_valid = now + std::chrono::minutes(30) - std::chrono::seconds(1);
    CHECK(JudgeCertificate(chain, store.get(), "mx.cache.test", last_valid).chain.verified);
    CHECK(counters.hits() == 1);
    // At notAfter OpenSSL calls it expired: judged again, not served from the cache.
    const CertificateReport at_expiry = JudgeCertificate(
        chain, store.get(), "mx.cache.test", now + std::chrono::minutes(30));
    CHECK_FALSE(at_expiry.chain.verified);
    CHECK(at_expiry.chain.reason == "expired");
    CHECK(counters.misses() == 2);
    // The expired verdict is reused in its own interval.
    CHECK(JudgeCertificate(chain, store.get(), "mx.cache.test", now + std::chrono::minutes(40))
              .chain.reason == "expired");
    CHECK(counters.hits() == 2);
  }
  SECTION("the leaf becomes valid") {
    TestCert leaf = pki.Leaf({"mx.cache.test"}, now + 90 * kDay, now + std::chrono::minutes(5));
    const auto chain = Chain({&leaf, &pki.intermediate()});
    CHECK(JudgeCertificate(chain, store.get(), "mx.cache.test", now).chain.reason ==
          "not_yet_valid");
    CHECK(JudgeCertificate(chain, store.get(), "mx.cache.test", now + std::chrono::minutes(6))
              .chain.verified);
  }
  SECTION("the clock goes back before the judged interval") {
    TestCert leaf = pki.Leaf({"mx.cache.test"}, now + 90 * kDay, now - std::chrono::minutes(5));
    const auto chain = Chain({&leaf, &pki.intermediate()});
    CHECK(JudgeCertificate(chain, store.get(), "mx.cache.test", now).chain.verified);
    CHECK(JudgeCertificate(chain, store.get(), "mx.cache.test", now - std::chrono::minutes(6))
              .chain.reason == "not_yet_valid");
  }
}

TEST_CASE("a cached verdict is verified again after an hour", "[chain_cache]") {
  TestPki pki("cache age");
  const WallTime now = Base();
  TestCert leaf = pki.Leaf({"mx.cache.test"}, now + 90 * kDay, now - kDay);
  X509StorePtr store = pki.TrustStore();
  REQUIRE(ChainJudgementCache::AttachTo(store.get()));
  const auto chain = Chain({&leaf, &pki.intermediate()});
  CounterDelta counters;
  JudgeCertificate(chain, store.get(), "mx.cache.test", now);
  JudgeCertificate(chain, store.get(), "mx.cache.test", now + std::chrono::minutes(59));
  CHECK(counters.misses() == 1);
  JudgeCertificate(chain, store.get(), "mx.cache.test", now + std::chrono::minutes(61));
  CHECK(counters.misses() == 2);
  // The new judgement starts a new hour.
  JudgeCertificate(chain, store.get(), "mx.cache.test", now + std::chrono::minutes(100));
  CHECK(counters.misses() == 2);
}

TEST_CASE("the key is the presented chain and the cache belongs to one store", "[chain_cache]") {
  TestPki pki("cache key");
  TestPki other("cache other");
  const WallTime now = Base();
  TestCert leaf = pki.Leaf({"mx.cache.test"}, now + 90 * kDay, now - kDay);
  X509StorePtr store = pki.TrustStore();
  X509StorePtr other_store = other.TrustStore();
  REQUIRE(ChainJudgementCache::AttachTo(store.get()));
  REQUIRE(ChainJudgementCache::AttachTo(other_store.get()));

  const auto full = Chain({&leaf, &pki.intermediate()});
  const auto leaf_only = Chain({&leaf});
  const auto with_root_chain = Chain({&leaf, &pki.intermediate(), &pki.root()});
  CHECK(JudgeCertificate(full, store.get(), "mx.cache.test", now).chain.verified);
  // The same leaf without its intermediate is another chain: judged, not reused.
  const CertificateReport missing = JudgeCertificate(leaf_only, store.get(), "mx.cache.test", now);
  CHECK_FALSE(missing.chain.verified);
  CHECK(missing.chain.reason == "incomplete_chain");
  const CertificateReport with_root = JudgeCertificate(with_root_chain, store.get(), "mx.cache.test", now);
  CHECK(with_root.chain.verified);
  CHECK(with_root.chain.root_included);
  CHECK(ChainJudgementCache::Of(store.get())->size() == 3);
  // The same chain against a store that does not trust its root: that store's own verdict.
  const CertificateReport untrusted =
      JudgeCertificate(full, other_store.get(), "mx.cache.test", now);
  CHECK_FALSE(untrusted.chain.verified);
  CHECK(untrusted.chain.reason == "untrusted");
  CHECK(JudgeCertificate(full, store.get(), "mx.cache.test", now).chain.verified);
}

TEST_CASE("a full cache drops the least recently used chain", "[chain_cache]") {
  TestPki pki("cache lru");
  const WallTime now = Base();
  X509StorePtr store = pki.TrustStore();
  ChainJudgementCache cache(2);
  std::vector<TestCert> leaves;
  for (int i = 0; i < 3; ++i) leaves.push_back(pki.Leaf({"mx" + std::to_string(i) + ".test"}));
  auto chain = [&](int i) { return Chain({&leaves[i], &pki.intermediate()}); };
  CounterDelta counters;
  cache.Judge(chain(0), store.get(), now);
  cache.Judge(chain(1), store.get(), now);
  cache.Judge(chain(0), store.get(), now);  // 0 is now the most recent
  cache.Judge(chain(2), store.get(), now);  // evicts 1
  CHECK(cache.size() == 2);
  CHECK(counters.misses() == 3);
  cache.Judge(chain(0), store.get(), now);
  CHECK(counters.misses() == 3);
  cache.Judge(chain(1), store.get(), now);
  CHECK(counters.misses() == 4);
}

TEST_CASE("the stable interval lies between the nearest validity boundaries", "[chain_cache]") {
  CertFacts a, b;
  a.not_before = 100;
  a.not_after = 1000;
  b.not_before = 50;
  b.not_after = 500;
  using P = std::pair<long long, long long>;
  CHECK(ChainJudgementCache::StableInterval({a}, {b}, 200) == P{100, 500});
  CHECK(ChainJudgementCache::StableInterval({a}, {b}, 100) == P{100, 500});  // from: inclusive
  CHECK(ChainJudgementCache::StableInterval({a}, {b}, 499) == P{100, 500});
  CHECK(ChainJudgementCache::StableInterval({a}, {b}, 500) == P{500, 1000});
  CHECK(ChainJudgementCache::StableInterval({a}, {}, 10).second == 100);
  CHECK(ChainJudgementCache::StableInterval({a}, {}, 5000).first == 1000);
}

TEST_CASE("concurrent judgements of one chain share the cache safely", "[chain_cache]") {
  TestPki pki("cache threads");
  const WallTime now = Base();
  TestCert leaf = pki.Leaf({"mx.cache.test"}, now + 90 * kDay, now - kDay);
  X509StorePtr store = pki.TrustStore();
  REQUIRE(ChainJudgementCache::AttachTo(store.get()));
  const auto chain = Chain({&leaf, &pki.intermediate()});
  std::vector<std::thread> threads;
  std::atomic<int> verified{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        if (JudgeCertificate(chain, store.get(), "mx.cache.test", now).chain.verified) ++verified;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(verified == 200);
  CHECK(ChainJudgementCache::Of(store.get())->size() == 1);
}

}  // namespace
}  // namespace mxtls
