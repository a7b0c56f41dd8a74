#include "tests/support/dns_fixture_server.h"

#include <arpa/inet.h>

#include <algorithm>
#include <asio/ip/v6_only.hpp>
#include <asio/read.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>
#include <memory>
#include <set>
#include <stdexcept>

namespace mxtls::testing {
namespace {

constexpr uint16_t kTypeCname = 5;
constexpr uint16_t kTypeSoa = 6;
constexpr uint16_t kTypePtr = 12;
constexpr uint16_t kTypeMx = 15;
constexpr uint16_t kTypeTxt = 16;
constexpr uint16_t kTypeOpt = 41;
constexpr uint16_t kTypeTlsa = 52;
constexpr int kRcodeFormErr = 1;
constexpr int kRcodeServFail = 2;
constexpr int kRcodeNxDomain = 3;
constexpr int kRcodeNotImp = 4;
constexpr uint32_t kTtl = 300;
constexpr size_t kMaxUdpAnswer = 4096;
constexpr int kMaxCnameHops = 8;

std::string Normalize(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  std::string out(name);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::vector<std::string> SplitLabels(const std::string& name) {
  std::vector<std::string> labels;
  if (name.empty()) return labels;
  size_t start = 0;
  for (;;) {
    size_t dot = name.find('.', start);
    labels.push_back(name.substr(start, dot - start));
    if (dot == std::string::npos) return labels;
    start = dot + 1;
  }
}

uint16_t Get16(const std::vector<uint8_t>& b, size_t at) {
  return static_cast<uint16_t>((b[at] << 8) | b[at + 1]);
}

// A response under construction, with RFC 1035 §4.1.4 name compression.
class Writer {
 public:
  size_t size() const { return buf_.size(); }
  std::vector<uint8_t> Take() { return std::move(buf_); }

  void U8(uint8_t v) { buf_.push_back(v); }
  void U16(uint16_t v) {
    buf_.push_back(static_cast<uint8_t>(v >> 8));
    buf_.push_back(static_cast<uint8_t>(v));
  }
  void U32(uint32_t v) {
    U16(static_cast<uint16_t>(v >> 16));
    U16(static_cast<uint16_t>(v));
  }
  void Bytes(const std::vector<uint8_t>& b) { buf_.insert(buf_.end(), b.begin(), b.end()); }
  void Set16(size_t at, uint16_t v) {
    buf_[at] = static_cast<uint8_t>(v >> 8);
    buf_[at + 1] = static_cast<uint8_t>(v);
  }
  // Makes `name` (normalized) available as a compression target at `offset`.
  void Remember(const std::string& name, size_t offset) {
    if (offset < 0x4000) offsets_.emplace(name, offset);
  }

  void Name(const std::string& name) {
    std::vector<std::string> labels = SplitLabels(name);
    for (size_t i = 0; i < labels.size(); ++i) {
      std::string suffix;
      for (size_t j = i; j < labels.size(); ++j) suffix += (j > i ? "." : "") + labels[j];
      auto it = offsets_.find(suffix);
      if (it != offsets_.end()) {
        U16(static_cast<uint16_t>(0xC000 | it->second));
        return;
      }
      Remember(suffix, buf_.size());
      U8(static_cast<uint8_t>(labels[i].size()));
      buf_.insert(buf_.end(), labels[i].begin(), labels[i].end());
    }
    U8(0);
  }

 private:
  std::vector<uint8_t> buf_;
  std::map<std::string, size_t> offsets_;
};

// The question of a query, read without accepting compression (no real client compresses a
// question, so a pointer there is garbage).
struct Query {
  uint16_t id = 0;
  uint8_t flags = 0;   // header byte 2
  uint8_t flags2 = 0;  // header byte 3: AD and CD
  int opcode = 0;
  std::string name;               // normalized
  std::vector<uint8_t> question;  // the raw question, echoed back
  uint16_t type = 0;
  bool edns = false;
  bool dnssec_ok = false;
  size_t edns_size = 512;
};

enum class ParseResult { kOk, kIgnore, kFormErr, kNotImp };

ParseResult ParseQuery(const std::vector<uint8_t>& q, Query* out) {
  if (q.size() < 12) return ParseResult::kIgnore;
  out->id = Get16(q, 0);
  out->flags = q[2];
  out->flags2 = q[3];
  if (q[2] & 0x80) return ParseResult::kIgnore;  // a response: never answer those
  out->opcode = (q[2] >> 3) & 0x0F;
  if (out->opcode != 0) return ParseResult::kNotImp;
  if (Get16(q, 4) != 1) return ParseResult::kFormErr;
  size_t at = 12, wire_length = 1;
  for (;;) {
    if (at >= q.size()) return ParseResult::kFormErr;
    uint8_t len = q[at];
    if (len == 0) break;
    if (len > 63) return ParseResult::kFormErr;  // pointers and reserved label types too
    if (at + 1 + len > q.size()) return ParseResult::kFormErr;
    wire_length += 1 + len;
    if (wire_length > 255) return ParseResult::kFormErr;
    if (!out->name.empty()) out->name += '.';
    out->name.append(reinterpret_cast<const char*>(&q[at + 1]), len);
    at += 1 + len;
  }
  at += 1;
  if (at + 4 > q.size()) return ParseResult::kFormErr;
  out->name = Normalize(out->name);
  out->type = Get16(q, at);
  out->question.assign(q.begin() + 12, q.begin() + static_cast<long>(at) + 4);
  at += 4;
  // An OPT record right after the question (queries carry no answer or authority records).
  if (Get16(q, 10) >= 1 && Get16(q, 6) == 0 && Get16(q, 8) == 0 && at + 11 <= q.size() &&
      q[at] == 0 && Get16(q, at + 1) == kTypeOpt) {
    out->edns = true;
    out->edns_size = std::clamp<size_t>(Get16(q, at + 3), 512, kMaxUdpAnswer);
    // TTL = extended RCODE, version, then the flags, whose top bit is DO.
    out->dnssec_ok = (q[at + 7] & 0x80) != 0;
  }
  return ParseResult::kOk;
}

std::vector<uint8_t> HeaderOnly(uint16_t id, uint8_t flags, int rcode) {
  Writer w;
  w.U16(id);
  w.U8(static_cast<uint8_t>(0x80 | (flags & 0x79)));  // QR, opcode and RD as asked
  w.U8(static_cast<uint8_t>(0x80 | rcode));
  for (int i = 0; i < 4; ++i) w.U16(0);
  return w.Take();
}

}  // namespace

struct DnsFixtureServer::UdpListener {
  explicit UdpListener(asio::io_context& io) : socket(io), buffer(65536) {}
  asio::ip::udp::socket socket;
  std::vector<uint8_t> buffer;
  asio::ip::udp::endpoint sender;
};

// One TCP connection: queries are answered one after another (c-ares may pipeline several).
class DnsFixtureServer::TcpSession : public std::enable_shared_from_this<TcpSession> {
 public:
  TcpSession(DnsFixtureServer* server, asio::ip::tcp::socket socket)
      : server_(server), socket_(std::move(socket)), timer_(socket_.get_executor()) {}

