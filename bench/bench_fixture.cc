// mxtls_bench_fixture: the mail world the benchmark (bench/run.sh) probes. It starts, on
// loopback only:
//   - N STARTTLS SMTP servers (SmtpFixtureServer), server k on 127.1.x.y, all on one port,
//     each presenting its own leaf (SANs mxK.bench.test and the shared name mx.bench.test)
//     plus the intermediate of one private TestPki;
//   - optionally M more servers for the "scale" domain (127.2.x.y, same port), each with its
//     own greeting delay, all MX hosts of one domain;
//   - a DnsFixtureServer on 127.0.0.1 answering dK.bench.test MX 10 mxK.bench.test,
//     mxK.bench.test A 127.1.x.y, and scale.bench.test MX 10 mxJ.scale.bench.test.
// It writes the root CA, the ports and the target lists to --out, then `ready` last, and runs
// until SIGTERM/SIGINT. SIGUSR1 (and the exit) write session statistics to <out>/stats.txt.
//
// The shared SAN exists because blackbox_exporter takes one tls_config.server_name per module:
// with it one module can verify every endpoint's certificate name, as mxtls does with the MX
// name. The servers answer every SNI with the same leaf.
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/support/cert_factory.h"
#include "tests/support/dns_fixture_server.h"
#include "tests/support/smtp_fixture_server.h"

namespace {

using mxtls::testing::CertEntry;
using mxtls::testing::DnsFixtureServer;
using mxtls::testing::SessionRecord;
using mxtls::testing::SmtpFixtureOptions;
using mxtls::testing::SmtpFixtureServer;
using mxtls::testing::TestCert;
using mxtls::testing::TestPki;

constexpr char kSharedName[] = "mx.bench.test";
constexpr char kScaleDomain[] = "scale.bench.test";
// Addresses per /24 used (x.y.z.1 .. x.y.z.250), so no address ends in .0 or .255.
constexpr int kPerBlock = 250;
// 127.<second>.0.1 .. 127.<second>.255.250: plenty, and always inside 127.0.0.0/8.
constexpr int kMaxServers = 256 * kPerBlock;

struct Options {
  std::string out_dir;
  int servers = 50;
  int greeting_delay_ms = 0;
  int scale_mx = 20;
  int scale_delay_ms = 300;
  int port = 0;  // 0: pick a free one
};

void Usage() {
  std::cerr
      << "usage: mxtls_bench_fixture --out=DIR [--servers=N (50)] [--greeting-delay-ms=D (0)]\n"
         "         [--scale-mx=M (20, 0 = none)] [--scale-delay-ms=D (300)] [--port=P (0)]\n"
         "Serves loopback only. Runs until SIGTERM/SIGINT; SIGUSR1 writes DIR/stats.txt.\n";
}

bool ParseInt(const std::string& text, int min, int max, int* out) {
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || v < min || v > max) return false;
  *out = static_cast<int>(v);
  return true;
}

bool ParseFlags(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto eq = arg.find('=');
    if (arg.rfind("--", 0) != 0 || eq == std::string::npos) return false;
    std::string name = arg.substr(2, eq - 2), value = arg.substr(eq + 1);
    bool ok = true;
    if (name == "out") {
      o->out_dir = value;
    } else if (name == "servers") {
      ok = ParseInt(value, 1, kMaxServers, &o->servers);
    } else if (name == "greeting-delay-ms") {
      ok = ParseInt(value, 0, 60000, &o->greeting_delay_ms);
    } else if (name == "scale-mx") {
      ok = ParseInt(value, 0, 100, &o->scale_mx);  // mxtls caps max_mx_hosts at 100
    } else if (name == "scale-delay-ms") {
      ok = ParseInt(value, 0, 60000, &o->scale_delay_ms);
    } else if (name == "port") {
      ok = ParseInt(value, 0, 65535, &o->port);
    } else {
      ok = false;
    }
    if (!ok) {
      std::cerr << "bad flag: " << arg << "\n";
      return false;
    }
  }
  return !o->out_dir.empty();
}

// Address of server `index` (0-based) in 127.<second>.0.0/16.
std::string Address(int second, int index) {
  return "127." + std::to_string(second) + "." + std::to_string(index / kPerBlock) + "." +
         std::to_string(index % kPerBlock + 1);
}

void WriteFile(const std::string& path, const std::string& content) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << content;
    if (!f) throw std::runtime_error("cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    throw std::runtime_error("cannot rename " + tmp + ": " + std::strerror(errno));
  }
}

// One SMTP server: a Postfix-like two-line greeting (the delay falls before the last line, so a
// client that does not wait for the whole greeting is caught talking early), the default EHLO
// reply with STARTTLS, leaf + intermediate.
SmtpFixtureOptions ServerOptions(const TestPki& pki, const TestCert& leaf, const std::string& host,
                                 int greeting_delay_ms) {
  SmtpFixtureOptions o;
  o.greeting_lines = {"220-" + host + " ESMTP bench fixture", "220 " + host + " ready"};
  o.greeting_delay = std::chrono::milliseconds(greeting_delay_ms);
  o.ehlo_lines = {host, "PIPELINING", "SIZE 10240000", "STARTTLS", "8BITMIME"};
  o.certs = {CertEntry::FromCerts({}, leaf, {&pki.intermediate()})};
  return o;
}

class Fixture {
 public:
  explicit Fixture(const Options& o) : options_(o) {}

