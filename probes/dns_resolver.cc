#include "probes/dns_resolver.h"

#include <arpa/inet.h>
#include <poll.h>

#include <algorithm>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <mutex>

namespace mxtls {
namespace {

// DNS flag day 2020: a UDP payload size that avoids IP fragmentation.
constexpr int kEdnsPayloadSize = 1232;
constexpr int kSocketReceiveBuffer = 4 << 20;  // 4 MiB, if net.core.rmem_max allows
// Bound on ares_process_fd calls per readiness report; see OnSocketReady.
constexpr int kMaxReadsPerWakeup = 16;

bool StillReadable(ares_socket_t fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN) != 0;
}

// Sets DO (RFC 3225) in the OPT record ares_create_query appends last when given a UDP size:
// root name (1 byte), TYPE 41, CLASS = payload size, TTL = extended RCODE, version, flags
// (DO is the top bit of the flags' high byte), RDLENGTH 0. So DO sits at query[len - 4]. The
// layout is checked rather than assumed, so a c-ares that builds the record differently
// leaves the query without DO instead of corrupting it.
void SetDnssecOk(unsigned char* query, int len) {
  constexpr int kOptSize = 11;
  if (len < 12 + kOptSize) return;
  const unsigned char* opt = query + len - kOptSize;
  bool has_one_additional = query[10] == 0 && query[11] == 1;
  bool is_opt = opt[0] == 0 && opt[1] == 0 && opt[2] == kDnsTypeOpt && opt[9] == 0 && opt[10] == 0;
  if (has_one_additional && is_opt) query[len - 4] |= 0x80;
}

RawLookup Failed(std::string_view reason, std::string message) {
  RawLookup raw;
  raw.status = Status::Error(reason, std::move(message));
  return raw;
}

// What the c-ares callback reports, as a RawLookup.
RawLookup FromAres(int status, int timeouts, const unsigned char* abuf, int alen,
                   const std::string& what) {
  switch (status) {
    case ARES_SUCCESS:
      break;
    case ARES_ETIMEOUT:
      return Failed("timeout",
                    what + ": no answer (" + std::to_string(timeouts) + " attempts timed out)");
    case ARES_ECONNREFUSED:
      return Failed("dns_error", what + ": connection refused by the DNS server");
    case ARES_EDESTRUCTION:
      return Failed("dns_error", what + ": resolver shut down");
    default:
      return Failed("dns_error", what + ": " + ares_strerror(status));
  }
  if (abuf == nullptr || alen < 12) {
    return Failed("dns_error", what + ": malformed answer: shorter than a DNS header");
  }
  RawLookup raw;
  raw.rcode = abuf[3] & 0x0F;
  raw.authentic_data = (abuf[3] & 0x20) != 0;
  raw.answer.assign(abuf, abuf + alen);
  raw.status = StatusForRcode(raw.rcode, what);
  return raw;
}

}  // namespace

// One lookup, shared by the awaiting coroutine and the c-ares callback. Whichever finishes
// first sets `done`; the other then does nothing. The coroutine never touches the resolver
// after it suspends, and the callback only touches this state, so either side may outlive the
// resolver or the other side.
struct DnsResolver::QueryState {
  QueryState(asio::io_context& io, std::string w) : deadline(io), what(std::move(w)) {}
  asio::steady_timer deadline;  // cancelled by the callback to wake the coroutine early
  std::string what;             // "example.com MX", for messages
  bool done = false;
  RawLookup result;
};

// The c-ares callback argument. c-ares calls back only from inside ares_send,
// ares_process_fd and ares_destroy, all of which the resolver calls itself, so `resolver`
// is always alive when the callback runs.
struct DnsResolver::PendingQuery {
  DnsResolver* resolver;
  std::shared_ptr<QueryState> state;
};

struct DnsResolver::SocketWatch {
  SocketWatch(asio::io_context& io, uint64_t watch_id) : descriptor(io), id(watch_id) {}
  // Borrowed fd: always release()d, never closed (c-ares closes its sockets itself).
  asio::posix::stream_descriptor descriptor;
  uint64_t id;  // tells this watch from a later one on a reused fd number
  bool want_read = false;
  bool want_write = false;
  bool read_armed = false;
  bool write_armed = false;
};

void DnsResolver::ChannelDeleter::operator()(ares_channel channel) const { ares_destroy(channel); }

