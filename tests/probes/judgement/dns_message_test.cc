#include "probes/judgement/dns_message.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace mxtls {
namespace {

// Hand-built wire messages: every byte is visible in the test, malformed ones included.
using Bytes = std::vector<uint8_t>;

Bytes operator+(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

Bytes U16(int v) { return {static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)}; }
Bytes U32(uint32_t v) { return U16(static_cast<int>(v >> 16)) + U16(static_cast<int>(v & 0xFFFF)); }

// Uncompressed name; "" is the root.
Bytes Name(const std::string& dotted) {
  Bytes out;
  size_t start = 0;
  while (start < dotted.size()) {
    size_t dot = dotted.find('.', start);
    if (dot == std::string::npos) dot = dotted.size();
    out.push_back(static_cast<uint8_t>(dot - start));
    out.insert(out.end(), dotted.begin() + static_cast<long>(start),
               dotted.begin() + static_cast<long>(dot));
    start = dot + 1;
  }
  out.push_back(0);
  return out;
}

// Labels without the terminating root label, to be followed by a pointer.
Bytes Labels(const std::string& dotted) {
  Bytes name = Name(dotted);
  name.pop_back();
  return name;
}

Bytes Ptr(int offset) { return U16(0xC000 | offset); }

// A response header: QR RD RA, `rcode`; `ad` sets the AD bit.
Bytes Header(int qd, int an, int ns = 0, int ar = 0, int rcode = 0, bool ad = false) {
  return U16(0x1234) + Bytes{0x81, static_cast<uint8_t>(0x80 | (ad ? 0x20 : 0) | rcode)} + U16(qd) +
         U16(an) + U16(ns) + U16(ar);
}

Bytes Question(const std::string& name, int type) { return Name(name) + U16(type) + U16(1); }

Bytes Rr(const Bytes& owner, int type, const Bytes& rdata, int klass = 1) {
  return owner + U16(type) + U16(klass) + U32(300) + U16(static_cast<int>(rdata.size())) + rdata;
}

Bytes Mx(int preference, const Bytes& name) { return U16(preference) + name; }

Bytes Txt(const std::vector<std::string>& strings) {
  Bytes out;
  for (const std::string& s : strings) {
    out.push_back(static_cast<uint8_t>(s.size()));
    out.insert(out.end(), s.begin(), s.end());
  }
  return out;
}

RawLookup Raw(const Bytes& message) {
  RawLookup raw;
  raw.rcode = message.size() >= 4 ? message[3] & 0x0F : -1;
  raw.status = StatusForRcode(raw.rcode, "test");
  raw.answer = message;
  return raw;
}

// ---- ParseDnsMessage ----

TEST_CASE("ParseDnsMessage reads header, question and compressed MX answers", "[dns]") {
  // example.com MX: 10 mx1.example.com, 20 MX2.Example.COM (uncompressed, mixed case).
  Bytes wire = Header(1, 2, 0, 0, 0, /*ad=*/true) + Question("example.com", kDnsTypeMx) +
               Rr(Ptr(12), kDnsTypeMx, Mx(10, Labels("mx1") + Ptr(12))) +
               Rr(Ptr(12), kDnsTypeMx, Mx(20, Name("MX2.Example.COM")));
  Result<DnsMessage> m = ParseDnsMessage(wire);
  REQUIRE(m.ok());
  CHECK(m->header.id == 0x1234);
  CHECK(m->header.qr);
  CHECK(m->header.rd);
  CHECK(m->header.ra);
  CHECK(m->header.ad);
  CHECK_FALSE(m->header.tc);
  CHECK(m->header.rcode == 0);
  REQUIRE(m->questions.size() == 1);
  CHECK(m->questions[0].name == "example.com");
  CHECK(m->questions[0].type == kDnsTypeMx);
  REQUIRE(m->answers.size() == 2);
  CHECK(m->answers[0].name == "example.com");
  CHECK(m->answers[0].ttl == 300);
  CHECK(m->answers[0].preference == 10);
  CHECK(m->answers[0].target == "mx1.example.com");
  CHECK(m->answers[1].preference == 20);
  CHECK(m->answers[1].target == "mx2.example.com");
}

TEST_CASE("ParseDnsMessage presents names lower-cased with escapes, root as empty", "[dns]") {
  Bytes odd_label = {3, 'A', '.', 'b', 2, ' ', '\\', 4, 't', 'E', 's', 0xC3, 0};
  Bytes wire =
      Header(1, 1) + odd_label + U16(kDnsTypeCname) + U16(1) + Rr(Ptr(12), kDnsTypeCname, Name(""));
  Result<DnsMessage> m = ParseDnsMessage(wire);
  REQUIRE(m.ok());
  CHECK(m->questions[0].name == "a\\.b.\\032\\\\.tes\\195");
  CHECK(m->answers[0].target.empty());
}

TEST_CASE("ParseDnsMessage ignores bytes after the last section", "[dns]") {
  Bytes wire = Header(1, 0) + Question("example.com", kDnsTypeA) + Bytes{0xde, 0xad};
  CHECK(ParseDnsMessage(wire).ok());
}

struct MalformedCase {
  std::string name;
  Bytes wire;
  std::string message;  // a part of the expected message
};

TEST_CASE("ParseDnsMessage rejects malformed messages", "[dns]") {
  const Bytes q = Question("example.com", kDnsTypeMx);  // at offset 12
  const std::vector<MalformedCase> cases = {
      {"empty", {}, "shorter than a header"},
      {"short header", Bytes(11, 0), "shorter than a header"},
      {"question count without question", Header(1, 0), "name runs past the end"},
      {"name without terminator", Header(1, 0) + Bytes{3, 'a', 'b', 'c'}, "name runs past the end"},
      {"label runs past the end", Header(1, 0) + Bytes{10, 'a', 'b'}, "name runs past the end"},
      // 64 = 0x40: a label length over 63 is always a reserved label type.
      {"label of 64 bytes", Header(1, 0) + Bytes{64} + Bytes(64, 'a') + Bytes{0} + U16(1) + U16(1),
       "reserved label type"},
      {"name of 320 bytes",
       [] {
         Bytes name;
         for (int i = 0; i < 5; ++i) name = name + Bytes{63} + Bytes(63, 'a');
         return Header(1, 0) + name + Bytes{0} + U16(1) + U16(1);
       }(),
       "name longer than 255"},
      {"reserved label type 0x40", Header(1, 0) + Bytes{0x41, 'a', 0} + U16(1) + U16(1),
       "reserved label type"},
      {"reserved label type 0x80", Header(1, 0) + Bytes{0x81, 'a', 0} + U16(1) + U16(1),
       "reserved label type"},
      {"pointer to itself", Header(1, 0) + Ptr(12) + U16(1) + U16(1), "does not point backwards"},
      {"pointer forwards", Header(1, 0) + Ptr(14) + Name("a") + U16(1) + U16(1),
       "does not point backwards"},
      {"backward pointer that loops through its own name",
       Header(1, 0) + Bytes{1, 'x'} + Ptr(12) + U16(1) + U16(1), "does not point backwards"},
      // The owner starts at 29; its pointer aims at the RDATA, 43.
      {"owner name pointing forwards into its RDATA",
       Header(1, 1) + q + Rr(Bytes{1, 'y'} + Ptr(43), kDnsTypeA, Bytes{1, 2, 3, 0}),
       "does not point backwards"},
      {"pointer cut in half", Header(1, 0) + Bytes{0xC0}, "name runs past the end"},
      {"question without type and class", Header(1, 0) + Name("example.com") + Bytes{0},
       "question runs past the end"},
      {"answer count without answer", Header(1, 1) + q, "answer record 0: name runs past the end"},
      {"record header cut short", Header(1, 1) + q + Ptr(12) + U16(1) + U16(1),
       "record header runs past the end"},
      {"RDATA past the end",
       Header(1, 1) + q + Ptr(12) + U16(1) + U16(1) + U32(1) + U16(4) + Bytes{1, 2},
       "RDATA runs past the end"},
      {"MX RDATA of two bytes", Header(1, 1) + q + Rr(Ptr(12), kDnsTypeMx, U16(10)),
       "MX RDATA too short"},
      {"MX name shorter than RDATA",
       Header(1, 1) + q + Rr(Ptr(12), kDnsTypeMx, Mx(10, Name("mx")) + Bytes{0}),
       "MX RDATA length does not match"},
      {"CNAME name longer than RDATA",
       Header(1, 1) + q + Ptr(12) + U16(kDnsTypeCname) + U16(1) + U32(1) + U16(2) + Name("abc"),
       "CNAME RDATA length does not match"},
      {"authority record cut short", Header(1, 0, 1) + q + Ptr(12), "authority record 0"},
      {"additional record cut short", Header(1, 0, 0, 1) + q + Bytes{0} + U16(41),
       "additional record 0"},
      {"65535 answers announced, none present", Header(1, 65535) + q, "answer record 0"},
  };
  for (const MalformedCase& c : cases) {
    SECTION(c.name) {
      Result<DnsMessage> m = ParseDnsMessage(c.wire);
      REQUIRE_FALSE(m.ok());
      CHECK(m.status().reason() == "dns_error");
      CHECK_THAT(m.status().message(), Catch::Contains(c.message));
    }
  }
}

TEST_CASE("ParseDnsMessage survives every truncation of a valid message", "[dns]") {
  Bytes wire =
      Header(1, 3, 1, 1) + Question("example.com", kDnsTypeMx) +
      Rr(Ptr(12), kDnsTypeMx, Mx(10, Labels("mx1") + Ptr(12))) +
      Rr(Ptr(12), kDnsTypeCname, Labels("alias") + Ptr(12)) +
      Rr(Ptr(12), kDnsTypeTxt, Txt({"a", "b"})) +
      Rr(Ptr(12), kDnsTypeSoa, Labels("ns") + Ptr(12) + Labels("h") + Ptr(12) + Bytes(20, 0)) +
      Rr(Name(""), kDnsTypeOpt, {});
  REQUIRE(ParseDnsMessage(wire).ok());
  for (size_t n = 0; n < wire.size(); ++n) {
    Bytes cut(wire.begin(), wire.begin() + static_cast<long>(n));
    INFO("length " << n);
    CHECK_FALSE(ParseDnsMessage(cut).ok());
  }
  // And every single-byte corruption parses or fails, without crashing (ASan checks reads).
  for (size_t i = 0; i < wire.size(); ++i) {
    for (uint8_t v : {uint8_t{0x00}, uint8_t{0x3F}, uint8_t{0xC0}, uint8_t{0xFF}}) {
      Bytes bad = wire;
      bad[i] = v;
      (void)ParseDnsMessage(bad);
    }
  }
}

// ---- FollowAnswerChain ----

TEST_CASE("FollowAnswerChain follows CNAMEs to the records of the asked type", "[dns]") {
  Bytes wire = Header(1, 4) + Question("WWW.example.com", kDnsTypeA) +
               Rr(Ptr(12), kDnsTypeCname, Name("b.example.net")) +
               Rr(Name("b.example.net"), kDnsTypeCname, Name("c.example.org")) +
               Rr(Name("c.example.org"), kDnsTypeA, {192, 0, 2, 1}) +
               Rr(Name("unrelated.example"), kDnsTypeA, {192, 0, 2, 9});
  Result<DnsMessage> m = ParseDnsMessage(wire);
  REQUIRE(m.ok());
  Result<AnswerChain> chain = FollowAnswerChain(*m, "www.Example.com.", kDnsTypeA);
  REQUIRE(chain.ok());
  CHECK(chain->canonical_name == "c.example.org");
  CHECK(chain->aliases == std::vector<std::string>{"www.example.com", "b.example.net"});
  REQUIRE(chain->records.size() == 1);
  CHECK(chain->records[0].rdata == Bytes{192, 0, 2, 1});

  Result<AnswerChain> cname = FollowAnswerChain(*m, "www.example.com", kDnsTypeCname);
  REQUIRE(cname.ok());
  CHECK(cname->aliases.empty());
  CHECK(cname->records.size() == 1);
}

TEST_CASE("FollowAnswerChain: loops, long chains, other classes", "[dns]") {
  SECTION("loop") {
    Bytes wire = Header(1, 2) + Question("a.test", kDnsTypeA) +
                 Rr(Name("a.test"), kDnsTypeCname, Name("b.test")) +
                 Rr(Name("b.test"), kDnsTypeCname, Name("a.test"));
    Result<AnswerChain> chain = FollowAnswerChain(*ParseDnsMessage(wire), "a.test", kDnsTypeA);
    REQUIRE_FALSE(chain.ok());
    CHECK(chain.status().reason() == "dns_error");
    CHECK_THAT(chain.status().message(), Catch::Contains("CNAME loop"));
  }
  SECTION("chain of 17") {
    Bytes answers;
    for (int i = 0; i < 17; ++i) {
      answers = answers + Rr(Name("n" + std::to_string(i) + ".test"), kDnsTypeCname,
                             Name("n" + std::to_string(i + 1) + ".test"));
    }
    Bytes wire = Header(1, 17) + Question("n0.test", kDnsTypeA) + answers;
    Result<AnswerChain> chain = FollowAnswerChain(*ParseDnsMessage(wire), "n0.test", kDnsTypeA);
    REQUIRE_FALSE(chain.ok());
    CHECK_THAT(chain.status().message(), Catch::Contains("longer than 16"));
  }
  SECTION("records of class CH are not answers") {
    Bytes wire = Header(1, 1) + Question("a.test", kDnsTypeA) +
                 Rr(Name("a.test"), kDnsTypeA, {1, 2, 3, 4}, /*klass=*/3);
    Result<AnswerChain> chain = FollowAnswerChain(*ParseDnsMessage(wire), "a.test", kDnsTypeA);
    REQUIRE(chain.ok());
    CHECK(chain->records.empty());
  }
  SECTION("records of the asked type win over a CNAME at the same name") {
    Bytes wire = Header(1, 2) + Question("a.test", kDnsTypeA) +
                 Rr(Name("a.test"), kDnsTypeCname, Name("b.test")) +
                 Rr(Name("a.test"), kDnsTypeA, {1, 2, 3, 4});
    Result<AnswerChain> chain = FollowAnswerChain(*ParseDnsMessage(wire), "a.test", kDnsTypeA);
    REQUIRE(chain.ok());
    CHECK(chain->aliases.empty());
    CHECK(chain->records.size() == 1);
  }
}

// ---- interpreters ----

TEST_CASE("StatusForRcode maps RCODEs to the fixed reason words", "[dns]") {
  struct Case {
    int rcode;
    std::string reason;
  };
  for (const Case& c : std::vector<Case>{{0, ""},
                                         {1, "dns_error"},
                                         {2, "servfail"},
                                         {3, "nxdomain"},
                                         {4, "dns_error"},
                                         {5, "refused"},
                                         {9, "dns_error"}}) {
    INFO("rcode " << c.rcode);
    CHECK(StatusForRcode(c.rcode, "x MX").reason() == c.reason);
  }
  CHECK(StatusForRcode(2, "x MX").message() == "x MX: SERVFAIL");
  CHECK(StatusForRcode(12, "x MX").message() == "x MX: RCODE12");
}

TEST_CASE("NormalizeQueryName", "[dns]") {
  CHECK(NormalizeQueryName("MX.Example.COM.") == "mx.example.com");
  CHECK(NormalizeQueryName("example.com") == "example.com");
  CHECK(NormalizeQueryName(".") == "");
  CHECK(NormalizeQueryName("") == "");
  CHECK(NormalizeQueryName("a\\.") == "a\\.");     // escaped dot stays
  CHECK(NormalizeQueryName("a\\\\.") == "a\\\\");  // escaped backslash, then the root dot
}

struct MxCase {
  std::string name;
  Bytes answers;
  int ancount;
  int rcode = 0;
  std::string reason{};
  bool null_mx = false;
  bool null_mx_mixed = false;
  std::vector<MxRecord> records{};
};

TEST_CASE("InterpretMxAnswer", "[dns]") {
  const Bytes owner = Ptr(12);
  const std::vector<MxCase> cases = {
      {"sorted by preference then host, normalized, deduplicated",
       Rr(owner, kDnsTypeMx, Mx(20, Name("b.example.com."))) +
           Rr(owner, kDnsTypeMx, Mx(10, Name("Z.example.com"))) +
           Rr(owner, kDnsTypeMx, Mx(10, Name("a.example.com"))) +
           Rr(owner, kDnsTypeMx, Mx(10, Name("A.EXAMPLE.COM"))),
       4,
       0,
       "",
       false,
       false,
       {{"a.example.com", 10}, {"z.example.com", 10}, {"b.example.com", 20}}},
      {"null MX", Rr(owner, kDnsTypeMx, Mx(0, Name(""))), 1, 0, "", true},
      {"lone root target with a non-zero preference is a null MX too",
       Rr(owner, kDnsTypeMx, Mx(10, Name(""))), 1, 0, "", true},
      {"root target mixed with real hosts",
       Rr(owner, kDnsTypeMx, Mx(0, Name(""))) +
           Rr(owner, kDnsTypeMx, Mx(10, Name("mx.example.com"))),
       2,
       0,
       "",
       false,
       true,
       {{"mx.example.com", 10}}},
      {"NODATA: only other types", Rr(owner, kDnsTypeA, {192, 0, 2, 1}), 1, 0, "nodata"},
      {"NODATA: empty answer", {}, 0, 0, "nodata"},
      {"NXDOMAIN", {}, 0, 3, "nxdomain"},
      {"SERVFAIL", {}, 0, 2, "servfail"},
      {"REFUSED", {}, 0, 5, "refused"},
      {"NOTIMP", {}, 0, 4, "dns_error"},
      {"MX at the end of a CNAME chain",
       Rr(owner, kDnsTypeCname, Name("other.example.net")) +
           Rr(Name("other.example.net"), kDnsTypeMx, Mx(5, Name("mx.example.net"))),
       2,
       0,
       "",
       false,
       false,
       {{"mx.example.net", 5}}},
      {"MX records of another owner are not answers",
       Rr(Name("elsewhere.example"), kDnsTypeMx, Mx(5, Name("mx.example.net"))), 1, 0, "nodata"},
      {"malformed record", owner + U16(kDnsTypeMx) + U16(1) + U32(1) + U16(1) + Bytes{0}, 1, 0,
       "dns_error"},
  };
  for (const MxCase& c : cases) {
    SECTION(c.name) {
      Bytes wire =
          Header(1, c.ancount, 0, 0, c.rcode) + Question("example.com", kDnsTypeMx) + c.answers;
      MxLookup mx = InterpretMxAnswer("example.com", Raw(wire));
      CHECK(mx.status.reason() == c.reason);
      CHECK(mx.rcode == c.rcode);
      CHECK(mx.null_mx == c.null_mx);
      CHECK(mx.null_mx_mixed == c.null_mx_mixed);
      CHECK(mx.records == c.records);
    }
  }
}

TEST_CASE("Interpreters pass transport failures through", "[dns]") {
  RawLookup raw;
  raw.status = Status::Error("timeout", "x: no answer");
  CHECK(InterpretMxAnswer("x", raw).status.reason() == "timeout");
  CHECK(InterpretAddressAnswer("x", kDnsTypeA, raw).status.reason() == "timeout");
  CHECK(InterpretTxtAnswer("x", raw).status.reason() == "timeout");
  CHECK(InterpretTxtAnswer("x", raw).rcode == -1);
  RawLookup garbage;
  garbage.rcode = 0;
  garbage.answer = {1, 2, 3};
  CHECK(InterpretMxAnswer("x", garbage).status.reason() == "dns_error");
  CHECK(InterpretMxAnswer("x", RawLookup{}).status.reason() == "dns_error");  // ok, no bytes
}

TEST_CASE("InterpretAddressAnswer", "[dns]") {
  SECTION("A records deduplicated in answer order") {
    Bytes wire = Header(1, 3) + Question("mx.example.com", kDnsTypeA) +
                 Rr(Ptr(12), kDnsTypeA, {192, 0, 2, 7}) + Rr(Ptr(12), kDnsTypeA, {192, 0, 2, 1}) +
                 Rr(Ptr(12), kDnsTypeA, {192, 0, 2, 7});
    AddressLookup a = InterpretAddressAnswer("mx.example.com", kDnsTypeA, Raw(wire));
    CHECK(a.status.ok());
    CHECK(a.addresses == std::vector<std::string>{"192.0.2.7", "192.0.2.1"});
    CHECK(a.canonical_name == "mx.example.com");
    CHECK(a.cname_chain.empty());
    CHECK_FALSE(a.is_cname);
  }
  SECTION("AAAA in RFC 5952 text") {
    Bytes v6 = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x25};
    Bytes wire =
        Header(1, 1) + Question("mx.example.com", kDnsTypeAaaa) + Rr(Ptr(12), kDnsTypeAaaa, v6);
    AddressLookup a = InterpretAddressAnswer("mx.example.com", kDnsTypeAaaa, Raw(wire));
    CHECK(a.addresses == std::vector<std::string>{"2001:db8::25"});
  }
  SECTION("CNAME: canonical name, chain and the target's addresses") {
    Bytes wire = Header(1, 3) + Question("mail.example.com", kDnsTypeA) +
                 Rr(Ptr(12), kDnsTypeCname, Name("mx1.hoster.net")) +
                 Rr(Name("mx1.hoster.net"), kDnsTypeCname, Name("pool.hoster.net")) +
                 Rr(Name("pool.hoster.net"), kDnsTypeA, {198, 51, 100, 4});
    AddressLookup a = InterpretAddressAnswer("mail.example.com", kDnsTypeA, Raw(wire));
    CHECK(a.status.ok());
    CHECK(a.is_cname);
    CHECK(a.canonical_name == "pool.hoster.net");
    CHECK(a.cname_chain == std::vector<std::string>{"mail.example.com", "mx1.hoster.net"});
    CHECK(a.addresses == std::vector<std::string>{"198.51.100.4"});
  }
  SECTION("NXDOMAIN behind a CNAME still reports the alias") {
    Bytes wire = Header(1, 1, 0, 0, 3) + Question("mail.example.com", kDnsTypeA) +
                 Rr(Ptr(12), kDnsTypeCname, Name("gone.hoster.net"));
    AddressLookup a = InterpretAddressAnswer("mail.example.com", kDnsTypeA, Raw(wire));
    CHECK(a.status.reason() == "nxdomain");
    CHECK(a.is_cname);
    CHECK(a.canonical_name == "gone.hoster.net");
  }
  SECTION("NODATA at the canonical name") {
    Bytes wire = Header(1, 1) + Question("mail.example.com", kDnsTypeAaaa) +
                 Rr(Ptr(12), kDnsTypeCname, Name("v4only.hoster.net"));
    AddressLookup a = InterpretAddressAnswer("mail.example.com", kDnsTypeAaaa, Raw(wire));
    CHECK(a.status.reason() == "nodata");
    CHECK_THAT(a.status.message(), Catch::Contains("v4only.hoster.net"));
    CHECK(a.is_cname);
  }
  SECTION("A record with 5 bytes of RDATA") {
    Bytes wire = Header(1, 1) + Question("mx.example.com", kDnsTypeA) +
                 Rr(Ptr(12), kDnsTypeA, {1, 2, 3, 4, 5});
    AddressLookup a = InterpretAddressAnswer("mx.example.com", kDnsTypeA, Raw(wire));
    CHECK(a.status.reason() == "dns_error");
    CHECK(a.addresses.empty());
  }
}

