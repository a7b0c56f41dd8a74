#include "probes/judgement/greeting_host.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace mxtls {
namespace {

SmtpReply Greeting(std::vector<std::string> lines) {
  SmtpReply reply;
  reply.code = 220;
  reply.lines = std::move(lines);
  return reply;
}

TEST_CASE("GreetingHost takes the first word of the first line", "[greeting_host]") {
  struct Case {
    std::vector<std::string> lines;
    std::string host;
  };
  const std::vector<Case> cases = {
      {{"mx.example.com ESMTP Postfix"}, "mx.example.com"},
      {{"mx.example.com"}, "mx.example.com"},
      {{"  mx.example.com  ESMTP"}, "mx.example.com"},
      {{"[192.0.2.1] ready"}, "[192.0.2.1]"},
      // Multi-line (postscreen style): the domain is on the first line (RFC 5321 §4.2).
      {{"first.example ESMTP", "second.example"}, "first.example"},
      {{"", "second.example"}, ""},
      {{}, ""},
      // Control and non-ASCII bytes are dropped, not escaped.
      {{"mx\x01.exa\x7fmple.com\t ESMTP"}, "mx.example.com"},
      {{"m\xc3\xa4il.example"}, "mil.example"},
  };
  for (const Case& c : cases) {
    INFO(c.host);
    CHECK(GreetingHost(Greeting(c.lines)) == c.host);
  }
}

TEST_CASE("GreetingHost is bounded", "[greeting_host]") {
  std::string host = GreetingHost(Greeting({std::string(5000, 'a') + " ESMTP"}));
  CHECK(host == std::string(kGreetingHostMax, 'a'));
}

}  // namespace
}  // namespace mxtls