Result<std::unique_ptr<DnsResolver>> DnsResolver::Create(asio::io_context& io,
                                                         const config::DnsConfig& config) {
  static std::once_flag once;
  static int library_status = ARES_SUCCESS;
  std::call_once(once, [] { library_status = ares_library_init(ARES_LIB_INIT_ALL); });
  if (library_status != ARES_SUCCESS) {
    return Status::Error("dns_error",
                         std::string("c-ares library init: ") + ares_strerror(library_status));
  }
  std::unique_ptr<DnsResolver> resolver(new DnsResolver(io, config));
  Status s = resolver->Init();
  if (!s.ok()) return s;
  return Result<std::unique_ptr<DnsResolver>>(std::move(resolver));
}

DnsResolver::DnsResolver(asio::io_context& io, const config::DnsConfig& config)
    : io_(io), config_(config), self_(std::make_shared<DnsResolver*>(this)), timer_(io) {}

Status DnsResolver::Init() {
  ares_options options{};
  int mask = 0;
  // NOSEARCH: probe names are absolute. NOCHECKRESP: hand SERVFAIL/REFUSED to us instead of
  // trying the next server and finally reporting a generic failure. EDNS: lets c-ares retry
  // without the OPT record when an old server answers FORMERR.
  options.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOCHECKRESP | ARES_FLAG_EDNS;
  mask |= ARES_OPT_FLAGS;
  options.timeout = static_cast<int>(std::max<int64_t>(1, config_.timeout.count()));
  mask |= ARES_OPT_TIMEOUTMS;
  options.tries = std::max(1, config_.attempts);
  mask |= ARES_OPT_TRIES;
  options.ednspsz = kEdnsPayloadSize;
  mask |= ARES_OPT_EDNSPSZ;
  mask |= ARES_OPT_NOROTATE;  // servers in the configured order, like the MTA's resolver
  // Every answer of a loop arrives on one UDP socket per server: a burst of probes starting
  // together (a hosting fleet's scrapes, a restart) can outrun the default 208 KiB buffer while
  // the loop is busy with handshakes, and a dropped answer costs a whole dns.timeout. The kernel
  // caps this at net.core.rmem_max (README: "Many probes at once").
  options.socket_receive_buffer_size = kSocketReceiveBuffer;
  mask |= ARES_OPT_SOCK_RCVBUF;
  options.sock_state_cb = &DnsResolver::OnSocketState;
  options.sock_state_cb_data = this;
  mask |= ARES_OPT_SOCK_STATE_CB;

  ares_channel channel = nullptr;
  int rc = ares_init_options(&channel, &options, mask);
  if (rc != ARES_SUCCESS) {
    return Status::Error("dns_error", std::string("c-ares init: ") + ares_strerror(rc));
  }
  channel_.reset(channel);

  if (!config_.resolvers.empty()) {
    std::string csv;
    for (const config::ResolverAddress& r : config_.resolvers) {
      if (!csv.empty()) csv += ",";
      csv += r.ToString();
    }
    rc = ares_set_servers_ports_csv(channel_.get(), csv.c_str());
    if (rc != ARES_SUCCESS) {
      return Status::Error("dns_error", "c-ares servers \"" + csv + "\": " + ares_strerror(rc));
    }
  }
  return Status();
}

DnsResolver::~DnsResolver() {
  *self_ = nullptr;  // handlers already queued on the io_context become no-ops
  // Runs every pending callback with ARES_EDESTRUCTION (which wakes the waiting coroutines
  // through their own timers) and reports every socket closed through OnSocketState, which
  // releases the descriptors before c-ares closes the fds.
  channel_.reset();
  for (auto& [fd, watch] : watches_) watch->descriptor.release();
  watches_.clear();
  timer_.cancel();
}

