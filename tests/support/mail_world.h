// A small mail world for end-to-end tests: a DNS fixture server, fixture SMTP servers sharing
// one port on several loopback addresses (the module's smtp.port), HTTPS policy servers
// sharing another (the module's mta_sts.port), a private PKI, and the exporter binary pointed
// at all of them. Plus label helpers for asserting on /probe metrics.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/cert_factory.h"
#include "tests/support/dns_fixture_server.h"
#include "tests/support/exporter_process.h"
#include "tests/support/https_fixture_server.h"
#include "tests/support/metrics_text.h"
#include "tests/support/smtp_fixture_server.h"

namespace mxtls::testing {

using Labels = std::map<std::string, std::string>;

class MailWorld {
 public:
  MailWorld();
  ~MailWorld();

  // A leaf for `names` issued by the PKI's intermediate.
  TestCert Leaf(const std::vector<std::string>& names,
                std::chrono::system_clock::time_point not_after =
                    std::chrono::system_clock::now() + std::chrono::hours(24 * 90));
  // Options for a healthy SMTP server presenting leaf + intermediate.
  SmtpFixtureOptions Healthy(const TestCert& leaf);

  SmtpFixtureServer& Serve(const std::string& address, SmtpFixtureOptions options);
  // An HTTPS server for mta-sts.<domain> on `address`, presenting leaf + intermediate.
  HttpsFixtureServer& ServePolicy(const std::string& address, const TestCert& leaf,
                                  HttpsResponse response);
  // Publishes an MTA-STS policy for `domain`: the TXT record with `id`, mta-sts.<domain> at
  // `address`, and an HTTPS server there answering `body` as text/plain.
  HttpsFixtureServer& PublishPolicy(const std::string& domain, const std::string& address,
                                    const std::string& id, const std::string& body);

  // Starts the exporter. `module_extra` is YAML under the default module (4-space indent);
  // `tls_extra` goes under its tls: key (6-space indent).
  void Start(const std::string& module_extra = "", const std::string& tls_extra = "");

  // Runs `mxtls_exporter check` as a child process against this world, with a config file
  // like the one Start() writes (same DNS, SMTP and policy ports, CA and module extras), then
  // `args` (flags and domains). Needs no running exporter.
  CommandResult Check(const std::vector<std::string>& args, const std::string& module_extra = "",
                      std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // POST /-/reload (the config file is unchanged); fails the test unless it answers 200.
  void Reload();

  // The exporter's HTTP port on 127.0.0.1 (after Start).
  int exporter_port() const { return exporter_->port(); }

  // GET /metrics: the exporter's own metrics.
  ParsedMetrics ExporterMetrics();

  // GET /probe for `domain`; `debug` receives the debug view when given.
  ParsedMetrics Probe(const std::string& domain, const std::string& scrape_timeout = "10",
                      std::string* debug = nullptr);

  // GET /probe for every domain at once, one thread and connection each; returns the bodies in
  // the order given ("" for a request that failed). Safe to call with Catch assertions after.
  std::vector<std::string> ProbeConcurrently(const std::vector<std::string>& domains,
                                             const std::string& scrape_timeout = "10");

  TestPki pki;
  DnsFixtureServer dns;
  // YAML appended under the config's dns: key (2-space indent), e.g.
  // "  dnssec_check_name: signed.test\n". Set before Start.
  std::string dns_extra;
  // YAML appended at the config's top level, e.g. "engine:\n  max_sessions_per_address: 2\n".
  // Set before Start.
  std::string top_extra;
  // YAML appended under the default module's mta_sts: key (6-space indent), e.g.
  // "      refetch_interval: 0s\n". Set before Start.
  std::string mta_sts_extra;

 private:
  std::string ConfigYaml(const std::string& module_extra, const std::string& tls_extra) const;

  std::string dir_;
  std::string ca_path_;
  uint16_t smtp_port_ = 0;
  uint16_t https_port_ = 0;
  std::vector<std::unique_ptr<SmtpFixtureServer>> servers_;
  std::vector<std::unique_ptr<HttpsFixtureServer>> policy_servers_;
  std::unique_ptr<ExporterProcess> exporter_;
};

inline Labels Ep4(const std::string& mx, const std::string& address) {
  return {{"mx", mx}, {"address", address}, {"family", "ipv4"}};
}
inline Labels Ep6(const std::string& mx, const std::string& address) {
  return {{"mx", mx}, {"address", address}, {"family", "ipv6"}};
}
inline Labels With(Labels l, const std::string& k, const std::string& v) {
  l[k] = v;
  return l;
}
// The fingerprint_sha256 label of the endpoint's mxtls_cert_info (fails the test if absent).
std::string FingerprintOf(const ParsedMetrics& m, const Labels& ep);

}  // namespace mxtls::testing