  void ReadLength() {
    asio::async_read(socket_, asio::buffer(length_),
                     [self = shared_from_this()](const std::error_code& ec, size_t) {
                       if (ec) return;
                       size_t size = (self->length_[0] << 8) | self->length_[1];
                       if (size == 0) {
                         self->server_->CountMalformed();
                         return;  // closes the connection
                       }
                       self->message_.assign(size, 0);
                       self->ReadBody();
                     });
  }

 private:
  void ReadBody() {
    asio::async_read(socket_, asio::buffer(message_),
                     [self = shared_from_this()](const std::error_code& ec, size_t) {
                       if (ec) return;
                       self->Answer();
                     });
  }

  void Answer() {
    Reply reply = server_->Respond(message_, Transport::kTcp);
    if (reply.message.empty()) {
      ReadLength();
      return;
    }
    out_.clear();
    out_.push_back(static_cast<uint8_t>(reply.message.size() >> 8));
    out_.push_back(static_cast<uint8_t>(reply.message.size()));
    out_.insert(out_.end(), reply.message.begin(), reply.message.end());
    timer_.expires_after(reply.delay);
    timer_.async_wait([self = shared_from_this()](const std::error_code& ec) {
      if (ec) return;
      asio::async_write(self->socket_, asio::buffer(self->out_),
                        [self](const std::error_code& ec, size_t) {
                          if (!ec) self->ReadLength();
                        });
    });
  }

