#include "probes/judgement/tls_record_header.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace mxtls {
namespace {

using namespace std::string_literals;

TEST_CASE("StartsLikeTlsRecord", "[tls_record_header]") {
  struct Case {
    std::string bytes;
    bool tls;
  };
  const std::vector<Case> cases = {
      {"\x16\x03\x03\x00\x7a"s, true},   // handshake (ServerHello)
      {"\x15\x03\x01\x00\x02"s, true},   // alert at TLS 1.0
      {"\x14\x03\x03"s, true},           // change_cipher_spec, header not complete yet
      {"\x17"s, true},                   // one byte: only the type can be judged
      {"\x16\x02\x00\x00\x00"s, false},  // not major version 3
      {"\x18\x03\x03\x00\x01"s, false},  // heartbeat first: never
      {"250-injected\r\n", false},
      {"HTTP/1.1 400 Bad Request\r\n", false},
      {"", false},
  };
  for (const Case& c : cases) {
    INFO(c.bytes.size() << " bytes");
    CHECK(StartsLikeTlsRecord(c.bytes) == c.tls);
  }
}

}  // namespace
}  // namespace mxtls
