// A delaying TCP and UDP relay: the round trip of a real network, on one machine whose kernel
// has no netem. The benchmark world (bench/world.sh) runs it in the client namespace, where a
// whole address range (the "delayed" range, e.g. 10.88.0.0/16) is local through an AnyIP route;
// every connection to an address of that range is relayed to the address with the same host
// part in the server range (e.g. 10.77.0.0/16), with the delays below.
//
// The delay model (RTT = --rtt-ms):
//   - Data: every chunk read from one side is written to the other RTT/2 after it was read,
//     in order, so a request and its answer cost one RTT. TCP_NODELAY on both sides, so the
//     relay adds no Nagle wait of its own (the server's own Nagle/delayed-ACK behaviour stays).
//   - TCP handshake: the client's connect() completes at once (the relay's socket is local),
//     so the relay charges the handshake by connecting upstream only 1.5 x RTT after the
//     accept: one RTT for SYN / SYN-ACK and RTT/2 for the client's ACK to reach the server,
//     which is when a real server accepts and (SMTP being server-speaks-first) starts its
//     greeting. The greeting then takes RTT/2 back, so it arrives 2 x RTT after connect()
//     started, as over a real network. --connect-delay-ms overrides the 1.5 x RTT.
//   - Half-close and close travel like data: a read EOF becomes shutdown(SHUT_WR) on the other
//     side RTT/2 later; when both directions are done, both sockets are closed.
//   - UDP (DNS): every datagram is held RTT/2 each way; one upstream socket per client source
//     endpoint maps the replies back.
//   - Bandwidth, loss and jitter are not modelled.
//
// --tcp-port may be repeated (25 for SMTP, 53 for DNS over TCP).
// Accepted TCP connections are counted per destination address (the client-side address, the
// one the prober dialled); the counts are written to --counts=FILE on SIGUSR1 and at exit
// (SIGTERM/SIGINT), one "ADDRESS COUNT" line each, sorted by address.
//
// Single thread, event-driven (Asio callbacks and coroutines); RLIMIT_NOFILE is raised to its
// hard limit at start, so thousands of concurrent connections fit.
#include <sys/resource.h>
#include <sys/socket.h>

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <array>
#include <string>
#include <vector>

namespace {

using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using asio::ip::udp;
using Clock = std::chrono::steady_clock;
constexpr auto kNoError = asio::experimental::as_tuple(use_awaitable);

struct Options {
  std::vector<uint16_t> tcp_ports;  // each relayed to the same port upstream
  std::string tcp_listen = "0.0.0.0";
  std::vector<std::string> udp_listen;  // "ADDR:PORT", each relayed to the mapped ADDR:PORT
  uint32_t from_net = 0, to_net = 0, mask = 0;
  std::chrono::microseconds rtt{0};
  std::chrono::microseconds connect_delay{-1};
  std::string counts_file;
};

[[noreturn]] void Usage(const std::string& why) {
  std::cerr << "delay_relay: " << why << "\n"
            << "usage: delay_relay --map=FROM/LEN=TO --rtt-ms=N [--tcp-port=25]... [--tcp-listen=0.0.0.0]\n"
               "                   [--udp=ADDR:PORT]... [--connect-delay-ms=N] [--counts=FILE]\n";
  std::exit(2);
}

uint32_t ParseV4(const std::string& s) {
  asio::error_code ec;
  auto a = asio::ip::make_address_v4(s, ec);
  if (ec) Usage("not an IPv4 address: " + s);
  return a.to_uint();
}

Options ParseOptions(int argc, char** argv) {
  Options o;
  bool have_map = false, have_rtt = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto eq = arg.find('=');
    std::string key = arg.substr(0, eq), value = eq == std::string::npos ? "" : arg.substr(eq + 1);
    if (key == "--map") {  // 10.88.0.0/16=10.77.0.0
      auto slash = value.find('/'), to = value.find('=');
      if (slash == std::string::npos || to == std::string::npos || to < slash) Usage("bad --map: " + value);
      int len = std::stoi(value.substr(slash + 1, to - slash - 1));
      if (len < 8 || len > 32) Usage("--map prefix length must be 8..32");
      o.mask = len == 32 ? 0xffffffffu : ~((1u << (32 - len)) - 1);
      o.from_net = ParseV4(value.substr(0, slash)) & o.mask;
      o.to_net = ParseV4(value.substr(to + 1)) & o.mask;
      have_map = true;
    } else if (key == "--rtt-ms") {
      o.rtt = std::chrono::microseconds(static_cast<int64_t>(std::stod(value) * 1000));
      have_rtt = true;
    } else if (key == "--connect-delay-ms") {
      o.connect_delay = std::chrono::microseconds(static_cast<int64_t>(std::stod(value) * 1000));
    } else if (key == "--tcp-port") {
      o.tcp_ports.push_back(static_cast<uint16_t>(std::stoi(value)));
    } else if (key == "--tcp-listen") {
      o.tcp_listen = value;
    } else if (key == "--udp") {
      o.udp_listen.push_back(value);
    } else if (key == "--counts") {
      o.counts_file = value;
    } else {
      Usage("unknown argument " + arg);
    }
  }
  if (!have_map || !have_rtt) Usage("--map and --rtt-ms are required");
  if (o.connect_delay.count() < 0) o.connect_delay = o.rtt + o.rtt / 2;
  if (o.tcp_ports.empty()) o.tcp_ports.push_back(25);
  return o;
}