TEST_CASE("InterpretTxtAnswer", "[dns]") {
  SECTION("multi-string records rejoined, records in answer order") {
    Bytes wire = Header(1, 3) + Question("_mta-sts.example.com", kDnsTypeTxt) +
                 Rr(Ptr(12), kDnsTypeTxt, Txt({"v=STSv1; ", "id=2024", "0101"})) +
                 Rr(Ptr(12), kDnsTypeTxt, Txt({"other"})) + Rr(Ptr(12), kDnsTypeTxt, Txt({""}));
    TxtLookup t = InterpretTxtAnswer("_mta-sts.example.com", Raw(wire));
    CHECK(t.status.ok());
    CHECK(t.records == std::vector<std::string>{"v=STSv1; id=20240101", "other", ""});
  }
  SECTION("a string of 255 bytes") {
    std::string long_string(255, 'x');
    Bytes wire = Header(1, 1) + Question("t.example.com", kDnsTypeTxt) +
                 Rr(Ptr(12), kDnsTypeTxt, Txt({long_string, "y"}));
    TxtLookup t = InterpretTxtAnswer("t.example.com", Raw(wire));
    CHECK(t.records == std::vector<std::string>{long_string + "y"});
  }
  SECTION("a character-string running past RDATA") {
    Bytes wire = Header(1, 1) + Question("t.example.com", kDnsTypeTxt) +
                 Rr(Ptr(12), kDnsTypeTxt, Bytes{5, 'a', 'b'});
    TxtLookup t = InterpretTxtAnswer("t.example.com", Raw(wire));
    CHECK(t.status.reason() == "dns_error");
    CHECK(t.records.empty());
  }
  SECTION("NODATA") {
    Bytes wire = Header(1, 0) + Question("t.example.com", kDnsTypeTxt);
    CHECK(InterpretTxtAnswer("t.example.com", Raw(wire)).status.reason() == "nodata");
  }
}