asio::awaitable<RawLookup> DnsResolver::LookupRaw(std::string name, uint16_t type,
                                                  TimePoint deadline, QueryFlags flags) {
  std::string what = name + " " + DnsTypeName(type) + (flags.checking_disabled ? " (CD)" : "");
  if (std::chrono::steady_clock::now() >= deadline) {
    co_return Failed("timeout", what + ": deadline passed before the query was sent");
  }
  if (name.find('\0') != std::string::npos) {
    co_return Failed("dns_error", what + ": name contains a NUL byte");
  }
  unsigned char* query = nullptr;
  int query_len = 0;
  int rc = ares_create_query(name.c_str(), kDnsClassIn, type, /*id=*/0, /*rd=*/1, &query,
                             &query_len, kEdnsPayloadSize);
  if (rc != ARES_SUCCESS) {
    co_return Failed("dns_error", what + ": cannot build a query: " + ares_strerror(rc));
  }
  query[3] |= 0x20;  // AD: ask a validating resolver to tell us (RFC 6840 §5.7)
  if (flags.checking_disabled) query[3] |= 0x10;  // CD (RFC 4035 §3.2.2)
  SetDnssecOk(query, query_len);

  auto state = std::make_shared<QueryState>(io_, std::move(what));
  ++queries_in_flight_;
  // ares_send sets its own query ID. It may call OnAnswer before returning (no servers, out
  // of memory), so `done` is checked before waiting.
  ares_send(channel_.get(), query, query_len, &DnsResolver::OnAnswer,
            new PendingQuery{this, state});
  ares_free_string(query);
  ScheduleTimeouts();

  if (!state->done) {
    state->deadline.expires_at(deadline);
    std::error_code ec;
    co_await state->deadline.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    // From here on `this` may be gone: only `state` is used.
    if (!state->done) {
      state->done = true;  // a late answer is dropped by OnAnswer
      co_return Failed("timeout", state->what + (ec == asio::error::operation_aborted
                                                     ? ": lookup cancelled"
                                                     : ": no answer within the deadline"));
    }
  }
  co_return std::move(state->result);
}

asio::awaitable<MxLookup> DnsResolver::LookupMx(std::string name, TimePoint deadline) {
  RawLookup raw = co_await LookupRaw(name, kDnsTypeMx, deadline);
  co_return InterpretMxAnswer(name, raw);
}

asio::awaitable<AddressLookup> DnsResolver::LookupA(std::string name, TimePoint deadline) {
  RawLookup raw = co_await LookupRaw(name, kDnsTypeA, deadline);
  co_return InterpretAddressAnswer(name, kDnsTypeA, raw);
}

asio::awaitable<AddressLookup> DnsResolver::LookupAAAA(std::string name, TimePoint deadline) {
  RawLookup raw = co_await LookupRaw(name, kDnsTypeAaaa, deadline);
  co_return InterpretAddressAnswer(name, kDnsTypeAaaa, raw);
}

asio::awaitable<TxtLookup> DnsResolver::LookupTxt(std::string name, TimePoint deadline) {
  RawLookup raw = co_await LookupRaw(name, kDnsTypeTxt, deadline);
  co_return InterpretTxtAnswer(name, raw);
}

asio::awaitable<TlsaLookup> DnsResolver::LookupTlsa(std::string name, TimePoint deadline) {
  RawLookup raw = co_await LookupRaw(name, kDnsTypeTlsa, deadline);
  co_return InterpretTlsaAnswer(name, raw);
}

asio::awaitable<PtrLookup> DnsResolver::LookupPtr(std::string address, TimePoint deadline) {
  Result<std::string> name = ReverseLookupName(address);
  if (!name.ok()) {
    PtrLookup out;
    out.status = name.status();
    co_return out;
  }
  RawLookup raw = co_await LookupRaw(*name, kDnsTypePtr, deadline);
  co_return InterpretPtrAnswer(*name, raw);
}

// ---- DNSSEC ----

asio::awaitable<DnssecLookup<RawLookup>> DnsResolver::LookupRawDnssec(std::string name,
                                                                      uint16_t type,
                                                                      TimePoint deadline,
                                                                      bool resolver_validates) {
  DnssecLookup<RawLookup> out;
  // The resolver may be destroyed while the first query is in flight (see the header): the
  // retry is sent only when it is still there.
  std::shared_ptr<DnsResolver*> self = self_;
  out.answer = co_await LookupRaw(name, type, deadline);
  DnssecAnswer first{out.answer.rcode, out.answer.authentic_data};
  std::optional<DnssecAnswer> retry;
  if (NeedsCheckingDisabledRetry(resolver_validates, first) && *self != nullptr) {
    RawLookup cd = co_await (*self)->LookupRaw(name, type, deadline, {.checking_disabled = true});
    out.cd_retried = true;
    retry = DnssecAnswer{cd.rcode, cd.authentic_data};
    out.dnssec = ClassifyDnssec(resolver_validates, first, retry);
    if (out.dnssec == DnssecStatus::kBogus) out.answer = std::move(cd);
    co_return out;
  }
  out.dnssec = ClassifyDnssec(resolver_validates, first, retry);
  co_return out;
}