// The server-side address with the same host part, or nullopt outside the delayed range.
std::optional<asio::ip::address_v4> MapAddress(const Options& o, const asio::ip::address& a) {
  if (!a.is_v4()) return std::nullopt;
  uint32_t v = a.to_v4().to_uint();
  if ((v & o.mask) != o.from_net) return std::nullopt;
  return asio::ip::address_v4((v & ~o.mask) | o.to_net);
}

// One direction of a relayed connection: chunks read from `from`, each written to `to` once
// its due time has come; an empty chunk with `eof` stands for the half-close.
struct Chunk {
  Clock::time_point due;
  std::vector<char> bytes;
  bool eof = false;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket client, const Options& o)
      : client_(std::move(client)), upstream_(client_.get_executor()), opts_(o) {}

  static awaitable<void> Run(std::shared_ptr<Connection> self, tcp::endpoint target) {
    asio::steady_timer wait(self->client_.get_executor());
    asio::error_code ignored;
    self->client_.set_option(tcp::no_delay(true), ignored);
    // The data the client sends before the upstream exists waits in the client->upstream queue.
    auto up = std::make_shared<Direction>(self->client_.get_executor());
    auto down = std::make_shared<Direction>(self->client_.get_executor());
    auto ex = self->client_.get_executor();
    asio::co_spawn(ex, Read(self, up, &Connection::client_), asio::detached);
    wait.expires_after(self->opts_.connect_delay);
    co_await wait.async_wait(kNoError);
    auto [ec] = co_await self->upstream_.async_connect(target, kNoError);
    if (ec) {
      self->client_.close(ignored);
      up->Push({Clock::now(), {}, true});
      co_return;
    }
    self->upstream_.set_option(tcp::no_delay(true), ignored);
    asio::co_spawn(ex, Write(self, up, &Connection::upstream_), asio::detached);
    asio::co_spawn(ex, Read(self, down, &Connection::upstream_), asio::detached);
    asio::co_spawn(ex, Write(self, down, &Connection::client_), asio::detached);
  }

 private:
  struct Direction {
    explicit Direction(const asio::any_io_executor& ex) : wakeup(ex) { wakeup.expires_at(Clock::time_point::max()); }
    void Push(Chunk c) {
      queue.push_back(std::move(c));
      wakeup.cancel();
    }
    std::deque<Chunk> queue;
    asio::steady_timer wakeup;  // cancelled when a chunk arrives
  };

  static awaitable<void> Read(std::shared_ptr<Connection> self, std::shared_ptr<Direction> dir,
                              tcp::socket Connection::*from) {
    const auto half = self->opts_.rtt / 2;
    // One read buffer per direction, and a chunk of exactly the bytes read: a fresh zeroed
    // 16 KiB vector per read (memset and a large malloc) was about 8 % of the relay's CPU
    // samples, CPU the benchmark's probers and servers share on the same cores.
    std::vector<char> buf(16384);
    for (;;) {
      auto [ec, n] = co_await ((*self).*from).async_read_some(asio::buffer(buf), kNoError);
      if (ec) {  // EOF, reset or closed by us: the other side is half-closed after the delay
        dir->Push({Clock::now() + half, {}, true});
        co_return;
      }
      dir->Push({Clock::now() + half, std::vector<char>(buf.begin(), buf.begin() + n), false});
    }
  }

  static awaitable<void> Write(std::shared_ptr<Connection> self, std::shared_ptr<Direction> dir,
                               tcp::socket Connection::*to) {
    asio::steady_timer due(((*self).*to).get_executor());
    asio::error_code ignored;
    for (;;) {
      while (dir->queue.empty()) {
        dir->wakeup.expires_at(Clock::time_point::max());
        co_await dir->wakeup.async_wait(kNoError);
      }
      Chunk& c = dir->queue.front();
      if (c.due > Clock::now()) {
        due.expires_at(c.due);
        co_await due.async_wait(kNoError);
      }
      if (c.eof) {
        ((*self).*to).shutdown(tcp::socket::shutdown_send, ignored);
        dir->queue.pop_front();
        co_return;
      }
      auto [ec, n] = co_await asio::async_write(((*self).*to), asio::buffer(c.bytes), kNoError);
      dir->queue.pop_front();
      if (ec) {  // the receiver is gone: tear the whole connection down
        self->client_.close(ignored);
        self->upstream_.close(ignored);
        co_return;
      }
    }
  }

  tcp::socket client_;
  tcp::socket upstream_;
  const Options& opts_;
};