TEST_CASE("InterpretTlsaAnswer", "[dns][tlsa]") {
  const std::string name = "_25._tcp.mx.example.com";
  Bytes digest(32, 0xab);
  Bytes rr1 = Bytes{3, 1, 1} + digest;
  Bytes rr2 = Bytes{2, 0, 2} + Bytes(64, 0xcd);
  SECTION("records as raw RDATA in answer order, AD passed on") {
    Bytes wire = Header(1, 2, 0, 0, 0, /*ad=*/true) + Question(name, kDnsTypeTlsa) +
                 Rr(Ptr(12), kDnsTypeTlsa, rr1) + Rr(Ptr(12), kDnsTypeTlsa, rr2);
    RawLookup raw = Raw(wire);
    raw.authentic_data = true;
    TlsaLookup t = InterpretTlsaAnswer(name, raw);
    CHECK(t.status.ok());
    CHECK(t.rcode == 0);
    CHECK(t.authentic_data);
    CHECK(t.rdata == std::vector<Bytes>{rr1, rr2});
    CHECK(t.canonical_name == name);
    CHECK_FALSE(t.is_cname);
  }
  SECTION("records behind a CNAME are those of the target") {
    Bytes wire = Header(1, 3) + Question(name, kDnsTypeTlsa) +
                 Rr(Ptr(12), kDnsTypeCname, Name("_25._tcp.pool.hoster.net")) +
                 Rr(Name("_25._tcp.pool.hoster.net"), kDnsTypeTlsa, rr1) +
                 Rr(Name("_25._tcp.elsewhere.net"), kDnsTypeTlsa, rr2);  // not on the chain
    TlsaLookup t = InterpretTlsaAnswer(name, Raw(wire));
    CHECK(t.status.ok());
    CHECK(t.is_cname);
    CHECK(t.canonical_name == "_25._tcp.pool.hoster.net");
    CHECK(t.cname_chain == std::vector<std::string>{name});
    CHECK(t.rdata == std::vector<Bytes>{rr1});
  }
  SECTION("RDATA under 3 bytes is handed out as it is") {
    Bytes wire = Header(1, 2) + Question(name, kDnsTypeTlsa) + Rr(Ptr(12), kDnsTypeTlsa, {3, 1}) +
                 Rr(Ptr(12), kDnsTypeTlsa, {});
    TlsaLookup t = InterpretTlsaAnswer(name, Raw(wire));
    CHECK(t.status.ok());
    CHECK(t.rdata == std::vector<Bytes>{{3, 1}, {}});
  }
  SECTION("RDATA running past the message is rejected") {
    Bytes wire = Header(1, 1) + Question(name, kDnsTypeTlsa) + Ptr(12) + U16(kDnsTypeTlsa) +
                 U16(1) + U32(300) + U16(35) + Bytes{3, 1, 1} + Bytes(10, 0xab);
    TlsaLookup t = InterpretTlsaAnswer(name, Raw(wire));
    CHECK(t.status.reason() == "dns_error");
    CHECK_THAT(t.status.message(), Catch::Contains("RDATA runs past the end"));
    CHECK(t.rdata.empty());
  }
  SECTION("every truncation of a TLSA answer is rejected, never read in part") {
    Bytes wire = Header(1, 2) + Question(name, kDnsTypeTlsa) + Rr(Ptr(12), kDnsTypeTlsa, rr1) +
                 Rr(Ptr(12), kDnsTypeTlsa, rr2);
    for (size_t n = 0; n < wire.size(); ++n) {
      TlsaLookup t = InterpretTlsaAnswer(name, Raw(Bytes(wire.begin(), wire.begin() + n)));
      INFO("length " << n);
      CHECK_FALSE(t.status.ok());
      CHECK(t.rdata.empty());
    }
  }
  SECTION("NODATA and NXDOMAIN") {
    Bytes nodata = Header(1, 0) + Question(name, kDnsTypeTlsa);
    CHECK(InterpretTlsaAnswer(name, Raw(nodata)).status.reason() == "nodata");
    Bytes nx = Header(1, 1, 0, 0, 3) + Question(name, kDnsTypeTlsa) +
               Rr(Ptr(12), kDnsTypeCname, Name("_25._tcp.gone.hoster.net"));
    TlsaLookup t = InterpretTlsaAnswer(name, Raw(nx));
    CHECK(t.status.reason() == "nxdomain");
    CHECK(t.canonical_name == "_25._tcp.gone.hoster.net");
    CHECK(t.rcode == 3);
  }
  SECTION("SERVFAIL and transport failures pass through") {
    Bytes servfail = Header(1, 0, 0, 0, 2) + Question(name, kDnsTypeTlsa);
    CHECK(InterpretTlsaAnswer(name, Raw(servfail)).status.reason() == "servfail");
    RawLookup timeout;
    timeout.status = Status::Error("timeout", "x: no answer");
    TlsaLookup t = InterpretTlsaAnswer(name, timeout);
    CHECK(t.status.reason() == "timeout");
    CHECK(t.rcode == -1);
  }
}

