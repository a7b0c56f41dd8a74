// End-to-end tests of `mxtls_exporter check`: the real binary run as a child process against
// a fixture mail world (DNS responder, scripted SMTP servers, an HTTPS policy host, a private
// PKI). Each case is a fault an operator would run `check` for: the exit code, the verdicts,
// the diagnosis text, the MX named at fault, and the JSON document validated against
// docs/check-output.schema.json.
#include <arpa/inet.h>
#include <catch2/catch.hpp>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/mail_world.h"

namespace mxtls::testing {
namespace {

using nlohmann::json;
using std::chrono::hours;
using std::chrono::system_clock;

const std::string kSourceDir = MXTLS_TESTDATA_DIR "/../..";

// Validates `document` against the repository's schema with python3-jsonschema; returns the
// validator's complaints ("" when valid).
std::string SchemaErrors(const std::string& document) {
  char tmpl[] = "/tmp/mxtls-check-json-XXXXXX";
  int fd = mkstemp(tmpl);
  REQUIRE(fd >= 0);
  close(fd);
  std::ofstream(tmpl) << document;
  std::string cmd = "python3 '" + kSourceDir + "/tests/exporter/validate_json_schema.py' '" +
                    kSourceDir + "/docs/check-output.schema.json' '" + tmpl + "' 2>&1";
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = pclose(p);
  unlink(tmpl);
  if (status != 0 && out.empty()) out = "validator failed with status " + std::to_string(status);
  return status == 0 ? "" : out;
}

// Runs check as text and as JSON; validates the JSON against the schema.
struct Checked {
  CommandResult text;
  CommandResult json_run;
  json doc;
  const json& domain(size_t i = 0) const { return doc.at("domains").at(i); }
};

Checked RunBoth(MailWorld& w, const std::vector<std::string>& args,
                 const std::string& module_extra = "") {
  Checked c;
  c.text = w.Check(args, module_extra);
  std::vector<std::string> json_args = args;
  json_args.push_back("--output=json");
  c.json_run = w.Check(json_args, module_extra);
  INFO("stdout:\n" << c.json_run.out << "\nstderr:\n" << c.json_run.err);
  CHECK(c.json_run.exit_code == c.text.exit_code);
  c.doc = json::parse(c.json_run.out);
  CHECK(SchemaErrors(c.json_run.out) == "");
  CHECK(c.doc.at("schema_version") == 1);
  return c;
}

// The non-ok findings of a domain for `check`, on `mx` (and `address` when given).
std::vector<json> Faults(const json& domain, const std::string& check, const std::string& mx,
                         const std::string& address = "") {
  std::vector<json> out;
  for (const json& f : domain.at("findings")) {
    if (f.at("level") == "ok" || f.at("check") != check || f.at("mx") != mx) continue;
    if (!address.empty() && f.at("address") != address) continue;
    out.push_back(f);
  }
  return out;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

// True when some verdict line of the text names `mx` with a verdict other than OK for `check`
// (how bad is the judgement layer's to say; the exit code says whether an alert fires).
bool TextNamesFault(const std::string& text, const std::string& check, const std::string& mx) {
  for (const std::string& line : Lines(text)) {
    bool bad = line.rfind("  CRITICAL", 0) == 0 || line.rfind("  WARNING", 0) == 0 ||
               line.rfind("  INFO", 0) == 0;
    if (bad && line.find(" " + check + " ") != std::string::npos &&
        line.find(mx) != std::string::npos) {
      return true;
    }
  }
  return false;
}

// Asserts that every non-ok finding's diagnosis (as filled in) appears in the text, and that
// the domain's verdict is "would alert".
void CheckDiagnosesShown(const Checked& c) {
  const json& d = c.domain();
  CHECK(d.at("would_alert") == true);
  CHECK_FALSE(d.at("alerts").empty());
  for (const json& f : d.at("findings")) {
    if (f.at("level") == "ok") continue;
    REQUIRE(f.at("diagnosis").is_object());
    for (const char* part : {"symptom", "fix"}) {
      std::string s = f.at("diagnosis").at(part);
      if (s.find_first_of("\x1b\\") != std::string::npos) continue;  // escaped in text
      INFO(part << ": " << s);
      CHECK(c.text.out.find(s) != std::string::npos);
    }
  }
}

TEST_CASE("check: a healthy domain exits 0 and lists every MX and address", "[check]") {
  MailWorld w;
  const bool v6 = Ipv6LoopbackAvailable();
  TestCert mx1 = w.Leaf({"mx1.fine.test"});
  TestCert mx2 = w.Leaf({"mx2.fine.test"});
  w.Serve("127.0.0.82", w.Healthy(mx1));
  w.Serve("127.0.0.83", w.Healthy(mx2));
  if (v6) {
    SmtpFixtureOptions o;
    o.certs = {CertEntry::FromCerts({"mx1.fine.test"}, mx1, {&w.pki.intermediate()}),
               CertEntry::FromCerts({"mx2.fine.test"}, mx2, {&w.pki.intermediate()})};
    w.Serve("::1", o);
    w.dns.AddAAAA("mx1.fine.test", "::1");
  }
  w.dns.AddMx("fine.test", 10, "mx1.fine.test");
  w.dns.AddMx("fine.test", 20, "mx2.fine.test");
  w.dns.AddA("mx1.fine.test", "127.0.0.82");
  w.dns.AddA("mx2.fine.test", "127.0.0.83");

  Checked c = RunBoth(w, {"fine.test"});
  INFO("text:\n" << c.text.out << "\nstderr:\n" << c.text.err);
  CHECK(c.text.exit_code == 0);
  CHECK(c.text.out.find("MX 10 mx1.fine.test") != std::string::npos);
  CHECK(c.text.out.find("MX 20 mx2.fine.test") != std::string::npos);
  CHECK(c.text.out.find("127.0.0.82  ipv4") != std::string::npos);
  CHECK(c.text.out.find("127.0.0.83  ipv4") != std::string::npos);
  if (v6) CHECK(c.text.out.find("::1  ipv6") != std::string::npos);
  CHECK(c.text.out.find("CRITICAL") == std::string::npos);
  CHECK(c.text.out.find("the shipped alert rules would raise none") != std::string::npos);
  // A piped stdout gets no colour, and one domain no progress line.
  CHECK(c.text.out.find('\x1b') == std::string::npos);
  CHECK(c.text.err.find("checked ") == std::string::npos);
  // Every endpoint has ok verdicts for the handshake and the name.
  for (const auto& [mx, address] : std::vector<std::pair<std::string, std::string>>{
           {"mx1.fine.test", "127.0.0.82"}, {"mx2.fine.test", "127.0.0.83"}}) {
    bool handshake_ok = false;
    for (const std::string& line : Lines(c.text.out)) {
      if (line.rfind("  OK", 0) == 0 && line.find(mx + " " + address) != std::string::npos) {
        handshake_ok = true;
      }
    }
    CHECK(handshake_ok);
  }

  const json& d = c.domain();
  CHECK(d.at("domain") == "fine.test");
  CHECK(d.at("would_alert") == false);
  CHECK(d.at("alerts").empty());
  REQUIRE(d.at("mx_hosts").size() == 2);
  CHECK(d.at("mx_hosts")[0].at("host") == "mx1.fine.test");
  CHECK(d.at("mx_hosts")[0].at("preference") == 10);
  CHECK(d.at("mx_hosts")[0].at("cname").is_null());
  CHECK(d.at("endpoints").size() == (v6 ? 3u : 2u));
  for (const json& e : d.at("endpoints")) {
    CHECK(e.at("handshake_ok") == true);
    CHECK(e.at("certificate").at("verified") == true);
    CHECK(e.at("certificate").at("name_match") == "match");
  }
  for (const json& f : d.at("findings")) {
    CHECK((f.at("level") == "ok" || f.at("level") == "info"));
  }
  CHECK(c.doc.at("outbound_port25_blocked") == false);
}

TEST_CASE("check: an internationalised domain is probed as its A-label and shown in both forms",
          "[check][idn]") {
  MailWorld w;
  // The DNS knows only the A-label, as every resolver does.
  w.Serve("127.0.0.81", w.Healthy(w.Leaf({"mx1.xn--bcher-kva.test"})));
  w.dns.AddMx("xn--bcher-kva.test", 10, "mx1.xn--bcher-kva.test");
  w.dns.AddA("mx1.xn--bcher-kva.test", "127.0.0.81");
  Checked c = RunBoth(w, {"B\xC3\xBC" "cher.test"});
  INFO("text:\n" << c.text.out << "\nstderr:\n" << c.text.err);
  CHECK(c.text.exit_code == 0);
  CHECK(c.text.out.find("b\xC3\xBC" "cher.test (xn--bcher-kva.test)") != std::string::npos);
  CHECK(c.text.out.find("MX 10 mx1.xn--bcher-kva.test") != std::string::npos);
  const json& d = c.domain();
  CHECK(d.at("domain") == "xn--bcher-kva.test");
  CHECK(d.at("domain_unicode") == "b\xC3\xBC" "cher.test");
  // Something no IDNA mapping accepts is refused with the reason, exit 2.
  CommandResult bad = w.Check({"\xF0\x9F\x93\xA7.test"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("IDNA2008 does not allow") != std::string::npos);
}

TEST_CASE("check: a certificate for another name", "[check]") {
  MailWorld w;
  w.Serve("127.0.0.84", w.Healthy(w.Leaf({"mx1.okname.test"})));
  w.Serve("127.0.0.85", w.Healthy(w.Leaf({"mail.othername.test"})));
  w.dns.AddMx("badname.test", 10, "mx1.okname.test");
  w.dns.AddMx("badname.test", 20, "mx2.badname.test");
  w.dns.AddA("mx1.okname.test", "127.0.0.84");
  w.dns.AddA("mx2.badname.test", "127.0.0.85");
  Checked c = RunBoth(w, {"badname.test"});
  INFO("text:\n" << c.text.out << "\nstderr:\n" << c.text.err);
  CHECK(c.text.exit_code == 1);
  CHECK(TextNamesFault(c.text.out, "name", "mx2.badname.test"));
  CHECK_FALSE(TextNamesFault(c.text.out, "name", "mx1.okname.test"));
  CHECK(c.text.out.find("mail.othername.test") != std::string::npos);
  CHECK(Faults(c.domain(), "name", "mx2.badname.test").size() == 1);
  CHECK(Faults(c.domain(), "name", "mx1.okname.test").empty());
  CheckDiagnosesShown(c);
}

TEST_CASE("check: the leaf without its intermediate", "[check]") {
  MailWorld w;
  SmtpFixtureOptions o;
  o.certs = {CertEntry::FromCerts({}, w.Leaf({"mx1.leafonly.test"}))};
  w.Serve("127.0.0.86", o);
  w.dns.AddMx("leafonly.test", 10, "mx1.leafonly.test");
  w.dns.AddA("mx1.leafonly.test", "127.0.0.86");
  Checked c = RunBoth(w, {"leafonly.test"});
  INFO("text:\n" << c.text.out << "\nstderr:\n" << c.text.err);
  CHECK(c.text.exit_code == 1);
  CHECK(TextNamesFault(c.text.out, "chain", "mx1.leafonly.test"));
  CHECK_FALSE(Faults(c.domain(), "chain", "mx1.leafonly.test", "127.0.0.86").empty());
  CHECK(c.domain().at("endpoints")[0].at("certificate").at("verify_reason") == "incomplete_chain");
  CheckDiagnosesShown(c);
}

TEST_CASE("check: an expired certificate", "[check]") {
  MailWorld w;
  w.Serve("127.0.0.87", w.Healthy(w.Leaf({"mx1.old.test"}, system_clock::now() - hours(48))));
  w.dns.AddMx("old.test", 10, "mx1.old.test");
  w.dns.AddA("mx1.old.test", "127.0.0.87");
  Checked c = RunBoth(w, {"old.test"});
  INFO("text:\n" << c.text.out << "\nstderr:\n" << c.text.err);
  CHECK(c.text.exit_code == 1);
  CHECK(TextNamesFault(c.text.out, "expiry", "mx1.old.test"));
  REQUIRE_FALSE(Faults(c.domain(), "expiry", "mx1.old.test").empty());
  CHECK(Faults(c.domain(), "expiry", "mx1.old.test")[0].at("level") == "critical");
  CHECK(c.domain().at("endpoints")[0].at("certificate").at("days_to_expiry") < 0);
  CheckDiagnosesShown(c);
}

TEST_CASE("check: a backup MX without STARTTLS", "[check]") {
  MailWorld w;
  w.Serve("127.0.0.88", w.Healthy(w.Leaf({"mx1.plain.test"})));
  SmtpFixtureOptions plain;
  plain.offer_starttls = false;
  w.Serve("127.0.0.89", plain);
  w.dns.AddMx("plain.test", 10, "mx1.plain.test");
  w.dns.AddMx("plain.test", 50, "backup.plain.test");
  w.dns.AddA("mx1.plain.test", "127.0.0.88");
  w.dns.AddA("backup.plain.test", "127.0.0.89");
  Checked c = RunBoth(w, {"plain.test"});
  INFO("text:\n" << c.text.out << "\nstderr:\n" << c.text.err);
  CHECK(c.text.exit_code == 1);
  CHECK(TextNamesFault(c.text.out, "starttls", "backup.plain.test"));
  CHECK_FALSE(Faults(c.domain(), "starttls", "backup.plain.test").empty());
  CHECK(Faults(c.domain(), "starttls", "mx1.plain.test").empty());
  CheckDiagnosesShown(c);
}

TEST_CASE("check: the IPv6 address of an MX serves a stale certificate", "[check]") {
  if (!Ipv6LoopbackAvailable()) {
    WARN("IPv6 loopback unavailable: skipped");
    return;
  }
  MailWorld w;
  w.Serve("127.0.0.90", w.Healthy(w.Leaf({"mx1.stale6.test"})));
  w.Serve("::1", w.Healthy(w.Leaf({"mx1.stale6.test"}, system_clock::now() - hours(24 * 5))));
  w.dns.AddMx("stale6.test", 10, "mx1.stale6.test");
  w.dns.AddA("mx1.stale6.test", "127.0.0.90");
  w.dns.AddAAAA("mx1.stale6.test", "::1");
  Checked c = RunBoth(w, {"stale6.test"});
  INFO("text:\n" << c.text.out << "\nstderr:\n" << c.text.err);
  CHECK(c.text.exit_code == 1);
  CHECK(TextNamesFault(c.text.out, "expiry", "mx1.stale6.test ::1 (ipv6)"));
  CHECK_FALSE(TextNamesFault(c.text.out, "expiry", "mx1.stale6.test 127.0.0.90"));
  CHECK_FALSE(Faults(c.domain(), "expiry", "mx1.stale6.test", "::1").empty());
  CHECK(Faults(c.domain(), "expiry", "mx1.stale6.test", "127.0.0.90").empty());
  CheckDiagnosesShown(c);
}

TEST_CASE("check: an MTA-STS policy that does not cover an MX", "[check]") {
  MailWorld w;
  w.Serve("127.0.0.91", w.Healthy(w.Leaf({"mx1.stsgap.test"})));
  w.Serve("127.0.0.92", w.Healthy(w.Leaf({"mx2.stsgap.test"})));
  w.dns.AddMx("stsgap.test", 10, "mx1.stsgap.test");
  w.dns.AddMx("stsgap.test", 20, "mx2.stsgap.test");
  w.dns.AddA("mx1.stsgap.test", "127.0.0.91");
  w.dns.AddA("mx2.stsgap.test", "127.0.0.92");
  w.PublishPolicy("stsgap.test", "127.0.0.93", "1",
                  "version: STSv1\nmode: enforce\nmx: mx1.stsgap.test\nmax_age: 86400\n");
  Checked c = RunBoth(w, {"stsgap.test"});
  INFO("text:\n" << c.text.out << "\nstderr:\n" << c.text.err);
  CHECK(c.text.exit_code == 1);
  CHECK(TextNamesFault(c.text.out, "mta_sts", "mx2.stsgap.test"));
  CHECK_FALSE(Faults(c.domain(), "mta_sts", "mx2.stsgap.test").empty());
  CHECK(Faults(c.domain(), "mta_sts", "mx1.stsgap.test").empty());
  CHECK(c.text.out.find("MTA-STS: policy in mode enforce") != std::string::npos);
  CHECK(c.domain().at("mx_hosts")[1].at("mta_sts_covered") == false);
  CheckDiagnosesShown(c);
}

TEST_CASE("check: a 554 greeting says the prober is refused", "[check]") {
  MailWorld w;
  SmtpFixtureOptions o;
  o.greeting_raw = "554 5.7.1 Service unavailable; client host blocked\r\n";
  w.Serve("127.0.0.94", o);
  w.dns.AddMx("blocklisted.test", 10, "mx1.blocklisted.test");
  w.dns.AddA("mx1.blocklisted.test", "127.0.0.94");
  Checked c = RunBoth(w, {"blocklisted.test"});
  INFO("text:\n" << c.text.out << "\nstderr:\n" << c.text.err);
  CHECK(c.text.exit_code == 1);
  CHECK(TextNamesFault(c.text.out, "greeting", "mx1.blocklisted.test"));
  CHECK_FALSE(Faults(c.domain(), "greeting", "mx1.blocklisted.test").empty());
  CHECK(c.doc.at("outbound_port25_blocked") == false);
  CheckDiagnosesShown(c);
}

TEST_CASE("check: hostile names from DNS and certificates are printed escaped", "[check]") {
  MailWorld w;
  // A certificate for another name whose second name carries a terminal title sequence and
  // an invalid byte (the CN, the first name, must be valid UTF-8 to be made at all).
  const std::string evil_name = "evil\x1b]0;owned\x07\xff.hostile.test";
  w.Serve("127.0.0.95", w.Healthy(w.Leaf({"mail.hostile.test", evil_name})));
  w.dns.AddMx("hostile.test", 10, "mx1.hostile.test");
  w.dns.AddA("mx1.hostile.test", "127.0.0.95");
  // An MX target with control bytes (the resolver hands it over in presentation form).
  w.dns.AddMx("hostile.test", 20, "mx2\x1b[2J.hostile.test");
  // A TLS-RPT record with a screen-clearing sequence and a right-to-left override.
  w.dns.AddTxt("_smtp._tls.hostile.test",
               {"v=TLSRPTv1; rua=mailto:a\x1b[2J\xe2\x80\xae@hostile.test"});
  for (const char* color : {"--color=never", "--color=always"}) {
    CommandResult r = w.Check({color, "hostile.test"});
    INFO(color << " text:\n" << r.out << "\nstderr:\n" << r.err);
    CHECK(r.exit_code == 1);
    // Strip our own colour codes (SGR only); then no control character but newlines may
    // remain, nor a C1 control, an invalid byte or a bidi override.
    std::string stripped;
    for (size_t i = 0; i < r.out.size(); ++i) {
      if (r.out.compare(i, 2, "\x1b[") == 0) {
        size_t m = r.out.find('m', i);
        REQUIRE(m != std::string::npos);
        std::string code = r.out.substr(i + 2, m - i - 2);
        CHECK(code.find_first_not_of("0123456789;") == std::string::npos);
        i = m;
        continue;
      }
      stripped.push_back(r.out[i]);
    }
    int controls = 0;
    for (char ch : stripped) {
      unsigned char u = static_cast<unsigned char>(ch);
      if ((u < 0x20 && u != '\n') || u == 0x7f || u == 0xff) ++controls;
    }
    CHECK(controls == 0);
    CHECK(stripped.find("\xe2\x80\xae") == std::string::npos);
    CHECK(stripped.find("\xc2\x9b") == std::string::npos);
    // The names are shown, escaped, and the MX at fault is named.
    CHECK(stripped.find("evil\\x1b]0;owned\\x07\\xff.hostile.test") != std::string::npos);
    // (the TXT parser already escaped the record in its message; the backslashes it wrote
    // are escaped again, so nothing it wrote can pass for one of our own escapes)
    CHECK(stripped.find("mailto:a\\\\x1b[2J") != std::string::npos);
    CHECK(TextNamesFault(stripped, "name", "mx1.hostile.test 127.0.0.95"));
  }
  // The JSON of hostile bytes is still valid JSON (and valid against the schema).
  Checked c = RunBoth(w, {"hostile.test"});
  const json& cert = c.domain().at("endpoints").at(0).at("certificate");
  CHECK(cert.at("dns_names").at(1) == "evil\x1b]0;owned\x07\xef\xbf\xbd.hostile.test");
}

TEST_CASE("check: several domains, progress on stderr, exit 1 when one would alert",
          "[check]") {
  MailWorld w;
  w.Serve("127.0.0.96", w.Healthy(w.Leaf({"mx1.one.test"})));
  w.Serve("127.0.0.97", w.Healthy(w.Leaf({"mx1.other.test"}, system_clock::now() - hours(1))));
  w.dns.AddMx("one.test", 10, "mx1.one.test");
  w.dns.AddA("mx1.one.test", "127.0.0.96");
  w.dns.AddMx("two.test", 10, "mx1.two.test");
  w.dns.AddA("mx1.two.test", "127.0.0.97");
  Checked c = RunBoth(w, {"one.test", "two.test"});
  INFO("text:\n" << c.text.out << "\nstderr:\n" << c.text.err);
  CHECK(c.text.exit_code == 1);
  CHECK(c.text.err.find("checked 1/2 one.test") != std::string::npos);
  CHECK(c.text.err.find("checked 2/2 two.test") != std::string::npos);
  REQUIRE(c.doc.at("domains").size() == 2);
  CHECK(c.domain(0).at("would_alert") == false);
  CHECK(c.domain(1).at("would_alert") == true);
  // Only the healthy one: exit 0.
  CHECK(w.Check({"one.test", "ONE.test."}).exit_code == 0);
}

// A listening socket whose accept queue is full: further SYNs are dropped, so connecting to
// it times out (Linux drops a SYN when the queue of a listener with backlog 0 holds one).
class BlackHole {
 public:
  BlackHole(const std::string& address, uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, address.c_str(), &a.sin_addr);
    listener_ = socket(AF_INET, SOCK_STREAM, 0);
    int on = 1;
    setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    REQUIRE(bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(listen(listener_, 0) == 0);
    filler_ = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(connect(filler_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  }
  ~BlackHole() {
    close(filler_);
    close(listener_);
  }

 private:
  int listener_ = -1;
  int filler_ = -1;
};

TEST_CASE("check: exit 2 when every connection to port 25 times out", "[check]") {
  MailWorld w;
  auto& server = w.Serve("127.0.0.98", w.Healthy(w.Leaf({"mx1.unused.test"})));
  BlackHole hole1("127.0.0.99", server.port());
  BlackHole hole2("127.0.0.100", server.port());
  w.dns.AddMx("dark.test", 10, "mx1.dark.test");
  w.dns.AddMx("dark.test", 20, "mx2.dark.test");
  w.dns.AddA("mx1.dark.test", "127.0.0.99");
  w.dns.AddA("mx2.dark.test", "127.0.0.100");
  const std::string fast = "    timeout: 5s\n    timeouts:\n      connect: 1s\n";
  Checked c = RunBoth(w, {"dark.test"}, fast);
  INFO("text:\n" << c.text.out << "\nstderr:\n" << c.text.err);
  CHECK(c.text.exit_code == 2);
  CHECK(c.text.err.find("outbound port 25 is probably blocked from here (most clouds and ISPs "
                        "block it)") != std::string::npos);
  CHECK(c.text.out.find("outbound port 25 is probably blocked") != std::string::npos);
  CHECK(c.doc.at("outbound_port25_blocked") == true);
  for (const json& e : c.domain().at("endpoints")) {
    CHECK(e.at("failure_stage") == "connect");
    CHECK(e.at("failure_reason") == "timeout");
  }
}

TEST_CASE("check: refused connections are the server's fault, not a blocked port", "[check]") {
  MailWorld w;
  w.Serve("127.0.0.101", w.Healthy(w.Leaf({"mx1.unused2.test"})));
  // Nothing listens on 127.0.0.102: the connection is refused (RST).
  w.dns.AddMx("closed2.test", 10, "mx1.closed2.test");
  w.dns.AddA("mx1.closed2.test", "127.0.0.102");
  Checked c = RunBoth(w, {"closed2.test"});
  INFO("text:\n" << c.text.out << "\nstderr:\n" << c.text.err);
  CHECK(c.text.exit_code == 1);
  CHECK(c.doc.at("outbound_port25_blocked") == false);
  CHECK(c.text.err.find("probably blocked") == std::string::npos);
  CHECK(c.domain().at("endpoints")[0].at("failure_reason") == "refused");
  CHECK(TextNamesFault(c.text.out, "connect", "mx1.closed2.test"));
}

TEST_CASE("check: exit 2 when it cannot run", "[check]") {
  CHECK(RunExporter({"check"}).exit_code == 2);  // no domain
  CHECK(RunExporter({"check", "--output=xml", "a.test"}).exit_code == 2);
  CHECK(RunExporter({"check", "--no-such-flag", "a.test"}).exit_code == 2);
  CHECK(RunExporter({"check", "--timeout=soon", "a.test"}).exit_code == 2);
  CHECK(RunExporter({"check", "--dns.resolver=not-an-ip", "a.test"}).exit_code == 2);
  CHECK(RunExporter({"check", "--dns.resolver=127.0.0.1:53", "--tls.ca-file=/nonexistent/ca.pem",
                     "a.test"})
            .exit_code == 2);
  CommandResult unreadable =
      RunExporter({"check", "--config.file=/nonexistent/mxtls.yml", "a.test"});
  CHECK(unreadable.exit_code == 2);
  CHECK(unreadable.err.find("/nonexistent/mxtls.yml") != std::string::npos);
  CommandResult bad_domain = RunExporter({"check", "--dns.resolver=127.0.0.1", "bad\x1b[2J_name"});
  CHECK(bad_domain.exit_code == 2);
  CHECK(bad_domain.err.find('\x1b') == std::string::npos);
  CommandResult help = RunExporter({"check", "--help"});
  CHECK(help.exit_code == 0);
  CHECK(help.out.find("--dns.resolver") != std::string::npos);
}

}  // namespace
}  // namespace mxtls::testing
