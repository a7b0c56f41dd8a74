#include "probes/dns_resolver.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/post.hpp>
#include <asio/use_future.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/dns_fixture_server.h"

namespace mxtls {
namespace {

using namespace std::chrono_literals;
using testing::DnsFixtureServer;
using Clock = std::chrono::steady_clock;

config::DnsConfig ConfigFor(std::vector<config::ResolverAddress> servers,
                            std::chrono::milliseconds timeout = 500ms, int attempts = 2) {
  config::DnsConfig c;
  c.resolvers = std::move(servers);
  c.timeout = timeout;
  c.attempts = attempts;
  return c;
}

// A resolver on its own io_context thread, the way the probe engine runs one.
class Harness {
 public:
  explicit Harness(const config::DnsConfig& config) : guard_(io_.get_executor()) {
    Result<std::unique_ptr<DnsResolver>> r = DnsResolver::Create(io_, config);
    REQUIRE(r.ok());
    resolver_ = std::move(r).value();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~Harness() {
    DestroyResolver();
    guard_.reset();
    io_.stop();
    thread_.join();
  }

  DnsResolver& resolver() { return *resolver_; }

  // Starts `make()` (a call returning an awaitable) on the io thread.
  template <typename F>
  auto Start(F make) {
    return asio::co_spawn(io_, std::move(make), asio::use_future);
  }

  template <typename F>
  auto Run(F make) {
    auto future = Start(std::move(make));
    REQUIRE(future.wait_for(10s) == std::future_status::ready);
    return future.get();
  }

  // Destroys the resolver on the io thread, as the engine would.
  void DestroyResolver() {
    std::promise<void> done;
    asio::post(io_, [&] {
      resolver_.reset();
      done.set_value();
    });
    done.get_future().wait();
  }

  // Runs `f` on the io thread and returns its result.
  template <typename F>
  auto OnIo(F f) {
    std::promise<decltype(f())> result;
    asio::post(io_, [&] { result.set_value(f()); });
    return result.get_future().get();
  }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::unique_ptr<DnsResolver> resolver_;
  std::thread thread_;
};

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// ---- the resolver against the fixture ----

TEST_CASE("MX records come back sorted by preference, then host", "[dns]") {
  DnsFixtureServer server;
  server.AddMx("example.test", 20, "mx2.example.test");
  server.AddMx("example.test", 10, "MX-B.Example.TEST.");
  server.AddMx("example.test", 10, "mx-a.example.test");
  Harness h(ConfigFor({server.address()}));
  auto deadline = Clock::now() + 3s;
  MxLookup mx =
      h.Run([&r = h.resolver(), deadline] { return r.LookupMx("Example.TEST.", deadline); });
  INFO(mx.status.ToString());
  CHECK(mx.status.ok());
  CHECK(mx.rcode == 0);
  CHECK_FALSE(mx.null_mx);
  CHECK(mx.records == std::vector<MxRecord>{{"mx-a.example.test", 10},
                                            {"mx-b.example.test", 10},
                                            {"mx2.example.test", 20}});
}

TEST_CASE("Null MX and a root target mixed with real MX records", "[dns]") {
  DnsFixtureServer server;
  server.AddMx("nullmx.test", 0, ".");
  server.AddMx("mixed.test", 0, ".");
  server.AddMx("mixed.test", 10, "mx.mixed.test");
  Harness h(ConfigFor({server.address()}));
  auto deadline = Clock::now() + 3s;
  MxLookup null_mx =
      h.Run([&r = h.resolver(), deadline] { return r.LookupMx("nullmx.test", deadline); });
  CHECK(null_mx.status.ok());
  CHECK(null_mx.null_mx);
  CHECK_FALSE(null_mx.null_mx_mixed);
  CHECK(null_mx.records.empty());
  MxLookup mixed =
      h.Run([&r = h.resolver(), deadline] { return r.LookupMx("mixed.test", deadline); });
  CHECK(mixed.status.ok());
  CHECK_FALSE(mixed.null_mx);
  CHECK(mixed.null_mx_mixed);
  CHECK(mixed.records == std::vector<MxRecord>{{"mx.mixed.test", 10}});
  // Several records that all point to the root still mean "no mail" (found by fuzzing).
  server.AddMx("twonull.test", 0, ".");
  server.AddMx("twonull.test", 10, ".");
  MxLookup two =
      h.Run([&r = h.resolver(), deadline] { return r.LookupMx("twonull.test", deadline); });
  CHECK(two.status.ok());
  CHECK(two.null_mx);
  CHECK(two.records.empty());
}

TEST_CASE("NXDOMAIN and NODATA", "[dns]") {
  DnsFixtureServer server;
  server.AddA("aonly.test", "192.0.2.1");
  Harness h(ConfigFor({server.address()}));
  auto deadline = Clock::now() + 3s;
  MxLookup missing =
      h.Run([&r = h.resolver(), deadline] { return r.LookupMx("missing.test", deadline); });
  CHECK(missing.status.reason() == "nxdomain");
  CHECK(missing.rcode == 3);
  MxLookup nodata =
      h.Run([&r = h.resolver(), deadline] { return r.LookupMx("aonly.test", deadline); });
  CHECK(nodata.status.reason() == "nodata");
  CHECK(nodata.rcode == 0);
  AddressLookup no_v6 =
      h.Run([&r = h.resolver(), deadline] { return r.LookupAAAA("aonly.test", deadline); });
  CHECK(no_v6.status.reason() == "nodata");
  TxtLookup no_txt =
      h.Run([&r = h.resolver(), deadline] { return r.LookupTxt("aonly.test", deadline); });
  CHECK(no_txt.status.reason() == "nodata");
}

TEST_CASE("SERVFAIL, REFUSED and other RCODEs are reported at once, not retried", "[dns]") {
  struct Case {
    int rcode;
    std::string reason;
  };
  for (const Case& c : std::vector<Case>{{2, "servfail"}, {5, "refused"}, {4, "dns_error"}}) {
    DYNAMIC_SECTION("rcode " << c.rcode) {
      DnsFixtureServer server;
      server.AddMx("broken.test", 10, "mx.broken.test");
      server.SetRcode("broken.test", c.rcode);
      // A second server that would answer: NOCHECKRESP keeps c-ares from asking it.
      DnsFixtureServer healthy;
      healthy.AddMx("broken.test", 10, "mx.broken.test");
      Harness h(ConfigFor({server.address(), healthy.address()}, 2s, 2));
      auto start = Clock::now();
      MxLookup mx = h.Run([&r = h.resolver(), deadline = start + 5s] {
        return r.LookupMx("broken.test", deadline);
      });
      CHECK(mx.status.reason() == c.reason);
      CHECK(mx.rcode == c.rcode);
      CHECK(Clock::now() - start < 1s);
      CHECK(server.QueryCount("broken.test", kDnsTypeMx) == 1);
      CHECK(healthy.TotalQueries() == 0);
    }
  }
}

TEST_CASE("A dropped query times out at the lookup's deadline", "[dns]") {
  DnsFixtureServer server;
  server.SetDrop("blackhole.test");
  Harness h(ConfigFor({server.address()}, 2s, 2));
  auto start = Clock::now();
  auto deadline = start + 300ms;
  MxLookup mx =
      h.Run([&r = h.resolver(), deadline] { return r.LookupMx("blackhole.test", deadline); });
  auto elapsed = Clock::now() - start;
  CHECK(mx.status.reason() == "timeout");
  CHECK_THAT(mx.status.message(), Catch::Contains("deadline"));
  CHECK(mx.rcode == -1);
  CHECK(elapsed >= 290ms);
  CHECK(elapsed < 300ms + 200ms);
  INFO("elapsed " << Seconds(elapsed));
  // The abandoned query is still c-ares' until its own timeout; nothing else depends on it.
  CHECK(h.OnIo([&r = h.resolver()] { return r.queries_in_flight(); }) == 1);
}

TEST_CASE("A dropped query times out when c-ares gives up first", "[dns]") {
  DnsFixtureServer server;
  server.SetDrop("blackhole.test");
  // 100 ms, then 200 ms (c-ares doubles the timeout on each round): about 300 ms.
  Harness h(ConfigFor({server.address()}, 100ms, 2));
  auto start = Clock::now();
  MxLookup mx = h.Run([&r = h.resolver(), deadline = start + 5s] {
    return r.LookupMx("blackhole.test", deadline);
  });
  auto elapsed = Clock::now() - start;
  CHECK(mx.status.reason() == "timeout");
  CHECK_THAT(mx.status.message(), Catch::Contains("attempts timed out"));
  CHECK(elapsed >= 250ms);
  CHECK(elapsed < 1s);
  CHECK(server.QueryCount("blackhole.test", kDnsTypeMx) == 2);
}

TEST_CASE("A delayed answer inside the deadline succeeds", "[dns]") {
  DnsFixtureServer server;
  server.AddA("slow.test", "192.0.2.80");
  server.SetDelay("slow.test", 200ms);
  Harness h(ConfigFor({server.address()}, 1s, 1));
  auto start = Clock::now();
  AddressLookup a = h.Run(
      [&r = h.resolver(), deadline = start + 2s] { return r.LookupA("slow.test", deadline); });
  CHECK(a.status.ok());
  CHECK(a.addresses == std::vector<std::string>{"192.0.2.80"});
  CHECK(Clock::now() - start >= 200ms);
}

TEST_CASE("An answer arriving after the deadline is dropped harmlessly", "[dns]") {
  DnsFixtureServer server;
  server.AddA("late.test", "192.0.2.81");
  server.SetDelay("late.test", 300ms);
  server.AddA("prompt.test", "192.0.2.82");
  Harness h(ConfigFor({server.address()}, 2s, 1));
  AddressLookup late = h.Run([&r = h.resolver(), deadline = Clock::now() + 100ms] {
    return r.LookupA("late.test", deadline);
  });
  CHECK(late.status.reason() == "timeout");
  std::this_thread::sleep_for(400ms);  // the late answer reaches c-ares and its callback
  CHECK(h.OnIo([&r = h.resolver()] { return r.queries_in_flight(); }) == 0);
  AddressLookup prompt = h.Run([&r = h.resolver(), deadline = Clock::now() + 2s] {
    return r.LookupA("prompt.test", deadline);
  });
  CHECK(prompt.status.ok());
}

TEST_CASE("A deadline already past sends nothing", "[dns]") {
  DnsFixtureServer server;
  server.AddA("a.test", "192.0.2.1");
  Harness h(ConfigFor({server.address()}));
  AddressLookup a = h.Run(
      [&r = h.resolver(), deadline = Clock::now() - 1ms] { return r.LookupA("a.test", deadline); });
  CHECK(a.status.reason() == "timeout");
  CHECK(server.TotalQueries() == 0);
}

TEST_CASE("A and AAAA lookups", "[dns]") {
  DnsFixtureServer server;
  server.AddA("mx.example.test", "192.0.2.10");
  server.AddA("mx.example.test", "192.0.2.11");
  server.AddA("mx.example.test", "192.0.2.10");
  server.AddAAAA("mx.example.test", "2001:db8::10");
  Harness h(ConfigFor({server.address()}));
  auto deadline = Clock::now() + 3s;
  AddressLookup a =
      h.Run([&r = h.resolver(), deadline] { return r.LookupA("mx.example.test", deadline); });
  CHECK(a.status.ok());
  CHECK(a.addresses == std::vector<std::string>{"192.0.2.10", "192.0.2.11"});
  CHECK(a.canonical_name == "mx.example.test");
  CHECK_FALSE(a.is_cname);
  AddressLookup aaaa =
      h.Run([&r = h.resolver(), deadline] { return r.LookupAAAA("mx.example.test", deadline); });
  CHECK(aaaa.status.ok());
  CHECK(aaaa.addresses == std::vector<std::string>{"2001:db8::10"});
}

TEST_CASE("An MX target that is a CNAME", "[dns]") {
  DnsFixtureServer server;
  server.AddMx("example.test", 10, "mail.example.test");
  server.AddCname("mail.example.test", "mx1.hoster.test");
  server.AddCname("mx1.hoster.test", "pool.hoster.test");
  server.AddA("pool.hoster.test", "198.51.100.4");
  Harness h(ConfigFor({server.address()}));
  auto deadline = Clock::now() + 3s;
  MxLookup mx =
      h.Run([&r = h.resolver(), deadline] { return r.LookupMx("example.test", deadline); });
  REQUIRE(mx.records.size() == 1);
  CHECK(mx.records[0].host == "mail.example.test");
  AddressLookup a = h.Run([&r = h.resolver(), host = mx.records[0].host, deadline] {
    return r.LookupA(host, deadline);
  });
  CHECK(a.status.ok());
  CHECK(a.is_cname);
  CHECK(a.canonical_name == "pool.hoster.test");
  CHECK(a.cname_chain == std::vector<std::string>{"mail.example.test", "mx1.hoster.test"});
  CHECK(a.addresses == std::vector<std::string>{"198.51.100.4"});
  // The alias has no AAAA at its end: NODATA, still seen as an alias.
  AddressLookup aaaa =
      h.Run([&r = h.resolver(), deadline] { return r.LookupAAAA("mail.example.test", deadline); });
  CHECK(aaaa.status.reason() == "nodata");
  CHECK(aaaa.is_cname);
}

TEST_CASE("Multi-string TXT records are rejoined", "[dns]") {
  DnsFixtureServer server;
  server.AddTxt("_mta-sts.example.test", {"v=STSv1; ", "id=20240101T000000"});
  server.AddTxt("_smtp._tls.example.test", {"v=TLSRPTv1; rua=mailto:tls@example.test"});
  server.AddTxt("_smtp._tls.example.test", {"v=TLSRPTv1;", " rua=https://r.example.test/"});
  Harness h(ConfigFor({server.address()}));
  auto deadline = Clock::now() + 3s;
  TxtLookup sts = h.Run(
      [&r = h.resolver(), deadline] { return r.LookupTxt("_mta-sts.example.test", deadline); });
  CHECK(sts.status.ok());
  CHECK(sts.records == std::vector<std::string>{"v=STSv1; id=20240101T000000"});
  TxtLookup rpt = h.Run(
      [&r = h.resolver(), deadline] { return r.LookupTxt("_smtp._tls.example.test", deadline); });
  CHECK(rpt.records == std::vector<std::string>{"v=TLSRPTv1; rua=mailto:tls@example.test",
                                                "v=TLSRPTv1; rua=https://r.example.test/"});
}

TEST_CASE("A truncated UDP answer is retried over TCP", "[dns]") {
  DnsFixtureServer server;
  Harness h(ConfigFor({server.address()}));
  auto deadline = Clock::now() + 3s;
  SECTION("TC forced by the server") {
    server.AddMx("tc.test", 10, "mx.tc.test");
    server.SetTruncate("tc.test");
    MxLookup mx = h.Run([&r = h.resolver(), deadline] { return r.LookupMx("tc.test", deadline); });
    CHECK(mx.status.ok());
    CHECK(mx.records == std::vector<MxRecord>{{"mx.tc.test", 10}});
    CHECK(server.QueryCount("tc.test", kDnsTypeMx, DnsFixtureServer::Transport::kUdp) == 1);
    CHECK(server.QueryCount("tc.test", kDnsTypeMx, DnsFixtureServer::Transport::kTcp) == 1);
  }
  SECTION("an answer larger than the EDNS payload size") {
    std::vector<std::string> strings(20, std::string(250, 'x'));
    server.AddTxt("big.test", strings);
    server.AddTxt("big.test", {"second"});
    TxtLookup txt =
        h.Run([&r = h.resolver(), deadline] { return r.LookupTxt("big.test", deadline); });
    CHECK(txt.status.ok());
    REQUIRE(txt.records.size() == 2);
    CHECK(txt.records[0] == std::string(5000, 'x'));
    CHECK(server.QueryCount("big.test", kDnsTypeTxt, DnsFixtureServer::Transport::kTcp) == 1);
  }
  SECTION("several truncated answers at once share the TCP connection") {
    std::vector<std::future<MxLookup>> futures;
    for (int i = 0; i < 20; ++i) {
      std::string name = "tc" + std::to_string(i) + ".test";
      server.AddMx(name, static_cast<uint16_t>(i), "mx." + name);
      server.SetTruncate(name);
      futures.push_back(
          h.Start([&r = h.resolver(), name, deadline] { return r.LookupMx(name, deadline); }));
    }
    for (int i = 0; i < 20; ++i) {
      REQUIRE(futures[i].wait_for(5s) == std::future_status::ready);
      MxLookup mx = futures[i].get();
      INFO(i << ": " << mx.status.ToString());
      CHECK(mx.status.ok());
      CHECK(mx.records == std::vector<MxRecord>{{"mx.tc" + std::to_string(i) + ".test", i}});
    }
  }
}

TEST_CASE("200 concurrent lookups all complete with their own answers", "[dns]") {
  DnsFixtureServer server;
  constexpr int kLookups = 200;
  for (int i = 0; i < kLookups; ++i) {
    server.AddA("host" + std::to_string(i) + ".bulk.test",
                "10.0." + std::to_string(i / 100) + "." + std::to_string(i % 100));
  }
  server.SetDelay("host7.bulk.test", 50ms);
  Harness h(ConfigFor({server.address()}, 1s, 2));
  auto start = Clock::now();
  auto deadline = start + 5s;
  std::vector<std::future<AddressLookup>> futures;
  for (int i = 0; i < kLookups; ++i) {
    futures.push_back(h.Start([&r = h.resolver(), name = "host" + std::to_string(i) + ".bulk.test",
                               deadline] { return r.LookupA(name, deadline); }));
  }
  int ok = 0;
  for (int i = 0; i < kLookups; ++i) {
    REQUIRE(futures[i].wait_for(10s) == std::future_status::ready);
    AddressLookup a = futures[i].get();
    std::string expected = "10.0." + std::to_string(i / 100) + "." + std::to_string(i % 100);
    if (a.status.ok() && a.addresses == std::vector<std::string>{expected}) ++ok;
  }
  CHECK(ok == kLookups);
  CHECK(Clock::now() - start < 3s);
}

TEST_CASE("Destroying the resolver with lookups in flight completes them safely", "[dns]") {
  DnsFixtureServer server;
  server.SetDrop("blackhole.test");
  server.AddA("late.test", "192.0.2.1");
  server.SetDelay("late.test", 200ms);
  Harness h(ConfigFor({server.address()}, 2s, 2));
  std::vector<std::future<MxLookup>> pending;
  for (int i = 0; i < 30; ++i) {
    pending.push_back(h.Start([&r = h.resolver(), deadline = Clock::now() + 10s] {
      return r.LookupMx("blackhole.test", deadline);
    }));
  }
  // Abandoned by their deadline, still in c-ares: their callbacks run during ares_destroy.
  std::vector<std::future<AddressLookup>> abandoned;
  for (int i = 0; i < 5; ++i) {
    abandoned.push_back(h.Start([&r = h.resolver(), deadline = Clock::now() + 20ms] {
      return r.LookupA("late.test", deadline);
    }));
  }
  for (auto& f : abandoned) {
    REQUIRE(f.wait_for(5s) == std::future_status::ready);
    CHECK(f.get().status.reason() == "timeout");
  }
  for (int i = 0; i < 100 && server.QueryCount("blackhole.test", kDnsTypeMx) < 30; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  REQUIRE(server.QueryCount("blackhole.test", kDnsTypeMx) == 30);

  h.DestroyResolver();
  for (auto& f : pending) {
    REQUIRE(f.wait_for(2s) == std::future_status::ready);
    MxLookup mx = f.get();
    CHECK(mx.status.reason() == "dns_error");
    CHECK_THAT(mx.status.message(), Catch::Contains("resolver shut down"));
  }
  // The late answers arrive at a socket nobody watches any more.
  std::this_thread::sleep_for(300ms);
}

TEST_CASE("Connection refused by the only server, and failover past it", "[dns]") {
  // A port with nothing behind it: bind, read the port back, close.
  uint16_t closed_port = 0;
  {
    int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0);
    socklen_t len = sizeof(sa);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
    closed_port = ntohs(sa.sin_port);
    ::close(fd);
  }
  DnsFixtureServer server;
  server.AddA("a.test", "192.0.2.1");
  SECTION("only server") {
    Harness h(ConfigFor({{"127.0.0.1", closed_port}}, 1s, 2));
    auto start = Clock::now();
    AddressLookup a =
        h.Run([&r = h.resolver(), deadline = start + 5s] { return r.LookupA("a.test", deadline); });
    CHECK(a.status.reason() == "dns_error");
    CHECK_THAT(a.status.message(), Catch::Contains("refused"));
    CHECK(Clock::now() - start < 1s);
  }
  SECTION("next server answers") {
    Harness h(ConfigFor({{"127.0.0.1", closed_port}, server.address()}, 1s, 2));
    auto start = Clock::now();
    AddressLookup a =
        h.Run([&r = h.resolver(), deadline = start + 5s] { return r.LookupA("a.test", deadline); });
    CHECK(a.status.ok());
    CHECK(Clock::now() - start < 1s);
  }
}

TEST_CASE("The AD bit of the answer is passed on", "[dns]") {
  DnsFixtureServer server;
  server.AddTlsa("_25._tcp.mx.example.test", 3, 1, 1, std::vector<uint8_t>(32, 0xab));
  Harness h(ConfigFor({server.address()}));
  auto deadline = Clock::now() + 3s;
  RawLookup plain = h.Run([&r = h.resolver(), deadline] {
    return r.LookupRaw("_25._tcp.mx.example.test", kDnsTypeTlsa, deadline);
  });
  CHECK(plain.status.ok());
  CHECK_FALSE(plain.authentic_data);
  server.SetAuthenticData(true);
  RawLookup validated = h.Run([&r = h.resolver(), deadline] {
    return r.LookupRaw("_25._tcp.mx.example.test", kDnsTypeTlsa, deadline);
  });
  CHECK(validated.authentic_data);
  Result<DnsMessage> m = ParseDnsMessage(validated.answer);
  REQUIRE(m.ok());
  Result<AnswerChain> chain = FollowAnswerChain(*m, "_25._tcp.mx.example.test", kDnsTypeTlsa);
  REQUIRE(chain.ok());
  REQUIRE(chain->records.size() == 1);
  CHECK(chain->records[0].rdata.size() == 3 + 32);
  CHECK(chain->records[0].rdata[0] == 3);
}

TEST_CASE("A server that rejects EDNS is asked again without it", "[dns]") {
  DnsFixtureServer server;
  server.AddA("old.test", "192.0.2.5");
  server.SetRejectEdns(true);
  Harness h(ConfigFor({server.address()}));
  AddressLookup a = h.Run([&r = h.resolver(), deadline = Clock::now() + 3s] {
    return r.LookupA("old.test", deadline);
  });
  INFO(a.status.ToString());
  CHECK(a.status.ok());
  CHECK(server.QueryCount("old.test", kDnsTypeA) == 2);
}

TEST_CASE("An invalid query name is a dns_error", "[dns]") {
  DnsFixtureServer server;
  Harness h(ConfigFor({server.address()}));
  AddressLookup a = h.Run([&r = h.resolver(), deadline = Clock::now() + 3s] {
    return r.LookupA(std::string(64, 'a') + ".test", deadline);
  });
  CHECK(a.status.reason() == "dns_error");
  CHECK(server.TotalQueries() == 0);
}

TEST_CASE("A resolver on [::1]", "[dns]") {
  DnsFixtureServer server(DnsFixtureServer::Options{.ipv6 = true});
  if (!server.has_ipv6()) {
    WARN("no ::1 on this machine: IPv6 resolver test skipped");
    return;
  }
  server.AddA("v6.test", "192.0.2.6");
  Harness h(ConfigFor({server.address_v6()}));
  CHECK_THAT(h.resolver().DescribeServers(),
             Catch::StartsWith("[::1]:" + std::to_string(server.port())));
  AddressLookup a = h.Run(
      [&r = h.resolver(), deadline = Clock::now() + 3s] { return r.LookupA("v6.test", deadline); });
  CHECK(a.status.ok());
  CHECK(a.addresses == std::vector<std::string>{"192.0.2.6"});
}

TEST_CASE("DescribeServers lists the servers in order with the retry settings", "[dns]") {
  asio::io_context io;
  Result<std::unique_ptr<DnsResolver>> r =
      DnsResolver::Create(io, ConfigFor({{"192.0.2.53", 53}, {"2001:db8::53", 5353}}, 1500ms, 3));
  REQUIRE(r.ok());
  CHECK(r.value()->DescribeServers() ==
        "192.0.2.53:53, [2001:db8::53]:5353 (timeout 1500ms, 3 attempts)");
}

TEST_CASE("Create rejects a server address c-ares cannot read", "[dns]") {
  asio::io_context io;
  Result<std::unique_ptr<DnsResolver>> r = DnsResolver::Create(io, ConfigFor({{"not-an-ip", 53}}));
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().reason() == "dns_error");
}

// ---- DNSSEC: DO/AD/CD on the wire, and the status of answers ----

TEST_CASE("Every query asks for DNSSEC (EDNS, DO, AD); CD only when asked", "[dns][dnssec]") {
  DnsFixtureServer server;
  server.AddA("mx.example.test", "192.0.2.10");
  server.SetAuthenticData(true);
  Harness h(ConfigFor({server.address()}));
  auto deadline = Clock::now() + 3s;
  AddressLookup a =
      h.Run([&r = h.resolver(), deadline] { return r.LookupA("mx.example.test", deadline); });
  CHECK(a.status.ok());
  CHECK(a.authentic_data);
  RawLookup cd = h.Run([&r = h.resolver(), deadline] {
    return r.LookupRaw("mx.example.test", kDnsTypeA, deadline, {.checking_disabled = true});
  });
  CHECK(cd.status.ok());
  CHECK_FALSE(cd.authentic_data);  // nothing validated when checking is disabled
  std::vector<DnsFixtureServer::SeenQuery> seen = server.Queries();
  REQUIRE(seen.size() == 2);
  for (const DnsFixtureServer::SeenQuery& q : seen) {
    CHECK(q.edns);
    CHECK(q.dnssec_ok);
    CHECK(q.ad);
  }
  CHECK_FALSE(seen[0].cd);
  CHECK(seen[1].cd);
}

TEST_CASE("DNSSEC status of MX, A and TLSA lookups end to end", "[dns][dnssec]") {
  DnsFixtureServer server;
  server.SetAuthenticData(true);  // names are secure unless said otherwise
  server.AddMx("secure.test", 10, "mx.secure.test");
  server.AddMx("insecure.test", 10, "mx.secure.test");
  server.SetSecure("insecure.test", false);
  server.AddA("mx.secure.test", "192.0.2.10");
  server.AddMx("bogus.test", 10, "mx.bogus.test");
  server.SetBogus("bogus.test", kDnsTypeMx);
  server.AddMx("broken.test", 10, "mx.broken.test");
  server.SetRcode("broken.test", 2);
  server.AddCname("alias.insecure.test", "mx.secure.test");
  server.SetSecure("alias.insecure.test", false);
  server.AddTlsa("_25._tcp.mx.bogus.test", 3, 1, 1, std::vector<uint8_t>(32, 0x11));
  server.SetBogus("_25._tcp.mx.bogus.test");
  Harness h(ConfigFor({server.address()}));
  auto deadline = Clock::now() + 3s;
  auto mx = [&](const char* name, bool validates) {
    return h.Run([&r = h.resolver(), name = std::string(name), deadline, validates] {
      return r.LookupMxDnssec(name, deadline, validates);
    });
  };

  SECTION("secure") {
    DnssecLookup<MxLookup> d = mx("secure.test", true);
    CHECK(d.dnssec == DnssecStatus::kSecure);
    CHECK_FALSE(d.cd_retried);
    CHECK(d.answer.status.ok());
    CHECK(d.answer.authentic_data);
    CHECK(server.QueryCount("secure.test", kDnsTypeMx) == 1);
  }
  SECTION("signed denial: NXDOMAIN with AD is secure") {
    DnssecLookup<MxLookup> d = mx("missing.test", true);
    CHECK(d.dnssec == DnssecStatus::kSecure);
    CHECK(d.answer.status.reason() == "nxdomain");
  }
  SECTION("an insecure MX RRset whose MX host is secure") {
    DnssecLookup<MxLookup> d = mx("insecure.test", true);
    CHECK(d.dnssec == DnssecStatus::kInsecure);
    CHECK(d.answer.records == std::vector<MxRecord>{{"mx.secure.test", 10}});
    DnssecLookup<AddressLookup> a = h.Run([&r = h.resolver(), deadline] {
      return r.LookupADnssec("mx.secure.test", deadline, true);
    });
    CHECK(a.dnssec == DnssecStatus::kSecure);
    CHECK(a.answer.addresses == std::vector<std::string>{"192.0.2.10"});
  }
  SECTION("an insecure alias in front of a secure name is insecure") {
    DnssecLookup<AddressLookup> a = h.Run([&r = h.resolver(), deadline] {
      return r.LookupADnssec("alias.insecure.test", deadline, true);
    });
    CHECK(a.dnssec == DnssecStatus::kInsecure);
    CHECK(a.answer.is_cname);
    CHECK(a.answer.addresses == std::vector<std::string>{"192.0.2.10"});
  }
  SECTION("bogus: SERVFAIL, then the CD retry's answer is returned") {
    DnssecLookup<MxLookup> d = mx("bogus.test", true);
    CHECK(d.dnssec == DnssecStatus::kBogus);
    CHECK(d.cd_retried);
    INFO(d.answer.status.ToString());
    CHECK(d.answer.status.ok());
    CHECK_FALSE(d.answer.authentic_data);
    CHECK(d.answer.records == std::vector<MxRecord>{{"mx.bogus.test", 10}});
    std::vector<DnsFixtureServer::SeenQuery> seen = server.Queries();
    REQUIRE(seen.size() == 2);
    CHECK_FALSE(seen[0].cd);
    CHECK(seen[1].cd);
  }
  SECTION("bogus TLSA: the records non-validating senders see") {
    DnssecLookup<TlsaLookup> t = h.Run([&r = h.resolver(), deadline] {
      return r.LookupTlsaDnssec("_25._tcp.mx.bogus.test", deadline, true);
    });
    CHECK(t.dnssec == DnssecStatus::kBogus);
    REQUIRE(t.answer.rdata.size() == 1);
    CHECK(t.answer.rdata[0].size() == 3 + 32);
  }
  SECTION("SERVFAIL with and without CD is broken, not bogus") {
    DnssecLookup<MxLookup> d = mx("broken.test", true);
    CHECK(d.dnssec == DnssecStatus::kUnknown);
    CHECK(d.cd_retried);
    CHECK(d.answer.status.reason() == "servfail");
    CHECK(server.QueryCount("broken.test", kDnsTypeMx) == 2);
  }
  SECTION("a resolver not known to validate: unknown, and no CD retry") {
    DnssecLookup<MxLookup> bogus = mx("bogus.test", false);
    CHECK(bogus.dnssec == DnssecStatus::kUnknown);
    CHECK_FALSE(bogus.cd_retried);
    CHECK(bogus.answer.status.reason() == "servfail");
    CHECK(server.QueryCount("bogus.test", kDnsTypeMx) == 1);
    CHECK(mx("secure.test", false).dnssec == DnssecStatus::kUnknown);
  }
  SECTION("a timeout is unknown") {
    server.SetDrop("secure.test");
    DnssecLookup<MxLookup> d = h.Run([&r = h.resolver(), until = Clock::now() + 200ms] {
      return r.LookupMxDnssec("secure.test", until, true);
    });
    CHECK(d.dnssec == DnssecStatus::kUnknown);
    CHECK(d.answer.status.reason() == "timeout");
  }
}

TEST_CASE("TLSA lookups: records, NODATA, SERVFAIL, timeout", "[dns][tlsa]") {
  DnsFixtureServer server;
  std::vector<uint8_t> digest(32, 0xab);
  server.AddTlsa("_25._tcp.mx.example.test", 3, 1, 1, digest);
  server.AddTlsa("_25._tcp.mx.example.test", 2, 0, 2, std::vector<uint8_t>(64, 0xcd));
  server.AddA("mx.example.test", "192.0.2.10");
  server.AddRecord("_25._tcp.short.test", kDnsTypeTlsa, {3, 1});
  server.AddTlsa("_25._tcp.servfail.test", 3, 1, 1, digest);
  server.SetRcode("_25._tcp.servfail.test", 2);
  server.SetDrop("_25._tcp.silent.test");
  server.SetAuthenticData(true);
  Harness h(ConfigFor({server.address()}));
  auto deadline = Clock::now() + 3s;
  auto tlsa = [&](const char* name, Clock::time_point until) {
    return h.Run(
        [&r = h.resolver(), name = std::string(name), until] { return r.LookupTlsa(name, until); });
  };
  TlsaLookup records = tlsa("_25._tcp.mx.example.test", deadline);
  INFO(records.status.ToString());
  CHECK(records.status.ok());
  CHECK(records.authentic_data);
  CHECK(records.canonical_name == "_25._tcp.mx.example.test");
  std::vector<uint8_t> first{3, 1, 1};
  first.insert(first.end(), digest.begin(), digest.end());
  REQUIRE(records.rdata.size() == 2);
  CHECK(records.rdata[0] == first);
  CHECK(records.rdata[1].size() == 3 + 64);
  CHECK(records.rdata[1][0] == 2);

  TlsaLookup short_rdata = tlsa("_25._tcp.short.test", deadline);
  CHECK(short_rdata.status.ok());
  CHECK(short_rdata.rdata == std::vector<std::vector<uint8_t>>{{3, 1}});

  TlsaLookup nodata = tlsa("mx.example.test", deadline);
  CHECK(nodata.status.reason() == "nodata");
  CHECK(nodata.rdata.empty());
  CHECK(tlsa("_25._tcp.nowhere.test", deadline).status.reason() == "nxdomain");
  TlsaLookup servfail = tlsa("_25._tcp.servfail.test", deadline);
  CHECK(servfail.status.reason() == "servfail");
  CHECK(servfail.rcode == 2);
  TlsaLookup silent = tlsa("_25._tcp.silent.test", Clock::now() + 200ms);
  CHECK(silent.status.reason() == "timeout");
  CHECK(silent.rcode == -1);
}

TEST_CASE("PTR lookups for IPv4 and IPv6 addresses", "[dns][reverse_dns]") {
  DnsFixtureServer server;
  server.AddPtr("10.2.0.192.in-addr.arpa", "mx.example.test");
  server.AddPtr("10.2.0.192.in-addr.arpa", "Host-10.ISP.test.");
  server.AddPtr("5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
                "mx6.example.test");
  Harness h(ConfigFor({server.address()}));
  auto deadline = Clock::now() + 3s;
  auto ptr = [&](const char* address) {
    return h.Run([&r = h.resolver(), address = std::string(address), deadline] {
      return r.LookupPtr(address, deadline);
    });
  };
  PtrLookup v4 = ptr("192.0.2.10");
  INFO(v4.status.ToString());
  CHECK(v4.status.ok());
  CHECK(v4.query_name == "10.2.0.192.in-addr.arpa");
  CHECK(v4.names == std::vector<std::string>{"mx.example.test", "host-10.isp.test"});
  PtrLookup v6 = ptr("2001:DB8::25");
  CHECK(v6.status.ok());
  CHECK(v6.names == std::vector<std::string>{"mx6.example.test"});
  CHECK(ptr("192.0.2.11").status.reason() == "nxdomain");
  int before = server.TotalQueries();
  PtrLookup bad = ptr("mx.example.test");
  CHECK(bad.status.reason() == "dns_error");
  CHECK(server.TotalQueries() == before);
}

TEST_CASE("CheckResolverValidates", "[dns][dnssec]") {
  DnsFixtureServer server;
  // A root SOA; its RDATA is never read.
  server.AddRecord(".", kDnsTypeSoa, std::vector<uint8_t>(22, 0));
  server.AddRecord("signed.test", kDnsTypeSoa, std::vector<uint8_t>(22, 0));
  Harness h(ConfigFor({server.address()}));
  auto check = [&](const char* name, Clock::time_point until) {
    return h.Run([&r = h.resolver(), name = std::string(name), until] {
      return CheckResolverValidates(r, name, until);
    });
  };
  auto deadline = Clock::now() + 3s;
  SECTION("NOERROR without AD: does not validate") {
    ValidationCheck c = check(".", deadline);
    CHECK_FALSE(c.validates);
    CHECK(c.rcode == 0);
    CHECK_FALSE(c.authentic_data);
    CHECK_THAT(c.message, Catch::Contains("127.0.0.1:" + std::to_string(server.port())));
    CHECK_THAT(c.message, Catch::Contains("NOERROR without AD"));
    CHECK_THAT(c.message, Catch::Contains("does not validate"));
    CHECK(server.QueryCount(".", kDnsTypeSoa) == 1);
  }
  SECTION("NOERROR with AD: validates") {
    server.SetAuthenticData(true);
    ValidationCheck c = check(".", deadline);
    CHECK(c.validates);
    CHECK(c.status.ok());
    CHECK_THAT(c.message, Catch::Contains("NOERROR with AD"));
    CHECK(check("signed.test", deadline).validates);
  }
  SECTION("SERVFAIL and timeouts: does not validate") {
    server.SetAuthenticData(true);
    server.SetRcode(".", 2);
    ValidationCheck servfail = check(".", deadline);
    CHECK_FALSE(servfail.validates);
    CHECK_THAT(servfail.message, Catch::Contains("SERVFAIL"));
    server.ClearFaults(".");
    server.SetDrop(".");
    ValidationCheck timeout = check(".", Clock::now() + 200ms);
    CHECK_FALSE(timeout.validates);
    CHECK(timeout.rcode == -1);
    CHECK(timeout.status.reason() == "timeout");
    CHECK_THAT(timeout.message, Catch::Contains("no answer"));
  }
}

// ---- the fixture itself ----

// Sends one datagram to 127.0.0.1:port and waits up to `wait` for a reply.
std::optional<std::vector<uint8_t>> UdpExchange(uint16_t port, const std::vector<uint8_t>& packet,
                                                std::chrono::milliseconds wait) {
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons(port);
  ::sendto(fd, packet.data(), packet.size(), 0, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  std::optional<std::vector<uint8_t>> reply;
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(wait.count())) == 1) {
    std::vector<uint8_t> buf(65536);
    ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n >= 0) reply.emplace(buf.begin(), buf.begin() + n);
  }
  ::close(fd);
  return reply;
}