  DnsFixtureServer* server_;
  asio::ip::tcp::socket socket_;
  asio::steady_timer timer_;
  uint8_t length_[2] = {0, 0};
  std::vector<uint8_t> message_;
  std::vector<uint8_t> out_;
};

DnsFixtureServer::DnsFixtureServer(Options options) {
  using asio::ip::tcp;
  using asio::ip::udp;
  std::error_code last_error;
  for (int attempt = 0; attempt < 20 && port_ == 0; ++attempt) {
    std::error_code ec;
    auto udp4 = std::make_unique<UdpListener>(io_);
    udp4->socket.open(udp::v4(), ec);
    if (!ec) udp4->socket.bind({asio::ip::make_address("127.0.0.1"), 0}, ec);
    if (ec) throw std::runtime_error("dns fixture: UDP bind 127.0.0.1: " + ec.message());
    uint16_t port = udp4->socket.local_endpoint().port();

    // TCP (and [::1]) must get the same port; when another socket holds it, start over.
    auto listen = [&](tcp::acceptor& acceptor, const tcp::endpoint& at, bool v6_only) {
      acceptor.open(at.protocol(), ec);
      if (!ec && v6_only) acceptor.set_option(asio::ip::v6_only(true), ec);
      if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
      if (!ec) acceptor.bind(at, ec);
      if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    };
    tcp::acceptor tcp4(io_);
    listen(tcp4, {asio::ip::make_address("127.0.0.1"), port}, false);
    if (ec) {
      last_error = ec;
      continue;
    }
    std::unique_ptr<UdpListener> udp6;
    std::optional<tcp::acceptor> tcp6;
    if (options.ipv6) {
      udp6 = std::make_unique<UdpListener>(io_);
      udp6->socket.open(udp::v6(), ec);
      if (!ec) udp6->socket.set_option(asio::ip::v6_only(true), ec);
      if (!ec) udp6->socket.bind({asio::ip::make_address("::1"), port}, ec);
      if (!ec) {
        tcp6.emplace(io_);
        listen(*tcp6, {asio::ip::make_address("::1"), port}, true);
      }
      if (ec == asio::error::address_in_use) {
        last_error = ec;
        continue;
      }
      if (ec) {  // no ::1 on this machine: serve IPv4 only
        udp6.reset();
        tcp6.reset();
      }
    }
    port_ = port;
    udp4_ = std::move(udp4);
    tcp4_.emplace(std::move(tcp4));
    if (udp6 && tcp6) {
      has_ipv6_ = true;
      udp6_ = std::move(udp6);
      tcp6_.emplace(std::move(*tcp6));
    }
  }
  if (port_ == 0) {
    throw std::runtime_error("dns fixture: no port free for UDP and TCP: " + last_error.message());
  }
  ReceiveUdp(*udp4_);
  Accept(*tcp4_);
  if (has_ipv6_) {
    ReceiveUdp(*udp6_);
    Accept(*tcp6_);
  }
  thread_ = std::thread([this] { io_.run(); });
}

DnsFixtureServer::~DnsFixtureServer() {
  io_.stop();
  thread_.join();
  // Sessions and delayed answers still queued are destroyed with io_.
}

void DnsFixtureServer::ReceiveUdp(UdpListener& l) {
  l.socket.async_receive_from(
      asio::buffer(l.buffer), l.sender, [this, &l](const std::error_code& ec, size_t n) {
        if (ec == asio::error::operation_aborted) return;
        if (!ec) {
          std::vector<uint8_t> query(l.buffer.begin(), l.buffer.begin() + static_cast<long>(n));
          Reply reply = Respond(query, Transport::kUdp);
          if (!reply.message.empty()) {
            auto timer = std::make_shared<asio::steady_timer>(io_, reply.delay);
            auto message = std::make_shared<std::vector<uint8_t>>(std::move(reply.message));
            timer->async_wait([&l, timer, message, to = l.sender](const std::error_code& ec) {
              std::error_code ignored;
              if (!ec) l.socket.send_to(asio::buffer(*message), to, 0, ignored);
            });
          }
        }
        ReceiveUdp(l);
      });
}

void DnsFixtureServer::Accept(asio::ip::tcp::acceptor& acceptor) {
  acceptor.async_accept([this, &acceptor](const std::error_code& ec, asio::ip::tcp::socket s) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) std::make_shared<TcpSession>(this, std::move(s))->ReadLength();
    Accept(acceptor);
  });
}