class Relay {
 public:
  Relay(asio::io_context& io, Options o) : io_(io), opts_(std::move(o)), signals_(io) {}

  void Start() {
    for (uint16_t port : opts_.tcp_ports) {
      tcp::endpoint listen(asio::ip::make_address(opts_.tcp_listen), port);
      auto a = std::make_shared<tcp::acceptor>(io_);
      a->open(listen.protocol());
      a->set_option(tcp::acceptor::reuse_address(true));
      a->bind(listen);
      a->listen(65535);  // capped by net.core.somaxconn
      acceptors_.push_back(a);
      Accept(a, port);
    }
    for (const auto& u : opts_.udp_listen) StartUdp(u);
    signals_.add(SIGUSR1);
    signals_.add(SIGTERM);
    signals_.add(SIGINT);
    WaitSignal();
  }

 private:
  void Accept(std::shared_ptr<tcp::acceptor> a, uint16_t port) {
    a->async_accept([this, a, port](asio::error_code ec, tcp::socket s) {
      if (!ec) {
        asio::error_code lec;
        auto local = s.local_endpoint(lec);
        auto mapped = lec ? std::nullopt : MapAddress(opts_, local.address());
        if (mapped) {
          ++accepted_[local.address().to_v4().to_uint()];
          auto c = std::make_shared<Connection>(std::move(s), opts_);
          asio::co_spawn(io_, Connection::Run(c, tcp::endpoint(*mapped, port)), asio::detached);
        }  // else: not in the delayed range; the socket closes here
      } else if (ec == asio::error::no_descriptors) {
        std::cerr << "delay_relay: out of file descriptors\n";
      }
      Accept(a, port);
    });
  }

  // UDP: one listening socket per --udp address, one upstream socket per client endpoint.
  struct UdpPort {
    explicit UdpPort(asio::io_context& io) : socket(io) {}
    udp::socket socket;
    udp::endpoint upstream;
    udp::endpoint sender;
    std::array<char, 65536> buf{};
    std::map<udp::endpoint, std::shared_ptr<udp::socket>> clients;
  };

