#include "probes/judgement/reverse_dns.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mxtls {
namespace {

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