// ---- the zone ----

void DnsFixtureServer::Add(std::string_view name, Record record) {
  std::lock_guard<std::mutex> lock(mu_);
  zone_[Normalize(name)].push_back(std::move(record));
}

void DnsFixtureServer::AddA(std::string_view name, std::string_view ipv4) {
  std::vector<uint8_t> rdata(4);
  if (inet_pton(AF_INET, std::string(ipv4).c_str(), rdata.data()) != 1) {
    throw std::invalid_argument("dns fixture: bad IPv4 address " + std::string(ipv4));
  }
  Add(name, {1, std::move(rdata), std::nullopt});
}

void DnsFixtureServer::AddAAAA(std::string_view name, std::string_view ipv6) {
  std::vector<uint8_t> rdata(16);
  if (inet_pton(AF_INET6, std::string(ipv6).c_str(), rdata.data()) != 1) {
    throw std::invalid_argument("dns fixture: bad IPv6 address " + std::string(ipv6));
  }
  Add(name, {28, std::move(rdata), std::nullopt});
}

void DnsFixtureServer::AddMx(std::string_view name, uint16_t preference, std::string_view target) {
  Add(name, {kTypeMx,
             {static_cast<uint8_t>(preference >> 8), static_cast<uint8_t>(preference)},
             Normalize(target)});
}

void DnsFixtureServer::AddCname(std::string_view name, std::string_view target) {
  Add(name, {kTypeCname, {}, Normalize(target)});
}

void DnsFixtureServer::AddTxt(std::string_view name, std::vector<std::string> strings) {
  std::vector<uint8_t> rdata;
  for (const std::string& s : strings) {
    if (s.size() > 255) throw std::invalid_argument("dns fixture: TXT string over 255 bytes");
    rdata.push_back(static_cast<uint8_t>(s.size()));
    rdata.insert(rdata.end(), s.begin(), s.end());
  }
  Add(name, {kTypeTxt, std::move(rdata), std::nullopt});
}

void DnsFixtureServer::AddTlsa(std::string_view name, uint8_t usage, uint8_t selector,
                               uint8_t matching_type, std::vector<uint8_t> association_data) {
  std::vector<uint8_t> rdata{usage, selector, matching_type};
  rdata.insert(rdata.end(), association_data.begin(), association_data.end());
  Add(name, {kTypeTlsa, std::move(rdata), std::nullopt});
}

void DnsFixtureServer::AddPtr(std::string_view name, std::string_view target) {
  Add(name, {kTypePtr, {}, Normalize(target)});
}

void DnsFixtureServer::AddRecord(std::string_view name, uint16_t type, std::vector<uint8_t> rdata) {
  Add(name, {type, std::move(rdata), std::nullopt});
}

void DnsFixtureServer::RemoveName(std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  zone_.erase(Normalize(name));
}

// ---- faults ----

DnsFixtureServer::Fault& DnsFixtureServer::FaultFor(std::string_view name, uint16_t type) {
  return faults_[{Normalize(name), type}];
}

void DnsFixtureServer::SetRcode(std::string_view name, int rcode, uint16_t type) {
  std::lock_guard<std::mutex> lock(mu_);
  FaultFor(name, type).rcode = rcode;
}

void DnsFixtureServer::SetDrop(std::string_view name, uint16_t type) {
  std::lock_guard<std::mutex> lock(mu_);
  FaultFor(name, type).drop = true;
}

void DnsFixtureServer::SetDelay(std::string_view name, std::chrono::milliseconds delay,
                                uint16_t type) {
  std::lock_guard<std::mutex> lock(mu_);
  FaultFor(name, type).delay = delay;
}

