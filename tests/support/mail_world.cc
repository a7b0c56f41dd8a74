#include "tests/support/mail_world.h"

#include <thread>

#include <catch2/catch.hpp>
#include <httplib.h>
#include <stdlib.h>

#include <fstream>

namespace mxtls::testing {

MailWorld::MailWorld() {
  char tmpl[] = "/tmp/mxtls-world-XXXXXX";
  dir_ = mkdtemp(tmpl);
  ca_path_ = dir_ + "/root.pem";
  std::ofstream(ca_path_) << pki.RootPem();
}

MailWorld::~MailWorld() {
  exporter_.reset();
  servers_.clear();
  policy_servers_.clear();
  std::system(("rm -rf '" + dir_ + "'").c_str());
}

TestCert MailWorld::Leaf(const std::vector<std::string>& names,
                         std::chrono::system_clock::time_point not_after) {
  return pki.Leaf(names, not_after);
}

SmtpFixtureOptions MailWorld::Healthy(const TestCert& leaf) {
  SmtpFixtureOptions o;
  o.certs = {CertEntry::FromCerts({}, leaf, {&pki.intermediate()})};
  return o;
}

SmtpFixtureServer& MailWorld::Serve(const std::string& address, SmtpFixtureOptions options) {
  servers_.push_back(std::make_unique<SmtpFixtureServer>(options, address, smtp_port_));
  if (smtp_port_ == 0) smtp_port_ = servers_.back()->port();
  return *servers_.back();
}

HttpsFixtureServer& MailWorld::ServePolicy(const std::string& address, const TestCert& leaf,
                                           HttpsResponse response) {
  HttpsFixtureOptions o;
  o.certs = {CertEntry::FromCerts({}, leaf, {&pki.intermediate()})};
  o.response = std::move(response);
  policy_servers_.push_back(std::make_unique<HttpsFixtureServer>(o, address, https_port_));
  if (https_port_ == 0) https_port_ = policy_servers_.back()->port();
  return *policy_servers_.back();
}

HttpsFixtureServer& MailWorld::PublishPolicy(const std::string& domain,
                                             const std::string& address, const std::string& id,
                                             const std::string& body) {
  dns.AddTxt("_mta-sts." + domain, {"v=STSv1; id=" + id + ";"});
  dns.AddA("mta-sts." + domain, address);
  return ServePolicy(address, Leaf({"mta-sts." + domain}), HttpsResponse::Ok(body));
}

std::string MailWorld::ConfigYaml(const std::string& module_extra,
                                  const std::string& tls_extra) const {
  std::string yaml = "dns:\n  resolvers: [\"127.0.0.1:" + std::to_string(dns.port()) +
                     "\"]\n  timeout: 500ms\n  attempts: 2\n" + dns_extra +
                     "modules:\n  default:\n    smtp:\n      port: " +
                     std::to_string(smtp_port_) +
                     "\n      ehlo_name: prober.test\n"
                     "    tls:\n      ca_file: " + ca_path_ + "\n" + tls_extra;
  if (https_port_ != 0 || !mta_sts_extra.empty()) {
    yaml += "    mta_sts:\n";
    if (https_port_ != 0) yaml += "      port: " + std::to_string(https_port_) + "\n";
    yaml += mta_sts_extra;
  }
  yaml += module_extra + "allow_unlisted_targets: true\n" + top_extra;
  return yaml;
}

void MailWorld::Start(const std::string& module_extra, const std::string& tls_extra) {
  exporter_ = std::make_unique<ExporterProcess>(ConfigYaml(module_extra, tls_extra));
}

CommandResult MailWorld::Check(const std::vector<std::string>& args,
                               const std::string& module_extra,
                               std::chrono::milliseconds timeout) {
  const std::string path = dir_ + "/check.yml";
  std::ofstream(path) << ConfigYaml(module_extra, "");
  std::vector<std::string> argv = {"check", "--config.file=" + path};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunExporter(argv, timeout);
}

ParsedMetrics MailWorld::Probe(const std::string& domain, const std::string& scrape_timeout,
                               std::string* debug) {
  auto client = exporter_->NewClient();
  client->set_read_timeout(30, 0);
  httplib::Headers headers{{"X-Prometheus-Scrape-Timeout-Seconds", scrape_timeout}};
  auto res = client->Get(("/probe?target=" + domain).c_str(), headers);
  INFO("exporter log:\n" << exporter_->Logs());
  REQUIRE(res);
  REQUIRE(res->status == 200);
  if (debug != nullptr) {
    auto d = client->Get(("/probe?debug=true&target=" + domain).c_str(), headers);
    REQUIRE(d);
    *debug = d->body;
  }
  return ParsedMetrics(res->body);
}

std::vector<std::string> MailWorld::ProbeConcurrently(const std::vector<std::string>& domains,
                                                      const std::string& scrape_timeout) {
  std::vector<std::string> bodies(domains.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < domains.size(); ++i) {
    // No Catch macros here: they are not thread-safe.
    threads.emplace_back([this, i, &domains, &bodies, &scrape_timeout] {
      auto client = exporter_->NewClient();
      client->set_read_timeout(60, 0);
      httplib::Headers headers{{"X-Prometheus-Scrape-Timeout-Seconds", scrape_timeout}};
      auto res = client->Get(("/probe?target=" + domains[i]).c_str(), headers);
      if (res && res->status == 200) bodies[i] = res->body;
    });
  }
  for (auto& t : threads) t.join();
  return bodies;
}

void MailWorld::Reload() {
  auto client = exporter_->NewClient();
  client->set_read_timeout(30, 0);
  auto res = client->Post("/-/reload");
  REQUIRE(res);
  REQUIRE(res->status == 200);
}

ParsedMetrics MailWorld::ExporterMetrics() {
  auto client = exporter_->NewClient();
  auto res = client->Get("/metrics");
  REQUIRE(res);
  REQUIRE(res->status == 200);
  return ParsedMetrics(res->body);
}

std::string FingerprintOf(const ParsedMetrics& m, const Labels& ep) {
  auto found = m.Find("mxtls_cert_info", ep);
  REQUIRE(found.size() == 1);
  return found[0].labels.at("fingerprint_sha256");
}

}  // namespace mxtls::testing