namespace {

template <typename T, typename Interpret>
DnssecLookup<T> Typed(DnssecLookup<RawLookup> raw, Interpret interpret) {
  DnssecLookup<T> out;
  out.answer = interpret(raw.answer);
  out.dnssec = raw.dnssec;
  out.cd_retried = raw.cd_retried;
  return out;
}

}  // namespace

asio::awaitable<DnssecLookup<MxLookup>> DnsResolver::LookupMxDnssec(std::string name,
                                                                    TimePoint deadline,
                                                                    bool resolver_validates) {
  DnssecLookup<RawLookup> raw =
      co_await LookupRawDnssec(name, kDnsTypeMx, deadline, resolver_validates);
  co_return Typed<MxLookup>(std::move(raw),
                            [&](const RawLookup& r) { return InterpretMxAnswer(name, r); });
}

asio::awaitable<DnssecLookup<AddressLookup>> DnsResolver::LookupADnssec(std::string name,
                                                                        TimePoint deadline,
                                                                        bool resolver_validates) {
  DnssecLookup<RawLookup> raw =
      co_await LookupRawDnssec(name, kDnsTypeA, deadline, resolver_validates);
  co_return Typed<AddressLookup>(std::move(raw), [&](const RawLookup& r) {
    return InterpretAddressAnswer(name, kDnsTypeA, r);
  });
}

asio::awaitable<DnssecLookup<AddressLookup>> DnsResolver::LookupAAAADnssec(
    std::string name, TimePoint deadline, bool resolver_validates) {
  DnssecLookup<RawLookup> raw =
      co_await LookupRawDnssec(name, kDnsTypeAaaa, deadline, resolver_validates);
  co_return Typed<AddressLookup>(std::move(raw), [&](const RawLookup& r) {
    return InterpretAddressAnswer(name, kDnsTypeAaaa, r);
  });
}

asio::awaitable<DnssecLookup<TlsaLookup>> DnsResolver::LookupTlsaDnssec(std::string name,
                                                                        TimePoint deadline,
                                                                        bool resolver_validates) {
  DnssecLookup<RawLookup> raw =
      co_await LookupRawDnssec(name, kDnsTypeTlsa, deadline, resolver_validates);
  co_return Typed<TlsaLookup>(std::move(raw),
                              [&](const RawLookup& r) { return InterpretTlsaAnswer(name, r); });
}

asio::awaitable<ValidationCheck> CheckResolverValidates(DnsResolver& resolver, std::string name,
                                                        DnsResolver::TimePoint deadline) {
  std::string servers = resolver.DescribeServers();
  RawLookup raw = co_await resolver.LookupRaw(name, kDnsTypeSoa, deadline);
  ValidationCheck out;
  out.rcode = raw.rcode;
  out.authentic_data = raw.authentic_data;
  out.status = raw.status;
  out.validates = raw.status.ok() && raw.rcode == kDnsRcodeNoError && raw.authentic_data;
  std::string asked = "DNS resolver " + servers + ", asked \"" + name + "\" SOA with DO+AD: ";
  if (raw.rcode < 0) {
    out.message = asked + "no answer (" + raw.status.message() +
                  "); DNSSEC validation unknown, treated as not validating";
  } else if (out.validates) {
    out.message = asked + "NOERROR with AD: the resolver validates DNSSEC";
  } else {
    out.message = asked + DnsRcodeName(raw.rcode) +
                  (raw.authentic_data ? " with AD" : " without AD") +
                  ": the resolver does not validate DNSSEC (no DNSSEC status will be secure)";
  }
  co_return out;
}

void DnsResolver::OnAnswer(void* arg, int status, int timeouts, unsigned char* abuf, int alen) {
  std::unique_ptr<PendingQuery> pending(static_cast<PendingQuery*>(arg));
  --pending->resolver->queries_in_flight_;
  QueryState& state = *pending->state;
  if (state.done) return;  // the deadline came first
  state.done = true;
  state.result = FromAres(status, timeouts, abuf, alen, state.what);
  // Wakes the coroutine through the io_context (cancel never runs the handler inline), so
  // it resumes outside c-ares and may start new lookups or destroy the resolver.
  state.deadline.cancel();
}