void DnsFixtureServer::SetTruncate(std::string_view name, uint16_t type) {
  std::lock_guard<std::mutex> lock(mu_);
  FaultFor(name, type).truncate = true;
}

void DnsFixtureServer::ClearFaults(std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string n = Normalize(name);
  for (auto it = faults_.begin(); it != faults_.end();) {
    it = it->first.first == n ? faults_.erase(it) : std::next(it);
  }
}

void DnsFixtureServer::SetAuthenticData(bool ad) {
  std::lock_guard<std::mutex> lock(mu_);
  authentic_data_ = ad;
}

void DnsFixtureServer::SetSecure(std::string_view name, bool secure) {
  std::lock_guard<std::mutex> lock(mu_);
  secure_[Normalize(name)] = secure;
}

void DnsFixtureServer::SetBogus(std::string_view name, uint16_t type) {
  std::lock_guard<std::mutex> lock(mu_);
  FaultFor(name, type).bogus = true;
}

void DnsFixtureServer::SetRejectEdns(bool reject) {
  std::lock_guard<std::mutex> lock(mu_);
  reject_edns_ = reject;
}

// ---- counters ----

int DnsFixtureServer::QueryCount(std::string_view name, uint16_t type, Transport transport) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string n = Normalize(name);
  int total = 0;
  for (Transport t : {Transport::kUdp, Transport::kTcp}) {
    if (transport != Transport::kAny && transport != t) continue;
    auto it = counts_.find({n, type, t});
    if (it != counts_.end()) total += it->second;
  }
  return total;
}

int DnsFixtureServer::TotalQueries() const {
  std::lock_guard<std::mutex> lock(mu_);
  return total_queries_;
}

std::vector<DnsFixtureServer::SeenQuery> DnsFixtureServer::Queries() const {
  std::lock_guard<std::mutex> lock(mu_);
  return seen_;
}

int DnsFixtureServer::MalformedPackets() const {
  std::lock_guard<std::mutex> lock(mu_);
  return malformed_;
}

void DnsFixtureServer::CountMalformed() {
  std::lock_guard<std::mutex> lock(mu_);
  ++malformed_;
}

// ---- answering ----

