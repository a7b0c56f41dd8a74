// DANE, DNSSEC and reverse DNS through the running exporter binary: the DNS fixture plays a
// validating resolver (AD per name, bogus names that SERVFAIL unless CD is set), fixture SMTP
// servers present certificates from the test's PKI, and TLSA records are computed here from
// those certificates. Each case is a failure mode DANE senders (Postfix/Exim at the `dane`
// level, Microsoft 365) run into, or a healthy setup that must raise nothing.
#include <catch2/catch.hpp>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <string>
#include <vector>

#include "tests/support/mail_world.h"

namespace mxtls::testing {
namespace {

enum class Selector { kCert = 0, kSpki = 1 };

std::vector<uint8_t> Der(const TestCert& c, Selector selector) {
  unsigned char* der = nullptr;
  int len = selector == Selector::kCert ? i2d_X509(c.get(), &der)
                                        : i2d_X509_PUBKEY(X509_get_X509_PUBKEY(c.get()), &der);
  REQUIRE(len > 0);
  std::vector<uint8_t> out(der, der + len);
  OPENSSL_free(der);
  return out;
}

// The association data of a TLSA record with matching type 1 (SHA-256) or 2 (SHA-512).
std::vector<uint8_t> Digest(const TestCert& c, Selector selector, int matching_type) {
  std::vector<uint8_t> der = Der(c, selector);
  std::vector<uint8_t> out(EVP_MAX_MD_SIZE);
  unsigned int len = 0;
  REQUIRE(EVP_Digest(der.data(), der.size(), out.data(), &len,
                     matching_type == 2 ? EVP_sha512() : EVP_sha256(), nullptr) == 1);
  out.resize(len);
  return out;
}

// The status label of the MX lookup's mxtls_dnssec_status (the series without `mx`).
std::string MxLookupDnssec(const ParsedMetrics& m) {
  std::string status;
  for (const auto& s : m.Find("mxtls_dnssec_status")) {
    if (s.labels.count("mx") == 0 && s.value == 1) status = s.labels.at("status");
  }
  return status;
}

// A domain with one MX host on `address`, serving a fresh leaf for it; returns the leaf.
TestCert AddDomain(MailWorld& w, const std::string& domain, const std::string& address) {
  std::string mx = "mx1." + domain;
  TestCert leaf = w.Leaf({mx});
  w.Serve(address, w.Healthy(leaf));
  w.dns.AddMx(domain, 10, mx);
  w.dns.AddA(mx, address);
  return leaf;
}

const char* kSignedCheck = "  dnssec_check_name: signed.test\n";
// The slow-changing extra sessions are covered elsewhere; here they only add noise.
const char* kNoExtraSessions = "      version_check: false\n      key_type_check: false\n";

TEST_CASE("DANE: matching, stale, rollover, digest agility, DANE-TA and unusable TLSA sets",
          "[integration][dane]") {
  MailWorld w;
  w.dns.SetAuthenticData(true);  // every name secure unless said otherwise
  w.dns.AddA("signed.test", "127.0.0.1");
  w.dns_extra = kSignedCheck;

  TestCert match = AddDomain(w, "match.test", "127.0.1.1");
  w.dns.AddTlsa("_25._tcp.mx1.match.test", 3, 1, 1, Digest(match, Selector::kSpki, 1));

  AddDomain(w, "stale.test", "127.0.1.2");
  TestCert previous = w.Leaf({"mx1.stale.test"});  // the key before the rotation
  w.dns.AddTlsa("_25._tcp.mx1.stale.test", 3, 1, 1, Digest(previous, Selector::kSpki, 1));

  TestCert current = AddDomain(w, "rollover.test", "127.0.1.3");
  TestCert next = w.Leaf({"mx1.rollover.test"});
  w.dns.AddTlsa("_25._tcp.mx1.rollover.test", 3, 1, 1, Digest(current, Selector::kSpki, 1));
  w.dns.AddTlsa("_25._tcp.mx1.rollover.test", 3, 1, 1, Digest(next, Selector::kSpki, 1));

  // A good SHA-256 record beside a stale SHA-512 one: senders use the strongest digest only.
  TestCert agile = AddDomain(w, "agility.test", "127.0.1.4");
  w.dns.AddTlsa("_25._tcp.mx1.agility.test", 3, 1, 1, Digest(agile, Selector::kSpki, 1));
  w.dns.AddTlsa("_25._tcp.mx1.agility.test", 3, 1, 2, Digest(previous, Selector::kSpki, 2));

  AddDomain(w, "ta.test", "127.0.1.5");  // the server sends leaf + intermediate
  w.dns.AddTlsa("_25._tcp.mx1.ta.test", 2, 0, 1, Digest(w.pki.intermediate(), Selector::kCert, 1));

  TestCert pkix = AddDomain(w, "unusable.test", "127.0.1.6");
  w.dns.AddTlsa("_25._tcp.mx1.unusable.test", 1, 1, 1, Digest(pkix, Selector::kSpki, 1));

  w.Start("", kNoExtraSessions);
  struct Case {
    const char* domain;
    const char* address;
    std::optional<double> match;  // mxtls_dane_match; nullopt: absent
    const char* reason;           // mxtls_dane_verdict_info
    double usable;
    double dane_delivers;
  };
  const Case cases[] = {
      {"match.test", "127.0.1.1", 1, "ok", 1, 1},
      {"stale.test", "127.0.1.2", 0, "no_match", 1, 0},
      {"rollover.test", "127.0.1.3", 1, "ok", 2, 1},
      {"agility.test", "127.0.1.4", 0, "stale_digest", 2, 0},
      {"ta.test", "127.0.1.5", 1, "ok", 1, 1},
      {"unusable.test", "127.0.1.6", std::nullopt, "only_unusable", 0, 1},
  };
  for (const auto& c : cases) {
    std::string mx = std::string("mx1.") + c.domain;
    ParsedMetrics m = w.Probe(c.domain);
    INFO(c.domain << "\n" << m.text());
    auto ep = Ep4(mx, c.address);
    CHECK(m.Value("probe_success") == 1);
    CHECK(MxLookupDnssec(m) == "secure");
    CHECK(m.Value("mxtls_dnssec_status", {{"mx", mx}, {"status", "secure"}}) == 1);
    CHECK(m.Value("mxtls_dane_tlsa_records", {{"mx", mx}}) == c.usable);
    CHECK(m.Value("mxtls_dane_match", ep) == c.match);
    CHECK(m.Value("mxtls_dane_verdict_info", With(ep, "reason", c.reason)) == 1);
    CHECK(m.Value("mxtls_sender_delivers", With(ep, "sender", "dane")) == c.dane_delivers);
    CHECK(m.Value("mxtls_domain_sender_delivers", {{"sender", "dane"}}) == c.dane_delivers);
    // Opportunistic senders deliver everywhere here: DANE faults stop only DANE senders.
    CHECK(m.Value("mxtls_sender_delivers", With(ep, "sender", "opportunistic")) == 1);
  }
  ParsedMetrics roll = w.Probe("rollover.test");
  CHECK(roll.Value("mxtls_dane_next_key_published", Ep4("mx1.rollover.test", "127.0.1.3")) == 1);
  ParsedMetrics ok = w.Probe("match.test");
  CHECK(ok.Value("mxtls_dane_next_key_published", Ep4("mx1.match.test", "127.0.1.1")) == 0);
  ParsedMetrics unusable = w.Probe("unusable.test");
  CHECK(unusable.Value("mxtls_dane_tlsa_unusable_records", {{"mx", "mx1.unusable.test"}}) == 1);
  CHECK(unusable.Value("mxtls_sender_verdict_info",
                       With(With(Ep4("mx1.unusable.test", "127.0.1.6"), "sender", "dane"),
                            "reason", "unauthenticated_tls")) == 1);
  ParsedMetrics own = w.ExporterMetrics();
  CHECK(own.Value("mxtls_exporter_dnssec_resolver_validating") == 1);
}

TEST_CASE("DNSSEC: insecure MX RRset on a signed host, failing TLSA lookup, bogus and unsigned "
          "zones", "[integration][dane]") {
  MailWorld w;
  w.dns.SetAuthenticData(true);
  w.dns.AddA("signed.test", "127.0.0.1");
  w.dns_extra = kSignedCheck;

  // An unsigned customer domain whose MX is a signed provider host (RFC 7672 §2.2.1).
  TestCert provider = w.Leaf({"mx.provider.test"});
  w.Serve("127.0.2.1", w.Healthy(provider));
  w.dns.AddMx("customer.test", 10, "mx.provider.test");
  w.dns.SetSecure("customer.test", false);
  w.dns.AddA("mx.provider.test", "127.0.2.1");
  w.dns.AddTlsa("_25._tcp.mx.provider.test", 3, 1, 1, Digest(provider, Selector::kSpki, 1));

  // Addresses secure, but the TLSA lookup fails: DANE senders defer.
  AddDomain(w, "tlsafail.test", "127.0.2.2");
  w.dns.SetRcode("_25._tcp.mx1.tlsafail.test", 2);  // SERVFAIL, also with CD

  // Expired signatures on the MX RRset: validating resolvers answer SERVFAIL.
  AddDomain(w, "bogus.test", "127.0.2.3");
  w.dns.SetBogus("bogus.test");

  // Nothing signed: no TLSA lookup at all.
  TestCert unsigned_leaf = AddDomain(w, "unsigned.test", "127.0.2.4");
  w.dns.SetSecure("unsigned.test", false);
  w.dns.SetSecure("mx1.unsigned.test", false);
  w.dns.AddTlsa("_25._tcp.mx1.unsigned.test", 3, 1, 1, Digest(unsigned_leaf, Selector::kSpki, 1));

  w.Start("", kNoExtraSessions);

  ParsedMetrics customer = w.Probe("customer.test");
  {
    INFO(customer.text());
    auto ep = Ep4("mx.provider.test", "127.0.2.1");
    CHECK(MxLookupDnssec(customer) == "insecure");
    CHECK(customer.Value("mxtls_dnssec_status", {{"mx", "mx.provider.test"}, {"status", "secure"}}) == 1);
    CHECK(customer.Value("mxtls_dane_tlsa_records", {{"mx", "mx.provider.test"}}) == 1);
    CHECK(customer.Value("mxtls_dane_match", ep) == 1);
    CHECK(customer.Value("mxtls_sender_delivers", With(ep, "sender", "dane")) == 1);
  }

  ParsedMetrics fail = w.Probe("tlsafail.test");
  {
    INFO(fail.text());
    auto ep = Ep4("mx1.tlsafail.test", "127.0.2.2");
    CHECK(fail.Value("mxtls_dane_tlsa_lookup_failure_info",
                     {{"mx", "mx1.tlsafail.test"}, {"reason", "servfail"}}) == 1);
    CHECK(fail.Count("mxtls_dane_tlsa_records") == 0);
    CHECK(fail.Count("mxtls_dane_match") == 0);
    CHECK(fail.Value("mxtls_dane_verdict_info", With(ep, "reason", "tlsa_lookup_failed")) == 1);
    CHECK(fail.Value("mxtls_sender_delivers", With(ep, "sender", "dane")) == 0);
    CHECK(fail.Value("mxtls_sender_verdict_info",
                     With(With(ep, "sender", "dane"), "reason", "tlsa_lookup_failed")) == 1);
    CHECK(fail.Value("mxtls_sender_delivers", With(ep, "sender", "opportunistic")) == 1);
  }

  ParsedMetrics bogus = w.Probe("bogus.test");
  {
    INFO(bogus.text());
    // Said as such rather than a bare dns_servfail; the endpoints are still probed from the
    // answer given with CD, since non-validating senders still deliver there.
    CHECK(MxLookupDnssec(bogus) == "bogus");
    CHECK(bogus.Count("mxtls_probe_failure_info", {{"reason", "dns_servfail"}}) == 0);
    CHECK(bogus.Value("mxtls_endpoint_up", Ep4("mx1.bogus.test", "127.0.2.3")) == 1);
    CHECK(bogus.Value("mxtls_sender_delivers",
                      With(Ep4("mx1.bogus.test", "127.0.2.3"), "sender", "dane")) == 0);
  }

  ParsedMetrics plain = w.Probe("unsigned.test");
  {
    INFO(plain.text());
    CHECK(MxLookupDnssec(plain) == "insecure");
    CHECK(plain.Value("mxtls_dnssec_status", {{"mx", "mx1.unsigned.test"}, {"status", "insecure"}}) == 1);
    CHECK(plain.Count("mxtls_dane_tlsa_records") == 0);
    CHECK(plain.Count("mxtls_dane_verdict_info") == 0);
    CHECK(w.dns.QueryCount("_25._tcp.mx1.unsigned.test", 52) == 0);
    // Without DANE, the dane sender is an MTA-STS sender; no policy here: opportunistic.
    CHECK(plain.Value("mxtls_sender_delivers",
                      With(Ep4("mx1.unsigned.test", "127.0.2.4"), "sender", "dane")) == 1);
  }
}

TEST_CASE("DANE through a CNAME MX: TLSA at the expanded name, judged on the session with SNI "
          "= that name", "[integration][dane]") {
  MailWorld w;
  w.dns.SetAuthenticData(true);
  w.dns.AddA("signed.test", "127.0.0.1");
  w.dns_extra = kSignedCheck;
  // The hoster's server shows its own certificate for SNI = its own name, and a customer
  // certificate for the customer's MX name; TLSA pins the hoster's key.
  TestCert hoster = w.Leaf({"mail.hoster.test"});
  TestCert customer = w.Leaf({"mx1.alias.test"});
  SmtpFixtureOptions o;
  o.certs = {CertEntry::FromCerts({"mail.hoster.test"}, hoster, {&w.pki.intermediate()}),
             CertEntry::FromCerts({"mx1.alias.test"}, customer, {&w.pki.intermediate()})};
  w.Serve("127.0.3.5", o);
  w.dns.AddMx("alias.test", 10, "mx1.alias.test");
  w.dns.AddCname("mx1.alias.test", "mail.hoster.test");
  w.dns.AddA("mail.hoster.test", "127.0.3.5");
  w.dns.AddTlsa("_25._tcp.mail.hoster.test", 3, 1, 1, Digest(hoster, Selector::kSpki, 1));
  w.Start("", kNoExtraSessions);
  ParsedMetrics m = w.Probe("alias.test");
  INFO(m.text());
  auto ep = Ep4("mx1.alias.test", "127.0.3.5");
  CHECK(m.Value("mxtls_mx_info", {{"mx", "mx1.alias.test"}, {"cname", "mail.hoster.test"}}) == 1);
  CHECK(m.Value("mxtls_dane_tlsa_records", {{"mx", "mx1.alias.test"}}) == 1);
  // DANE senders send SNI = mail.hoster.test and get the hoster's certificate: it matches.
  // (The customer certificate, shown for SNI = mx1.alias.test, would not.)
  CHECK(m.Value("mxtls_dane_match", ep) == 1);
  CHECK(m.Value("mxtls_sender_delivers", With(ep, "sender", "dane")) == 1);
  // (It is also the server's default, so the no-SNI session saw it too.)
  auto held = m.Find("mxtls_cert_held_info", With(ep, "subject", "CN=mail.hoster.test"));
  REQUIRE(held.size() == 1);
  CHECK(held[0].labels.at("seen_by").find("dane_sni") != std::string::npos);
  CHECK(m.Value("mxtls_cert_san_match", ep) == 1);  // the customer certificate, for its name
  // Main, no-SNI and DANE-SNI sessions; the next probe reuses the slow-changing two.
  CHECK(m.Value("mxtls_endpoint_smtp_sessions", ep) == 3);
  CHECK(w.dns.QueryCount("_25._tcp.mx1.alias.test", 52) == 0);
  ParsedMetrics again = w.Probe("alias.test");
  CHECK(again.Value("mxtls_endpoint_smtp_sessions", ep) == 1);
  CHECK(again.Value("mxtls_dane_match", ep) == 1);
}

TEST_CASE("DNSSEC: a resolver that does not validate is never believed", "[integration][dane]") {
  MailWorld w;
  // AD bits are set, but the check name is not answered with AD: as if the resolver merely
  // passed on whatever upstream said.
  w.dns.SetAuthenticData(true);
  w.dns.AddA("signed.test", "127.0.0.1");
  w.dns.SetSecure("signed.test", false);
  w.dns_extra = kSignedCheck;
  TestCert leaf = AddDomain(w, "trusting.test", "127.0.3.1");
  w.dns.AddTlsa("_25._tcp.mx1.trusting.test", 3, 1, 1, Digest(leaf, Selector::kSpki, 1));
  w.Start("", kNoExtraSessions);
  ParsedMetrics m = w.Probe("trusting.test");
  INFO(m.text());
  CHECK(MxLookupDnssec(m) == "unknown");
  CHECK(m.Value("mxtls_dnssec_status", {{"mx", "mx1.trusting.test"}, {"status", "unknown"}}) == 1);
  CHECK(m.Count("mxtls_dane_tlsa_records") == 0);
  CHECK(m.Count("mxtls_dane_match") == 0);
  CHECK(w.dns.QueryCount("_25._tcp.mx1.trusting.test", 52) == 0);
  ParsedMetrics own = w.ExporterMetrics();
  INFO(own.text());
  CHECK(own.Value("mxtls_exporter_dnssec_resolver_validating") == 0);

  // The resolver is fixed (now it validates the check name); a reload checks again, and the
  // next probe believes it.
  w.dns.SetSecure("signed.test", true);
  w.Reload();
  CHECK(w.ExporterMetrics().Value("mxtls_exporter_dnssec_resolver_validating") == 1);
  ParsedMetrics fixed = w.Probe("trusting.test");
  INFO(fixed.text());
  CHECK(MxLookupDnssec(fixed) == "secure");
  CHECK(fixed.Value("mxtls_dane_match", Ep4("mx1.trusting.test", "127.0.3.1")) == 1);
}

TEST_CASE("reverse DNS: forward-confirmed PTR equal to the MX name, and a generic one",
          "[integration][rdns]") {
  MailWorld w;
  AddDomain(w, "rdns.test", "127.0.4.1");
  w.dns.AddPtr("1.4.0.127.in-addr.arpa", "mx1.rdns.test");
  AddDomain(w, "generic.test", "127.0.4.2");
  w.dns.AddPtr("2.4.0.127.in-addr.arpa", "127-0-4-2.dynamic.isp.test");
  w.dns.AddA("127-0-4-2.dynamic.isp.test", "127.0.4.99");  // does not point back
  w.Start("", kNoExtraSessions);

  ParsedMetrics good = w.Probe("rdns.test");
  {
    INFO(good.text());
    auto ep = Ep4("mx1.rdns.test", "127.0.4.1");
    CHECK(good.Value("mxtls_ptr_match", ep) == 1);
    CHECK(good.Value("mxtls_fcrdns_valid", ep) == 1);
    CHECK(good.Value("mxtls_ptr_info", With(ep, "ptr", "mx1.rdns.test")) == 1);
    // The fixture greets as "mx.test": shown beside the PTR.
    CHECK(good.Value("mxtls_smtp_greeting_info", With(ep, "host", "mx.test")) == 1);
  }
  ParsedMetrics generic = w.Probe("generic.test");
  {
    INFO(generic.text());
    auto ep = Ep4("mx1.generic.test", "127.0.4.2");
    CHECK(generic.Value("mxtls_ptr_match", ep) == 0);
    CHECK(generic.Value("mxtls_fcrdns_valid", ep) == 0);
    CHECK(generic.Value("mxtls_ptr_info", With(ep, "ptr", "127-0-4-2.dynamic.isp.test")) == 1);
    // Facts, never a failure: the probe and every sender are fine.
    CHECK(generic.Value("probe_success") == 1);
    CHECK(generic.Value("mxtls_domain_sender_delivers", {{"sender", "mta_sts"}}) == 1);
  }

  // Later probes judge the same facts again from the lookups of the first (kept for an hour):
  // the resolver is not asked again for the PTR or its forward confirmation.
  const int ptr_queries = w.dns.QueryCount("1.4.0.127.in-addr.arpa", 12);
  const int forward_queries = w.dns.QueryCount("mx1.rdns.test", 1);
  ParsedMetrics again = w.Probe("rdns.test");
  {
    INFO(again.text());
    auto ep = Ep4("mx1.rdns.test", "127.0.4.1");
    CHECK(again.Value("mxtls_ptr_match", ep) == 1);
    CHECK(again.Value("mxtls_fcrdns_valid", ep) == 1);
    CHECK(again.Value("mxtls_ptr_info", With(ep, "ptr", "mx1.rdns.test")) == 1);
  }
  CHECK(ptr_queries == 1);
  CHECK(w.dns.QueryCount("1.4.0.127.in-addr.arpa", 12) == ptr_queries);
  // The MX host's own A lookup is asked at every probe; only the PTR's confirmation is kept.
  CHECK(w.dns.QueryCount("mx1.rdns.test", 1) == forward_queries + 1);
}

TEST_CASE("reverse DNS: a failed PTR lookup is asked again at the next probe",
          "[integration][rdns]") {
  MailWorld w;
  AddDomain(w, "flaky.test", "127.0.4.3");
  w.dns.SetRcode("3.4.0.127.in-addr.arpa", 2);  // SERVFAIL
  w.Start("", kNoExtraSessions);
  ParsedMetrics first = w.Probe("flaky.test");
  auto ep = Ep4("mx1.flaky.test", "127.0.4.3");
  CHECK(first.Value("mxtls_fcrdns_valid", ep) == 0);
  w.dns.ClearFaults("3.4.0.127.in-addr.arpa");
  w.dns.AddPtr("3.4.0.127.in-addr.arpa", "mx1.flaky.test");
  ParsedMetrics second = w.Probe("flaky.test");
  INFO(second.text());
  CHECK(second.Value("mxtls_ptr_match", ep) == 1);
  CHECK(second.Value("mxtls_fcrdns_valid", ep) == 1);
}

}  // namespace
}  // namespace mxtls::testing