// Connects, writes `bytes`, half-closes or not, and reads until EOF or `wait`.
std::vector<uint8_t> TcpExchange(uint16_t port, const std::vector<uint8_t>& bytes,
                                 std::chrono::milliseconds wait) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons(port);
  std::vector<uint8_t> out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0) {
    ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    auto until = Clock::now() + wait;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
      pollfd p{fd, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) != 1) break;
      uint8_t buf[4096];
      ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) break;
      out.insert(out.end(), buf, buf + n);
    }
  }
  ::close(fd);
  return out;
}

std::vector<uint8_t> QueryPacket(const std::string& name, uint16_t type, uint16_t id = 0x4242) {
  std::vector<uint8_t> q = {
      static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  size_t start = 0;
  while (start < name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    q.push_back(static_cast<uint8_t>(dot - start));
    q.insert(q.end(), name.begin() + static_cast<long>(start),
             name.begin() + static_cast<long>(dot));
    start = dot + 1;
  }
  q.insert(q.end(), {0, static_cast<uint8_t>(type >> 8), static_cast<uint8_t>(type), 0, 1});
  return q;
}

TEST_CASE("The fixture answers in wire format our parser reads, over UDP and TCP", "[dns]") {
  DnsFixtureServer server;
  server.AddMx("Example.TEST", 10, "mx.example.test");
  std::optional<std::vector<uint8_t>> udp =
      UdpExchange(server.port(), QueryPacket("EXAMPLE.test", kDnsTypeMx), 2s);
  REQUIRE(udp);
  Result<DnsMessage> m = ParseDnsMessage(*udp);
  REQUIRE(m.ok());
  CHECK(m->header.id == 0x4242);
  CHECK(m->header.qr);
  CHECK(m->header.aa);
  REQUIRE(m->answers.size() == 1);
  CHECK(m->answers[0].target == "mx.example.test");

  std::vector<uint8_t> query = QueryPacket("example.test", kDnsTypeMx);
  std::vector<uint8_t> framed = {static_cast<uint8_t>(query.size() >> 8),
                                 static_cast<uint8_t>(query.size())};
  framed.insert(framed.end(), query.begin(), query.end());
  framed.insert(framed.end(), framed.begin(), framed.end());  // two pipelined queries
  std::vector<uint8_t> tcp = TcpExchange(server.port(), framed, 500ms);
  REQUIRE(tcp.size() > 2);
  size_t first = (tcp[0] << 8) | tcp[1];
  REQUIRE(tcp.size() == 2 * (2 + first));
  CHECK(ParseDnsMessage({tcp.data() + 2, first}).ok());
  CHECK(server.QueryCount("example.test", kDnsTypeMx, DnsFixtureServer::Transport::kUdp) == 1);
  CHECK(server.QueryCount("example.test", kDnsTypeMx, DnsFixtureServer::Transport::kTcp) == 2);

  // Unknown names: NXDOMAIN with an SOA; known names without the type: NODATA with an SOA.
  m = ParseDnsMessage(*UdpExchange(server.port(), QueryPacket("nope.test", kDnsTypeA), 2s));
  REQUIRE(m.ok());
  CHECK(m->header.rcode == 3);
  CHECK(m->authorities.size() == 1);
  m = ParseDnsMessage(*UdpExchange(server.port(), QueryPacket("example.test", kDnsTypeA), 2s));
  REQUIRE(m.ok());
  CHECK(m->header.rcode == 0);
  CHECK(m->answers.empty());
  REQUIRE(m->authorities.size() == 1);
  CHECK(m->authorities[0].type == kDnsTypeSoa);
}

TEST_CASE("The fixture survives garbage and keeps answering", "[dns]") {
  DnsFixtureServer server;
  server.AddA("alive.test", "192.0.2.99");
  using Bytes = std::vector<uint8_t>;
  std::vector<Bytes> garbage = {
      {},
      {0x12},
      {0x12, 0x34, 0x01, 0x00, 0, 1},                                            // header cut short
      {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0},                          // no question
      {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 0x0C, 0, 1, 0, 1},  // pointer loop
      {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0},                    // half a pointer
      {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 64, 'a'},        // label too long, cut short
      {0x12, 0x34, 0x01, 0x00, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1},  // two questions
      {0x12, 0x34, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1},  // a response
      {0x12, 0x34, 0x29, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1},  // opcode 5 (UPDATE)
  };
  std::mt19937 rng(20240101);
  for (int i = 0; i < 300; ++i) {
    Bytes b(rng() % 64);
    for (uint8_t& c : b) c = static_cast<uint8_t>(rng());
    if (b.size() >= 6 && (i % 2) == 0) {  // plausible headers reach the question parser
      b[2] = 0x01;
      b[4] = 0;
      b[5] = 1;
    }
    garbage.push_back(b);
  }
  for (const Bytes& b : garbage) UdpExchange(server.port(), b, 0ms);
  // TCP: a zero length, a length promising more than is sent, garbage framed correctly.
  TcpExchange(server.port(), {0, 0}, 100ms);
  TcpExchange(server.port(), {0xFF, 0xFF, 1, 2, 3}, 100ms);
  TcpExchange(server.port(), {0, 4, 0xC0, 0x0C, 0xC0, 0x0C}, 100ms);
  for (int i = 0; i < 20; ++i) {
    Bytes b(rng() % 40 + 1);
    for (uint8_t& c : b) c = static_cast<uint8_t>(rng());
    TcpExchange(server.port(), b, 20ms);
  }

  std::optional<Bytes> reply = UdpExchange(server.port(), QueryPacket("alive.test", kDnsTypeA), 2s);
  REQUIRE(reply);
  Result<DnsMessage> m = ParseDnsMessage(*reply);
  REQUIRE(m.ok());
  REQUIRE(m->answers.size() == 1);
  CHECK(m->answers[0].rdata == Bytes{192, 0, 2, 99});
  CHECK(server.MalformedPackets() > 100);
  // FORMERR to a question with a compression loop (the fifth packet).
  std::optional<Bytes> formerr = UdpExchange(server.port(), garbage[4], 2s);
  REQUIRE(formerr);
  REQUIRE(formerr->size() >= 12);
  CHECK(((*formerr)[3] & 0x0F) == 1);
}

TEST_CASE("The fixture sets AD only for secure names and never under CD", "[dns][dnssec]") {
  DnsFixtureServer server;
  server.AddA("secure.test", "192.0.2.1");
  server.AddA("plain.test", "192.0.2.2");
  server.AddA("bogus.test", "192.0.2.3");
  server.SetSecure("secure.test", true);
  server.SetBogus("bogus.test");
  auto ask = [&](const char* name, bool cd) {
    std::vector<uint8_t> q = QueryPacket(name, kDnsTypeA);
    if (cd) q[3] |= 0x10;
    std::optional<std::vector<uint8_t>> reply = UdpExchange(server.port(), q, 2s);
    REQUIRE(reply);
    Result<DnsMessage> m = ParseDnsMessage(*reply);
    REQUIRE(m.ok());
    return *m;
  };
  DnsMessage secure = ask("secure.test", false);
  CHECK(secure.header.ad);
  CHECK_FALSE(secure.header.cd);
  DnsMessage secure_cd = ask("secure.test", true);
  CHECK_FALSE(secure_cd.header.ad);
  CHECK(secure_cd.header.cd);
  CHECK(secure_cd.answers.size() == 1);
  CHECK_FALSE(ask("plain.test", false).header.ad);  // the global default is off
  DnsMessage bogus = ask("bogus.test", false);
  CHECK(bogus.header.rcode == 2);
  CHECK(bogus.answers.empty());
  DnsMessage bogus_cd = ask("bogus.test", true);
  CHECK(bogus_cd.header.rcode == 0);
  CHECK_FALSE(bogus_cd.header.ad);
  REQUIRE(bogus_cd.answers.size() == 1);
  CHECK(bogus_cd.answers[0].rdata == std::vector<uint8_t>{192, 0, 2, 3});

  // The global default, overridden per name both ways.
  server.SetAuthenticData(true);
  server.SetSecure("secure.test", false);
  CHECK(ask("plain.test", false).header.ad);
  CHECK_FALSE(ask("secure.test", false).header.ad);
  CHECK_FALSE(ask("bogus.test", true).header.ad);
  CHECK(ask("missing.test", false).header.ad);  // signed denial
}

TEST_CASE("The fixture serves PTR records with a compressed target", "[dns][reverse_dns]") {
  DnsFixtureServer server;
  server.AddPtr("1.2.0.192.in-addr.arpa", "mx.example.test");
  server.AddPtr("1.2.0.192.in-addr.arpa", "www.example.test");
  std::optional<std::vector<uint8_t>> reply =
      UdpExchange(server.port(), QueryPacket("1.2.0.192.in-addr.arpa", kDnsTypePtr), 2s);
  REQUIRE(reply);
  Result<DnsMessage> m = ParseDnsMessage(*reply);
  REQUIRE(m.ok());
  REQUIRE(m->answers.size() == 2);
  CHECK(m->answers[0].target == "mx.example.test");
  CHECK(m->answers[1].target == "www.example.test");
  // "www" then a pointer to "example.test" in the first target: 1 + 3 + 2 bytes.
  CHECK(m->answers[1].rdata.size() == 6);
}

}  // namespace
}  // namespace mxtls