DnsFixtureServer::Reply DnsFixtureServer::Respond(const std::vector<uint8_t>& query_bytes,
                                                  Transport transport) {
  std::lock_guard<std::mutex> lock(mu_);
  Reply reply;
  Query q;
  switch (ParseQuery(query_bytes, &q)) {
    case ParseResult::kOk:
      break;
    case ParseResult::kIgnore:
      ++malformed_;
      return reply;
    case ParseResult::kFormErr:
      ++malformed_;
      reply.message = HeaderOnly(q.id, q.flags, kRcodeFormErr);
      return reply;
    case ParseResult::kNotImp:
      ++malformed_;
      reply.message = HeaderOnly(q.id, q.flags, kRcodeNotImp);
      return reply;
  }
  ++total_queries_;
  ++counts_[{q.name, q.type, transport}];
  const bool query_cd = (q.flags2 & 0x10) != 0;
  seen_.push_back(
      {q.name, q.type, transport, (q.flags2 & 0x20) != 0, query_cd, q.edns, q.dnssec_ok});

  Fault fault;
  for (uint16_t t : {uint16_t{0}, q.type}) {  // a per-type fault refines a per-name one
    auto it = faults_.find({q.name, t});
    if (it == faults_.end()) continue;
    const Fault& f = it->second;
    if (f.rcode) fault.rcode = f.rcode;
    fault.drop |= f.drop;
    if (f.delay.count() > 0) fault.delay = f.delay;
    fault.truncate |= f.truncate;
    fault.bogus |= f.bogus;
  }
  // A validating resolver fails bogus answers; with CD it hands them out unvalidated.
  if (fault.bogus && !query_cd && !fault.rcode) fault.rcode = kRcodeServFail;
  if (fault.drop) return reply;
  reply.delay = fault.delay;
  if (q.edns && reject_edns_) {
    // Like a pre-EDNS server: FORMERR, the question echoed, no OPT.
    fault.rcode = kRcodeFormErr;
    q.edns = false;
  }

  // Collect the answer: the records at the name, or its CNAME chain.
  struct Answer {
    std::string owner;
    const Record* record;
  };
  std::vector<Answer> answers;
  int rcode = 0;
  std::string current = q.name;
  std::set<std::string> seen{current};
  if (fault.rcode) {
    rcode = *fault.rcode;
  } else {
    for (int hop = 0; hop <= kMaxCnameHops; ++hop) {
      auto it = zone_.find(current);
      if (it == zone_.end() || it->second.empty()) {
        rcode = kRcodeNxDomain;
        break;
      }
      const Record* cname = nullptr;
      bool found = false;
      for (const Record& r : it->second) {
        if (r.type == q.type) {
          answers.push_back({current, &r});
          found = true;
        } else if (r.type == kTypeCname) {
          cname = &r;
        }
      }
      if (found || cname == nullptr || q.type == kTypeCname) break;
      answers.push_back({current, cname});
      current = *cname->rdata_name;
      if (!seen.insert(current).second) break;  // a loop in the zone: serve it as it is
    }
  }

  // AD: only for data a validator vouches for (RFC 4035 §3.2.3), only when every name in the
  // answer is secure, never for a bogus answer handed out under CD.
  bool secure = true;
  for (const std::string& name : seen) {
    auto it = secure_.find(name);
    secure = secure && (it != secure_.end() ? it->second : authentic_data_);
  }
  const bool ad = secure && !query_cd && !fault.bogus && (rcode == 0 || rcode == kRcodeNxDomain);
  bool truncate = transport == Transport::kUdp && fault.truncate;
  auto build = [&](bool with_records) {
    Writer w;
    w.U16(q.id);
    w.U8(static_cast<uint8_t>(0x80 | (q.flags & 0x79) | 0x04 | (with_records ? 0 : 0x02)));
    w.U8(static_cast<uint8_t>(0x80 | (ad ? 0x20 : 0) | (query_cd ? 0x10 : 0) | rcode));
    w.U16(1);
    size_t counts_at = w.size();
    w.U16(0);  // answers
    w.U16(0);  // authority
    w.U16(q.edns ? 1 : 0);
    w.Remember(q.name, w.size());
    w.Bytes(q.question);
    uint16_t ancount = 0, nscount = 0;
    if (with_records) {
      for (const Answer& a : answers) {
        w.Name(a.owner);
        w.U16(a.record->type);
        w.U16(1);
        w.U32(kTtl);
        size_t rdlength_at = w.size();
        w.U16(0);
        w.Bytes(a.record->rdata_prefix);
        if (a.record->rdata_name) w.Name(*a.record->rdata_name);
        w.Set16(rdlength_at, static_cast<uint16_t>(w.size() - rdlength_at - 2));
        ++ancount;
      }
      bool negative = answers.empty() || answers.back().record->type == kTypeCname;
      if (negative && (rcode == 0 || rcode == kRcodeNxDomain)) {
        // Negative answer: an SOA for the closest "zone" (the last two labels).
        std::vector<std::string> labels = SplitLabels(current);
        std::string zone;
        for (size_t i = labels.size() > 2 ? labels.size() - 2 : 0; i < labels.size(); ++i) {
          zone += (zone.empty() ? "" : ".") + labels[i];
        }
        w.Name(zone);
        w.U16(kTypeSoa);
        w.U16(1);
        w.U32(kTtl);
        size_t rdlength_at = w.size();
        w.U16(0);
        w.Name("ns.fixture.invalid");
        w.Name("hostmaster.fixture.invalid");
        for (uint32_t v : {1u, 3600u, 600u, 86400u, 60u}) w.U32(v);
        w.Set16(rdlength_at, static_cast<uint16_t>(w.size() - rdlength_at - 2));
        ++nscount;
      }
    }
    if (q.edns) {
      w.U8(0);
      w.U16(kTypeOpt);
      w.U16(1232);
      w.U32(0);
      w.U16(0);
    }
    w.Set16(counts_at, ancount);
    w.Set16(counts_at + 2, nscount);
    return w.Take();
  };
  reply.message = build(!truncate);
  size_t limit = q.edns ? q.edns_size : 512;
  if (transport == Transport::kUdp && reply.message.size() > limit) reply.message = build(false);
  return reply;
}

}  // namespace mxtls::testing
