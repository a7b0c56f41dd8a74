#include "probes/chain_interner.h"

#include <catch2/catch.hpp>
#include <vector>

#include "tests/support/cert_factory.h"

namespace mxtls {
namespace {

using testing::TestCert;
using testing::TestPki;

// A new parse of the same certificates, as another session would hold them.
std::vector<X509Ptr> Parsed(std::initializer_list<const TestCert*> certs) {
  std::vector<X509Ptr> out;
  for (const TestCert* c : certs) {
    unsigned char* der = nullptr;
    const int len = i2d_X509(c->get(), &der);
    REQUIRE(len > 0);
    const unsigned char* p = der;
    out.emplace_back(d2i_X509(nullptr, &p, len));
    OPENSSL_free(der);
    REQUIRE(out.back());
  }
  return out;
}

TEST_CASE("identical chains are held once while someone holds them", "[chain_interner]") {
  TestPki pki("interner");
  TestCert a = pki.Leaf({"a.interner.test"});
  TestCert b = pki.Leaf({"b.interner.test"});
  ChainInterner interner;

  ChainInterner::Chain first = interner.Intern(Parsed({&a, &pki.intermediate()}));
  ChainInterner::Chain again = interner.Intern(Parsed({&a, &pki.intermediate()}));
  CHECK(again == first);  // the same objects, not a second parse
  CHECK(again->front().get() == first->front().get());
  // Another leaf, or the same certificates in another order or number, is another chain.
  CHECK(interner.Intern(Parsed({&b, &pki.intermediate()})) != first);
  CHECK(interner.Intern(Parsed({&pki.intermediate(), &a})) != first);
  CHECK(interner.Intern(Parsed({&a})) != first);

  // Once nobody holds it, a new parse is kept instead.
  const X509* old_leaf = first->front().get();
  first.reset();
  again.reset();
  ChainInterner::Chain later = interner.Intern(Parsed({&a, &pki.intermediate()}));
  REQUIRE(later != nullptr);
  CHECK(later->size() == 2);
  CHECK(interner.Intern(Parsed({&a, &pki.intermediate()})) == later);
  (void)old_leaf;
}

TEST_CASE("an empty chain is handed back as it is", "[chain_interner]") {
  ChainInterner interner;
  ChainInterner::Chain empty = interner.Intern({});
  REQUIRE(empty != nullptr);
  CHECK(empty->empty());
}

TEST_CASE("expired entries are swept, so the table follows the chains alive",
          "[chain_interner]") {
  TestPki pki("interner sweep");
  ChainInterner interner;
  std::vector<ChainInterner::Chain> alive;
  for (int i = 0; i < 1500; ++i) {
    TestCert leaf = pki.Leaf({"h" + std::to_string(i) + ".sweep.test"});
    ChainInterner::Chain c = interner.Intern(Parsed({&leaf}));
    if (i % 100 == 0) alive.push_back(c);
  }
  // Swept once, after 1024 new chains: what remains is the 11 held then plus what came after.
  CHECK(interner.size() < 1500 - 1000);
  for (const auto& c : alive) CHECK(c->size() == 1);
}

}  // namespace
}  // namespace mxtls