TEST_CASE("Typed lookups carry the AD bit", "[dns]") {
  Bytes wire = Header(1, 1, 0, 0, 0, true) + Question("example.com", kDnsTypeMx) +
               Rr(Ptr(12), kDnsTypeMx, Mx(10, Name("mx.example.com")));
  RawLookup raw = Raw(wire);
  CHECK_FALSE(InterpretMxAnswer("example.com", raw).authentic_data);
  raw.authentic_data = true;
  CHECK(InterpretMxAnswer("example.com", raw).authentic_data);
  CHECK(InterpretAddressAnswer("example.com", kDnsTypeA, raw).authentic_data);
  CHECK(InterpretTxtAnswer("example.com", raw).authentic_data);
  CHECK(InterpretTlsaAnswer("example.com", raw).authentic_data);
}

TEST_CASE("InterpretPtrAnswer", "[dns_message][reverse_dns]") {
  const std::string q = "1.2.0.192.in-addr.arpa";
  SECTION("several names, normalized and deduplicated, root skipped") {
    Bytes wire = Header(1, 4) + Name(q) + U16(kDnsTypePtr) + U16(1) +
                 Rr(U16(0xC00C), kDnsTypePtr, Name("MX.Example.com")) +
                 Rr(U16(0xC00C), kDnsTypePtr, Name("host-1.isp.net")) +
                 Rr(U16(0xC00C), kDnsTypePtr, Name("mx.example.com")) +
                 Rr(U16(0xC00C), kDnsTypePtr, Name(""));
    PtrLookup p = InterpretPtrAnswer(q, Raw(wire));
    CHECK(p.status.ok());
    CHECK(p.query_name == q);
    CHECK(p.names == std::vector<std::string>{"mx.example.com", "host-1.isp.net"});
  }
  SECTION("RFC 2317 classless delegation: a CNAME to the PTR") {
    Bytes wire = Header(1, 2) + Name(q) + U16(kDnsTypePtr) + U16(1) +
                 Rr(U16(0xC00C), kDnsTypeCname, Name("1.0/25.2.0.192.in-addr.arpa")) +
                 Rr(Name("1.0/25.2.0.192.in-addr.arpa"), kDnsTypePtr, Name("mx.example.com"));
    PtrLookup p = InterpretPtrAnswer(q, Raw(wire));
    CHECK(p.status.ok());
    CHECK(p.names == std::vector<std::string>{"mx.example.com"});
  }
  SECTION("NODATA, NXDOMAIN, SERVFAIL, garbage") {
    Bytes nodata = Header(1, 0) + Name(q) + U16(kDnsTypePtr) + U16(1);
    CHECK(InterpretPtrAnswer(q, Raw(nodata)).status.reason() == "nodata");
    Bytes nx = Header(1, 0, 0, 0, 3) + Name(q) + U16(kDnsTypePtr) + U16(1);
    CHECK(InterpretPtrAnswer(q, Raw(nx)).status.reason() == "nxdomain");
    Bytes servfail = Header(1, 0, 0, 0, 2) + Name(q) + U16(kDnsTypePtr) + U16(1);
    CHECK(InterpretPtrAnswer(q, Raw(servfail)).status.reason() == "servfail");
    Bytes cut = Header(1, 1) + Name(q) + U16(kDnsTypePtr) + U16(1) + Bytes{0xC0, 0x0C, 0, 12};
    PtrLookup p = InterpretPtrAnswer(q, Raw(cut));
    CHECK(p.status.reason() == "dns_error");
    CHECK(p.names.empty());
  }
}

}  // namespace
}  // namespace mxtls