namespace mxtls::testing {
namespace {

TestCert RsaLeaf(MailWorld& w, const std::string& name, KeyType key_type,
                 std::chrono::system_clock::time_point not_after) {
  CertSpec spec;
  spec.common_name = name;
  spec.dns_sans = {name};
  spec.key_type = key_type;
  spec.not_before = not_after - std::chrono::hours(24 * 90);
  spec.not_after = not_after;
  return MakeIssued(spec, w.pki.intermediate());
}

TEST_CASE("TLS versions each server accepts, and what modern, legacy and DANE senders make of "
          "them", "[integration][versions]") {
  MailWorld w;
  w.dns.SetAuthenticData(true);
  w.dns.AddA("signed.test", "127.0.0.1");
  w.dns_extra = kSignedCheck;
  auto now = std::chrono::system_clock::now();

  // Stuck on TLS 1.1 (the server needs security level 0 for it, as the fixture has), with a
  // matching TLSA record: DANE senders, on current TLS stacks, cannot even negotiate.
  TestCert old_leaf = w.Leaf({"mx1.tls11.test"});
  SmtpFixtureOptions tls11 = w.Healthy(old_leaf);
  tls11.tls_min_version = TLS1_1_VERSION;
  tls11.tls_max_version = TLS1_1_VERSION;
  w.Serve("127.0.5.1", tls11);
  w.dns.AddMx("tls11.test", 10, "mx1.tls11.test");
  w.dns.AddA("mx1.tls11.test", "127.0.5.1");
  w.dns.AddTlsa("_25._tcp.mx1.tls11.test", 3, 1, 1, Digest(old_leaf, Selector::kSpki, 1));

  // Over-hardened: TLS 1.3 only.
  SmtpFixtureOptions tls13 = w.Healthy(w.Leaf({"mx1.tls13.test"}));
  tls13.tls_min_version = TLS1_3_VERSION;
  w.Serve("127.0.5.2", tls13);
  w.dns.AddMx("tls13.test", 10, "mx1.tls13.test");
  w.dns.AddA("mx1.tls13.test", "127.0.5.2");
  w.dns.SetSecure("tls13.test", false);
  w.dns.SetSecure("mx1.tls13.test", false);

  // A 1024-bit RSA key: security level 2 (Debian 12's default) refuses it.
  w.Serve("127.0.5.3", w.Healthy(RsaLeaf(w, "mx1.weak.test", KeyType::kRsa1024,
                                         now + std::chrono::hours(24 * 60))));
  w.dns.AddMx("weak.test", 10, "mx1.weak.test");
  w.dns.AddA("mx1.weak.test", "127.0.5.3");
  w.dns.SetSecure("weak.test", false);
  w.dns.SetSecure("mx1.weak.test", false);

  w.Start();
  ParsedMetrics m11 = w.Probe("tls11.test");
  {
    INFO(m11.text());
    auto ep = Ep4("mx1.tls11.test", "127.0.5.1");
    CHECK(m11.Value("mxtls_tls_version_supported", With(ep, "version", "TLSv1")) == 0);
    CHECK(m11.Value("mxtls_tls_version_supported", With(ep, "version", "TLSv1.1")) == 1);
    CHECK(m11.Value("mxtls_tls_version_supported", With(ep, "version", "TLSv1.2")) == 0);
    CHECK(m11.Value("mxtls_tls_version_supported", With(ep, "version", "TLSv1.3")) == 0);
    CHECK(m11.Value("mxtls_tls_version_info", With(ep, "version", "TLSv1.1")) == 1);
    CHECK(m11.Value("mxtls_sender_delivers", With(ep, "sender", "modern")) == 1);
    CHECK(m11.Value("mxtls_sender_verdict_info",
                    With(With(ep, "sender", "modern"), "reason", "plaintext_no_tls12")) == 1);
    CHECK(m11.Value("mxtls_sender_delivers", With(ep, "sender", "legacy")) == 1);
    CHECK(m11.Count("mxtls_sender_verdict_info", With(ep, "sender", "legacy")) == 0);
    CHECK(m11.Value("mxtls_dane_match", ep) == 1);  // the key is right ...
    CHECK(m11.Value("mxtls_sender_delivers", With(ep, "sender", "dane")) == 0);  // ... the TLS not
    CHECK(m11.Value("mxtls_sender_verdict_info",
                    With(With(ep, "sender", "dane"), "reason", "no_tls12")) == 1);
  }
  ParsedMetrics m13 = w.Probe("tls13.test");
  {
    INFO(m13.text());
    auto ep = Ep4("mx1.tls13.test", "127.0.5.2");
    for (const char* v : {"TLSv1", "TLSv1.1", "TLSv1.2"}) {
      CHECK(m13.Value("mxtls_tls_version_supported", With(ep, "version", v)) == 0);
    }
    CHECK(m13.Value("mxtls_tls_version_supported", With(ep, "version", "TLSv1.3")) == 1);
    CHECK(m13.Value("mxtls_sender_delivers", With(ep, "sender", "modern")) == 1);
    CHECK(m13.Count("mxtls_sender_verdict_info", With(ep, "sender", "modern")) == 0);
    CHECK(m13.Value("mxtls_domain_sender_delivers", {{"sender", "legacy"}}) == 1);
    CHECK(m13.Value("mxtls_tls_version_check_age_seconds", ep).value_or(-1) >= 0);
  }
  ParsedMetrics weak = w.Probe("weak.test");
  {
    INFO(weak.text());
    auto ep = Ep4("mx1.weak.test", "127.0.5.3");
    CHECK(weak.Value("mxtls_cert_key_size", ep) == 1024);
    CHECK(weak.Value("mxtls_sender_verdict_info",
                     With(With(ep, "sender", "modern"), "reason", "plaintext_weak_key")) == 1);
    CHECK(weak.Count("mxtls_sender_verdict_info", With(ep, "sender", "legacy")) == 0);
  }
}

TEST_CASE("a dual-certificate server: valid ECDSA, expired RSA", "[integration][versions]") {
  MailWorld w;
  auto now = std::chrono::system_clock::now();
  TestCert ecdsa = w.Leaf({"mx1.dual.test"});
  TestCert rsa = RsaLeaf(w, "mx1.dual.test", KeyType::kRsa2048, now - std::chrono::hours(48));
  SmtpFixtureOptions o;
  o.certs = {CertEntry::FromCerts({}, ecdsa, {&w.pki.intermediate()})
                 .WithSecond(rsa, {&w.pki.intermediate()})};
  w.Serve("127.0.6.1", o);
  w.dns.AddMx("dual.test", 10, "mx1.dual.test");
  w.dns.AddA("mx1.dual.test", "127.0.6.1");
  w.Start();
  ParsedMetrics m = w.Probe("dual.test");
  INFO(m.text());
  auto ep = Ep4("mx1.dual.test", "127.0.6.1");
  // Our own client is shown the ECDSA certificate, and it is fine ...
  CHECK(m.Value("mxtls_cert_verified", ep) == 1);
  CHECK(m.Value("mxtls_key_type_handshake_success", With(ep, "key_type", "rsa")) == 1);
  CHECK(m.Value("mxtls_key_type_handshake_success", With(ep, "key_type", "ecdsa")) == 1);
  // ... but the server holds two, and senders offering only RSA get the expired one.
  REQUIRE(m.Count("mxtls_cert_held_info", ep) == 2);
  std::string rsa_fp, ecdsa_fp;
  for (const auto& s : m.Find("mxtls_cert_held_info", ep)) {
    (s.labels.at("key_type") == "RSA" ? rsa_fp : ecdsa_fp) = s.labels.at("fingerprint_sha256");
  }
  REQUIRE(!rsa_fp.empty());
  REQUIRE(!ecdsa_fp.empty());
  CHECK(m.Count("mxtls_cert_held_info",
                With(With(ep, "fingerprint_sha256", rsa_fp), "seen_by", "rsa")) == 1);
  CHECK(m.Value("mxtls_cert_held_days_to_expiry", With(ep, "fingerprint_sha256", rsa_fp))
            .value_or(0) < -1.9);
  CHECK(m.Value("mxtls_cert_held_verified", With(ep, "fingerprint_sha256", rsa_fp)) == 0);
  CHECK(m.Value("mxtls_cert_held_verified", With(ep, "fingerprint_sha256", ecdsa_fp)) == 1);
  CHECK(m.Value("mxtls_cert_held_not_after_timestamp_seconds",
                With(ep, "fingerprint_sha256", rsa_fp))
            .value_or(0) < static_cast<double>(std::chrono::system_clock::to_time_t(now)));
  // The domain's earliest expiry is the RSA certificate's.
  CHECK(m.Value("mxtls_domain_cert_days_to_expiry_min").value_or(0) < -1.9);
}

}  // namespace
}  // namespace mxtls::testing
