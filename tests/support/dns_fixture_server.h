// A small in-memory DNS server for tests: it answers like a recursive resolver that knows
// every record itself (RA and AA set, CNAMEs chased inside the zone), over UDP and TCP on one
// loopback port, with per-name fault injection (RCODEs, silence, delay, forced truncation),
// a model of a validating resolver's DNSSEC answers (AD per name, bogus names that SERVFAIL
// unless CD is set) and per-(name, type, transport) query counters and flags for assertions.
//
// The wire encoding here is written independently of probes/judgement/dns_message.cc, so a bug on
// one side is not mirrored on the other.
#pragma once

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ip/udp.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <vector>

#include "config/config.h"

namespace mxtls::testing {

// Thread-safety: every public method may be called from any thread while the server runs.
// Names are case-insensitive and a trailing dot is ignored ("MX.Example.TEST." ==
// "mx.example.test"); they are plain LDH names (no escapes).
class DnsFixtureServer {
 public:
  struct Options {
    // Also listen on [::1] at the same port when the machine has ::1 (see has_ipv6()).
    bool ipv6 = false;
  };
  enum class Transport { kAny, kUdp, kTcp };

  // Binds 127.0.0.1 (and [::1]) UDP and TCP on one ephemeral port and starts serving on a
  // background thread. Throws std::runtime_error when it cannot bind.
  DnsFixtureServer() : DnsFixtureServer(Options{}) {}
  explicit DnsFixtureServer(Options options);
  // Stops the thread; in-flight delayed answers are never sent.
  ~DnsFixtureServer();
  DnsFixtureServer(const DnsFixtureServer&) = delete;
  DnsFixtureServer& operator=(const DnsFixtureServer&) = delete;

  uint16_t port() const { return port_; }
  bool has_ipv6() const { return has_ipv6_; }
  config::ResolverAddress address() const { return {"127.0.0.1", port_}; }
  config::ResolverAddress address_v6() const { return {"::1", port_}; }

  // ---- the zone (TTL 300) ----
  void AddA(std::string_view name, std::string_view ipv4);
  void AddAAAA(std::string_view name, std::string_view ipv6);
  // `target` "." (or "") publishes a null MX (RFC 7505).
  void AddMx(std::string_view name, uint16_t preference, std::string_view target);
  // Queries for other types at `name` are answered with the CNAME followed by the target's
  // records of the asked type (chased through further CNAMEs inside the zone). A target that
  // is not in the zone makes the answer NXDOMAIN, as a recursive resolver would report.
  void AddCname(std::string_view name, std::string_view target);
  // One TXT record of several character-strings (each at most 255 bytes).
  void AddTxt(std::string_view name, std::vector<std::string> strings);
  void AddTlsa(std::string_view name, uint8_t usage, uint8_t selector, uint8_t matching_type,
               std::vector<uint8_t> association_data);
  // `name` is the reverse name ("1.2.0.192.in-addr.arpa"); `target` is compressible. Several
  // calls for one name make a PTR RRset of several names.
  void AddPtr(std::string_view name, std::string_view target);
  // Any type with RDATA as given (no name compression inside it).
  void AddRecord(std::string_view name, uint16_t type, std::vector<uint8_t> rdata);
  // Forgets every record of `name`.
  void RemoveName(std::string_view name);

  // ---- fault injection for queries of `name` (type 0: every type) ----
  // Answer with `rcode` and no records (SERVFAIL, REFUSED, NXDOMAIN, ...).
  void SetRcode(std::string_view name, int rcode, uint16_t type = 0);
  // Never answer (UDP and TCP).
  void SetDrop(std::string_view name, uint16_t type = 0);
  void SetDelay(std::string_view name, std::chrono::milliseconds delay, uint16_t type = 0);
  // Over UDP answer with TC set and no records, so the client retries over TCP, where the
  // full answer is served. (Answers larger than the client's EDNS size, or 512 bytes without
  // EDNS, are truncated over UDP anyway.)
  void SetTruncate(std::string_view name, uint16_t type = 0);
  void ClearFaults(std::string_view name);
  // ---- DNSSEC, as a validating resolver would answer ----
  // The AD bit is set on NOERROR and NXDOMAIN answers when every name the answer touches (the
  // queried name and the CNAME targets followed) is secure, and the query did not set CD.
  // SetAuthenticData says whether names are secure by default; SetSecure overrides it per name
  // (so a test can have an insecure MX RRset whose MX host is secure).
  void SetAuthenticData(bool ad);
  void SetSecure(std::string_view name, bool secure);
  // Signatures that do not validate: SERVFAIL, unless the query sets CD, in which case the
  // normal answer is served without AD (RFC 4035 §3.2.2). Type 0: every type.
  void SetBogus(std::string_view name, uint16_t type = 0);
  // Answer FORMERR without OPT to queries that carry EDNS, like a pre-EDNS server.
  void SetRejectEdns(bool reject);

  // ---- what was received ----
  // Well-formed queries received for (name, type) over `transport`.
  int QueryCount(std::string_view name, uint16_t type, Transport transport = Transport::kAny) const;
  int TotalQueries() const;
  // The header and EDNS flags of each well-formed query, in arrival order.
  struct SeenQuery {
    std::string name;  // normalized
    uint16_t type = 0;
    Transport transport = Transport::kUdp;
    bool ad = false;         // AD asked (RFC 6840 §5.7)
    bool cd = false;         // checking disabled
    bool edns = false;       // carried an OPT record
    bool dnssec_ok = false;  // DO in the OPT record (RFC 3225)
  };
  std::vector<SeenQuery> Queries() const;
  // Packets and TCP messages that were not a well-formed query.
  int MalformedPackets() const;

  // Builds the answer to one query message, as the server would send it over `transport`.
  // Empty when the server would stay silent (dropped query, garbage without a header).
  // Public so that tests can check the fixture itself; counts like a received query.
  struct Reply {
    std::vector<uint8_t> message;
    std::chrono::milliseconds delay{0};
  };
  Reply Respond(const std::vector<uint8_t>& query, Transport transport);

 private:
  struct Record {
    uint16_t type = 0;
    std::vector<uint8_t> rdata_prefix;      // RDATA before `rdata_name` (or all of it)
    std::optional<std::string> rdata_name;  // CNAME target, MX exchange: compressible
  };
  struct Fault {
    std::optional<int> rcode;
    bool drop = false;
    std::chrono::milliseconds delay{0};
    bool truncate = false;
    bool bogus = false;
  };
  struct UdpListener;
  class TcpSession;

  void Add(std::string_view name, Record record);
  Fault& FaultFor(std::string_view name, uint16_t type);  // requires mu_
  void CountMalformed();
  void ReceiveUdp(UdpListener& listener);
  void Accept(asio::ip::tcp::acceptor& acceptor);

  asio::io_context io_;
  uint16_t port_ = 0;
  bool has_ipv6_ = false;
  std::unique_ptr<UdpListener> udp4_, udp6_;
  std::optional<asio::ip::tcp::acceptor> tcp4_, tcp6_;
  std::thread thread_;

  mutable std::mutex mu_;
  std::map<std::string, std::vector<Record>> zone_;
  std::map<std::pair<std::string, uint16_t>, Fault> faults_;
  bool authentic_data_ = false;
  std::map<std::string, bool> secure_;  // per-name override of authentic_data_
  std::vector<SeenQuery> seen_;
  bool reject_edns_ = false;
  std::map<std::tuple<std::string, uint16_t, Transport>, int> counts_;
  int total_queries_ = 0;
  int malformed_ = 0;
};

}  // namespace mxtls::testing