  void StartUdp(const std::string& spec) {
    auto colon = spec.rfind(':');
    if (colon == std::string::npos) Usage("bad --udp " + spec);
    auto addr = asio::ip::make_address(spec.substr(0, colon));
    auto port = static_cast<uint16_t>(std::stoi(spec.substr(colon + 1)));
    auto mapped = MapAddress(opts_, addr);
    if (!mapped) Usage("--udp address outside the --map range: " + spec);
    auto p = std::make_shared<UdpPort>(io_);
    p->socket.open(udp::v4());
    BigBuffers(p->socket);
    p->socket.bind(udp::endpoint(addr, port));
    p->upstream = udp::endpoint(*mapped, port);
    udp_.push_back(p);
    UdpReceive(p);
  }

  void UdpReceive(std::shared_ptr<UdpPort> p) {
    p->socket.async_receive_from(asio::buffer(p->buf), p->sender, [this, p](asio::error_code ec, size_t n) {
      if (ec) {
        if (ec != asio::error::operation_aborted) UdpReceive(p);
        return;
      }
      auto& up = p->clients[p->sender];
      if (!up) {
        up = std::make_shared<udp::socket>(io_);
        up->open(udp::v4());
        BigBuffers(*up);
        up->connect(p->upstream);
        UpstreamReceive(p, up, p->sender);
      }
      Later(std::vector<char>(p->buf.data(), p->buf.data() + n), [up](const std::vector<char>& d) {
        asio::error_code ignored;
        up->send(asio::buffer(d), 0, ignored);
      });
      UdpReceive(p);
    });
  }

  void UpstreamReceive(std::shared_ptr<UdpPort> p, std::shared_ptr<udp::socket> up, udp::endpoint client) {
    auto buf = std::make_shared<std::array<char, 65536>>();
    up->async_receive(asio::buffer(*buf), [this, p, up, client, buf](asio::error_code ec, size_t n) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) {
        Later(std::vector<char>(buf->data(), buf->data() + n), [p, client](const std::vector<char>& d) {
          asio::error_code ignored;
          p->socket.send_to(asio::buffer(d), client, 0, ignored);
        });
      }
      UpstreamReceive(p, up, client);
    });
  }

  // A prober starting a thousand probes sends tens of thousands of queries in a burst: room
  // for them, past net.core.rmem_max (root may force it), so the relay drops no datagram.
  static void BigBuffers(udp::socket& s) {
    int size = 16 << 20;
    setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size);
    setsockopt(s.native_handle(), SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size);
  }

  template <typename Send>
  void Later(std::vector<char> data, Send send) {
    auto t = std::make_shared<asio::steady_timer>(io_, opts_.rtt / 2);
    t->async_wait([t, d = std::move(data), send](asio::error_code) { send(d); });
  }

  void WriteCounts() {
    if (opts_.counts_file.empty()) return;
    std::string tmp = opts_.counts_file + ".tmp";
    {
      std::ofstream out(tmp);
      for (auto [a, n] : accepted_) out << asio::ip::address_v4(a).to_string() << ' ' << n << '\n';
    }
    std::rename(tmp.c_str(), opts_.counts_file.c_str());
  }

  void WaitSignal() {
    signals_.async_wait([this](asio::error_code ec, int sig) {
      if (ec) return;
      WriteCounts();
      if (sig == SIGUSR1) {
        WaitSignal();
      } else {
        io_.stop();
      }
    });
  }

  asio::io_context& io_;
  Options opts_;
  std::vector<std::shared_ptr<tcp::acceptor>> acceptors_;
  asio::signal_set signals_;
  std::vector<std::shared_ptr<UdpPort>> udp_;
  std::map<uint32_t, uint64_t> accepted_;
};

void RaiseFileLimit() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o = ParseOptions(argc, argv);
  RaiseFileLimit();
  asio::io_context io(1);
  Relay relay(io, std::move(o));
  try {
    relay.Start();
  } catch (const std::exception& e) {
    std::cerr << "delay_relay: " << e.what() << '\n';
    return 1;
  }
  std::cout << "delay_relay: ready" << std::endl;
  io.run();
  return 0;
}
