#include "probes/judgement/reverse_dns.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mxtls {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes operator+(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

Bytes U16(int v) { return {static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)}; }

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

Bytes Header(int qd, int an, int rcode = 0) {
  return U16(0x1234) + Bytes{0x81, static_cast<uint8_t>(0x80 | rcode)} + U16(qd) + U16(an) +
         U16(0) + U16(0);
}

Bytes Rr(const Bytes& owner, int type, const Bytes& rdata) {
  return owner + U16(type) + U16(1) + Bytes{0, 0, 1, 44} + U16(static_cast<int>(rdata.size())) +
         rdata;
}

RawLookup Raw(const Bytes& message) {
  RawLookup raw;
  raw.rcode = message[3] & 0x0F;
  raw.status = StatusForRcode(raw.rcode, "test");
  raw.answer = message;
  return raw;
}

TEST_CASE("ReverseLookupName", "[reverse_dns]") {
  CHECK(*ReverseLookupName("192.0.2.1") == "1.2.0.192.in-addr.arpa");
  CHECK(*ReverseLookupName("10.20.255.0") == "0.255.20.10.in-addr.arpa");
  // RFC 3596 §2.5's own example.
  CHECK(*ReverseLookupName("4321:0:1:2:3:4:567:89ab") ==
        "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa");
  CHECK(*ReverseLookupName("2001:DB8::1") ==
        "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
  CHECK(*ReverseLookupName("::1") ==
        "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa");
  for (const char* bad : {"", "192.0.2", "192.0.2.256", "[::1]", "fe80::1%eth0", "mx.example.com",
                          "192.0.2.1 ", "::g"}) {
    INFO(bad);
    Result<std::string> r = ReverseLookupName(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().reason() == "dns_error");
  }
}

TEST_CASE("CanonicalAddress", "[reverse_dns]") {
  CHECK(CanonicalAddress("192.0.2.1") == "192.0.2.1");
  CHECK(CanonicalAddress("2001:DB8:0:0::0:1") == "2001:db8::1");
  CHECK(CanonicalAddress("2001:db8::1") == "2001:db8::1");
  CHECK(CanonicalAddress("mx.example.com").empty());
  CHECK(CanonicalAddress("").empty());
}

TEST_CASE("InterpretPtrAnswer", "[reverse_dns]") {
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
    Bytes nx = Header(1, 0, 3) + Name(q) + U16(kDnsTypePtr) + U16(1);
    CHECK(InterpretPtrAnswer(q, Raw(nx)).status.reason() == "nxdomain");
    Bytes servfail = Header(1, 0, 2) + Name(q) + U16(kDnsTypePtr) + U16(1);
    CHECK(InterpretPtrAnswer(q, Raw(servfail)).status.reason() == "servfail");
    Bytes cut = Header(1, 1) + Name(q) + U16(kDnsTypePtr) + U16(1) + Bytes{0xC0, 0x0C, 0, 12};
    PtrLookup p = InterpretPtrAnswer(q, Raw(cut));
    CHECK(p.status.reason() == "dns_error");
    CHECK(p.names.empty());
  }
}

TEST_CASE("JudgeReverseDns", "[reverse_dns]") {
  using Forward = std::map<std::string, std::vector<std::string>>;
  struct Case {
    std::string name;
    std::string address;
    std::string mx;
    std::vector<std::string> ptr;
    Forward forward;
    bool confirmed;
    bool matches_mx;
  };
  // One case per row reads better than one field per line.
  // clang-format off
  const std::vector<Case> cases = {
      {"PTR is the MX host and resolves back", "192.0.2.1", "mx.example.com", {"mx.example.com"},
       {{"mx.example.com", {"192.0.2.1"}}}, true, true},
      {"case and trailing dots ignored", "192.0.2.1", "MX.example.COM.", {"mx.Example.com."},
       {{"MX.EXAMPLE.COM.", {"192.0.2.1"}}}, true, true},
      {"generic PTR that resolves back", "192.0.2.1", "mx.example.com", {"host-1.isp.net"},
       {{"host-1.isp.net", {"192.0.2.9", "192.0.2.1"}}}, true, false},
      {"PTR is the MX host but resolves elsewhere", "192.0.2.1", "mx.example.com",
       {"mx.example.com"}, {{"mx.example.com", {"192.0.2.2"}}}, false, true},
      {"PTR name not resolved", "192.0.2.1", "mx.example.com", {"mx.example.com"}, {}, false,
       true},
      {"one of several PTR names confirms", "192.0.2.1", "mx.example.com",
       {"a.isp.net", "b.isp.net"}, {{"a.isp.net", {}}, {"b.isp.net", {"192.0.2.1"}}}, true,
       false},
      {"IPv6 compared in canonical form", "2001:DB8:0::25", "mx.example.com", {"mx.example.com"},
       {{"mx.example.com", {"2001:db8:0:0:0:0:0:25"}}}, true, true},
      {"IPv6 differs", "2001:db8::25", "mx.example.com", {"mx.example.com"},
       {{"mx.example.com", {"2001:db8::26"}}}, false, true},
      {"a suffix is not the MX host", "192.0.2.1", "mx.example.com", {"xmx.example.com"},
       {{"xmx.example.com", {"192.0.2.1"}}}, true, false},
      {"no PTR names", "192.0.2.1", "mx.example.com", {}, {}, false, false},
      {"garbage address confirms nothing", "not-an-address", "mx.example.com",
       {"mx.example.com"}, {{"mx.example.com", {"not-an-address"}}}, false, true},
  };
  // clang-format on
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.name) {
      ReverseDnsReport r = JudgeReverseDns(c.address, c.mx, c.ptr, c.forward, "");
      CHECK(r.checked);
      CHECK(r.error.empty());
      CHECK(r.forward_confirmed == c.confirmed);
      CHECK(r.matches_mx == c.matches_mx);
    }
  }
  SECTION("names are normalized and deduplicated; the error is kept") {
    ReverseDnsReport r =
        JudgeReverseDns("192.0.2.1", "mx.example.com", {"A.isp.net.", "a.isp.net"}, {}, "");
    CHECK(r.ptr_names == std::vector<std::string>{"a.isp.net"});
    ReverseDnsReport failed = JudgeReverseDns("192.0.2.1", "mx.example.com", {}, {}, "nxdomain");
    CHECK(failed.checked);
    CHECK(failed.error == "nxdomain");
    CHECK(failed.ptr_names.empty());
    CHECK_FALSE(failed.forward_confirmed);
  }
}

}  // namespace
}  // namespace mxtls