std::string DnsResolver::DescribeServers() const {
  std::string out;
  ares_addr_port_node* servers = nullptr;
  if (ares_get_servers_ports(channel_.get(), &servers) == ARES_SUCCESS) {
    for (ares_addr_port_node* s = servers; s != nullptr; s = s->next) {
      char text[INET6_ADDRSTRLEN] = "?";
      inet_ntop(s->family, &s->addr, text, sizeof(text));
      if (!out.empty()) out += ", ";
      int port = s->udp_port != 0 ? s->udp_port : 53;
      out += s->family == AF_INET6 ? "[" + std::string(text) + "]:" + std::to_string(port)
                                   : std::string(text) + ":" + std::to_string(port);
    }
    ares_free_data(servers);
  }
  if (out.empty()) out = "no servers";
  return out + " (timeout " + std::to_string(config_.timeout.count()) + "ms, " +
         std::to_string(std::max(1, config_.attempts)) + " attempts)";
}

// ---- c-ares sockets and timeouts on the io_context ----

void DnsResolver::OnSocketState(void* data, ares_socket_t fd, int readable, int writable) {
  static_cast<DnsResolver*>(data)->WatchSocket(fd, readable != 0, writable != 0);
}

void DnsResolver::WatchSocket(ares_socket_t fd, bool readable, bool writable) {
  auto it = watches_.find(fd);
  if (!readable && !writable) {
    // c-ares is about to close the fd: stop watching (pending waits end with
    // operation_aborted) and hand the fd back without closing it.
    if (it != watches_.end()) {
      it->second->descriptor.release();
      watches_.erase(it);
    }
    return;
  }
  if (it == watches_.end()) {
    auto watch = std::make_unique<SocketWatch>(io_, next_watch_id_++);
    std::error_code ec;
    watch->descriptor.assign(fd, ec);
    // Without a watch the query still ends through c-ares' own timeout.
    if (ec) return;
    it = watches_.emplace(fd, std::move(watch)).first;
  }
  it->second->want_read = readable;
  it->second->want_write = writable;
  Arm(fd, *it->second);
}

void DnsResolver::Arm(ares_socket_t fd, SocketWatch& watch) {
  auto arm = [&](Direction direction, bool& armed) {
    armed = true;
    watch.descriptor.async_wait(
        direction == Direction::kRead ? asio::posix::stream_descriptor::wait_read
                                      : asio::posix::stream_descriptor::wait_write,
        [self = self_, fd, id = watch.id, direction](const std::error_code& ec) {
          if (DnsResolver* resolver = *self) resolver->OnSocketReady(fd, id, direction, ec);
        });
  };
  if (watch.want_read && !watch.read_armed) arm(Direction::kRead, watch.read_armed);
  if (watch.want_write && !watch.write_armed) arm(Direction::kWrite, watch.write_armed);
}

void DnsResolver::OnSocketReady(ares_socket_t fd, uint64_t watch_id, Direction direction,
                                const std::error_code& ec) {
  auto find = [&]() -> SocketWatch* {
    auto it = watches_.find(fd);
    return it != watches_.end() && it->second->id == watch_id ? it->second.get() : nullptr;
  };
  SocketWatch* watch = find();
  if (watch == nullptr) return;  // a watch that c-ares has closed since
  (direction == Direction::kRead ? watch->read_armed : watch->write_armed) = false;
  if (ec == asio::error::operation_aborted) return;

  if (direction == Direction::kRead) {
    // c-ares expects level-triggered readiness (it was written for select/poll): a TCP answer
    // takes one ares_process_fd call for the length prefix and another for the body, while
    // Asio's epoll reactor is edge-triggered. Rather than depend on how a re-armed wait
    // reports data that is already there, keep calling while the socket stays readable and
    // c-ares still has the same socket open.
    for (int i = 0; i < kMaxReadsPerWakeup; ++i) {
      ares_process_fd(channel_.get(), fd, ARES_SOCKET_BAD);
      if (find() == nullptr || !StillReadable(fd)) break;
    }
  } else {
    ares_process_fd(channel_.get(), ARES_SOCKET_BAD, fd);
  }
  ScheduleTimeouts();
  // ares_process_fd may have closed the socket, or closed it and opened another on the same
  // fd number: look the watch up again.
  watch = find();
  if (watch != nullptr && !ec) Arm(fd, *watch);
}

void DnsResolver::ScheduleTimeouts() {
  timeval tv{};
  if (ares_timeout(channel_.get(), nullptr, &tv) == nullptr) {
    timer_.cancel();  // nothing in flight
    return;
  }
  timer_.expires_after(std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec));
  timer_.async_wait([self = self_](const std::error_code& ec) {
    if (ec == asio::error::operation_aborted) return;
    DnsResolver* resolver = *self;
    if (resolver == nullptr) return;
    ares_process_fd(resolver->channel_.get(), ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    resolver->ScheduleTimeouts();
  });
}

}  // namespace mxtls