  void Start() {
    StartServers();
    dns_ = std::make_unique<DnsFixtureServer>();
    std::string mxtls_targets, blackbox_targets;
    for (size_t i = 0; i < bench_.size(); ++i) {
      std::string k = std::to_string(i + 1);
      std::string domain = "d" + k + ".bench.test", host = "mx" + k + ".bench.test";
      dns_->AddMx(domain, 10, host);
      dns_->AddA(host, bench_[i]->address());
      mxtls_targets += domain + "\n";
      blackbox_targets += bench_[i]->address() + ":" + std::to_string(port_) + "\n";
    }
    std::string scale_targets;
    for (size_t j = 0; j < scale_.size(); ++j) {
      std::string host = "mx" + std::to_string(j + 1) + "." + kScaleDomain;
      dns_->AddMx(kScaleDomain, 10, host);
      dns_->AddA(host, scale_[j]->address());
      scale_targets += scale_[j]->address() + ":" + std::to_string(port_) + "\n";
    }

    const std::string& dir = options_.out_dir;
    WriteFile(dir + "/root.pem", pki_.RootPem());
    WriteFile(dir + "/mxtls_targets.txt", mxtls_targets);
    WriteFile(dir + "/blackbox_targets.txt", blackbox_targets);
    WriteFile(dir + "/scale_targets.txt", scale_targets);
    WriteFile(dir + "/fixture.env",
              "SMTP_PORT=" + std::to_string(port_) + "\nDNS_PORT=" + std::to_string(dns_->port()) +
                  "\nSERVERS=" + std::to_string(bench_.size()) + "\nGREETING_DELAY_MS=" +
                  std::to_string(options_.greeting_delay_ms) + "\nSERVER_NAME=" + kSharedName +
                  "\nSCALE_DOMAIN=" + kScaleDomain + "\nSCALE_MX=" + std::to_string(scale_.size()) +
                  "\nSCALE_DELAY_MS=" + std::to_string(options_.scale_delay_ms) + "\n");
    WriteFile(dir + "/ready", "1\n");
  }

  // Session statistics over every server since the start, as key=value lines.
  void WriteStats() const {
    std::map<std::string, size_t> counts;
    auto add = [&](const std::string& prefix, const auto& servers) {
      for (const auto& server : servers) {
        for (const SessionRecord& s : server->sessions()) {
          ++counts[prefix + "sessions"];
          if (s.pre_greet_talk) ++counts[prefix + "pre_greet_talk"];
          if (s.starttls_accepted) ++counts[prefix + "starttls_accepted"];
          if (s.tls_established) ++counts[prefix + "tls_established"];
          if (s.sni.has_value()) ++counts[prefix + "sni_sent"];
          if (s.quit) ++counts[prefix + "quit"];
          if (!s.tls_error.empty()) ++counts[prefix + "tls_error"];
          if (!s.tls_version.empty()) ++counts[prefix + "version_" + s.tls_version];
        }
      }
    };
    add("bench_", bench_);
    add("scale_", scale_);
    counts["dns_queries"] = static_cast<size_t>(dns_->TotalQueries());
    std::string text;
    for (const auto& [key, value] : counts) text += key + "=" + std::to_string(value) + "\n";
    WriteFile(options_.out_dir + "/stats.txt", text);
  }

 private:
  // All servers share one port: the first bench server picks it (or takes --port); a later bind
  // can still collide with a wildcard listener on that port, so the whole set is retried.
  void StartServers() {
    for (int attempt = 0;; ++attempt) {
      try {
        bench_.clear();
        scale_.clear();
        uint16_t port = static_cast<uint16_t>(options_.port);
        for (int i = 0; i < options_.servers; ++i) {
          std::string host = "mx" + std::to_string(i + 1) + ".bench.test";
          const TestCert& leaf = LeafFor(host);
          bench_.push_back(std::make_unique<SmtpFixtureServer>(
              ServerOptions(pki_, leaf, host, options_.greeting_delay_ms), Address(1, i), port));
          port = bench_.back()->port();
        }
        for (int j = 0; j < options_.scale_mx; ++j) {
          std::string host = "mx" + std::to_string(j + 1) + "." + kScaleDomain;
          const TestCert& leaf = LeafFor(host);
          scale_.push_back(std::make_unique<SmtpFixtureServer>(
              ServerOptions(pki_, leaf, host, options_.scale_delay_ms), Address(2, j), port));
        }
        port_ = port;
        return;
      } catch (const std::exception& e) {
        if (options_.port != 0 || attempt >= 9) throw;
        std::cerr << "retrying on another port: " << e.what() << "\n";
      }
    }
  }

  // The leaf of `host`, made once (std::map keeps references stable).
  const TestCert& LeafFor(const std::string& host) {
    auto it = leaves_.find(host);
    if (it == leaves_.end()) it = leaves_.emplace(host, pki_.Leaf({host, kSharedName})).first;
    return it->second;
  }

  const Options options_;
  TestPki pki_{"mxtls bench"};
  std::map<std::string, TestCert> leaves_;  // reused across port retries
  uint16_t port_ = 0;
  std::vector<std::unique_ptr<SmtpFixtureServer>> bench_;
  std::vector<std::unique_ptr<SmtpFixtureServer>> scale_;
  std::unique_ptr<DnsFixtureServer> dns_;
};

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!ParseFlags(argc, argv, &options)) {
    Usage();
    return 2;
  }
  mkdir(options.out_dir.c_str(), 0755);
  std::remove((options.out_dir + "/ready").c_str());

  // Block the signals before any thread starts, so that every fixture thread inherits the mask
  // and only sigwait below sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  try {
    Fixture fixture(options);
    fixture.Start();
    std::cerr << "mxtls_bench_fixture: ready in " << options.out_dir << "\n";
    for (;;) {
      int sig = 0;
      if (sigwait(&signals, &sig) != 0) continue;
      fixture.WriteStats();
      if (sig != SIGUSR1) break;
    }
  } catch (const std::exception& e) {
    std::cerr << "mxtls_bench_fixture: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
