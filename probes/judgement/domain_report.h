// The plain value one domain probe produces. No Prometheus, HTTP or terminal types: the
// /probe metrics, the debug text, the status page and the check command are views of it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/openssl_util.h"
#include "probes/judgement/cert_checks.h"
#include "probes/judgement/probe_log.h"

namespace mxtls {

// The certificate an endpoint presented, judged the way a strict sending MTA judges it.
struct CertificateReport {
  CertFactsList presented;           // as the server sent them, leaf first
  ChainVerdict chain;                // verification against the module's trust store
  NameMatch name_match = NameMatch::kMismatch;  // leaf against the MX name as published
  std::string checked_name;          // the name the leaf was matched against
  long long judged_at = 0;           // unix seconds of the clock used for the verdict
  double days_to_expiry = 0;         // leaf; fractional, negative once expired

  const CertFacts& leaf() const { return presented.front(); }
};

// The DNSSEC status of one lookup, as a validating resolver reports it (RFC 4035 §3.2.3,
// RFC 6840 §5.7): AD set = secure; NOERROR/NXDOMAIN without AD = insecure; SERVFAIL that
// succeeds when asked again with CD set = bogus (the signatures do not validate: every
// validating sender fails). kUnknown: not asked, the lookup failed otherwise, or the resolver
// is not known to validate (its AD bit means nothing then).
enum class DnssecStatus { kUnknown, kSecure, kInsecure, kBogus };

// One TLSA record (RFC 6698 §2.1) as published.
struct TlsaRecord {
  uint8_t usage = 0;          // 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE
  uint8_t selector = 0;       // 0 full certificate, 1 SubjectPublicKeyInfo
  uint8_t matching_type = 0;  // 0 exact, 1 SHA-256, 2 SHA-512
  std::vector<uint8_t> data;  // certificate association data

  bool operator==(const TlsaRecord&) const = default;
};

// DANE facts of one MX host (RFC 7672 §2.2). TLSA is looked up only when the host's address
// records are DNSSEC-secure (whether or not the MX RRset itself is, §2.2.1).
struct DaneHostReport {
  bool looked_up = false;       // a TLSA query was sent
  std::string base_domain;      // the TLSA base domain that answered (CNAME-expanded first)
  DnssecStatus tlsa_dnssec = DnssecStatus::kUnknown;
  // A TLSA lookup that failed (servfail, timeout, bogus, ...) while the addresses are secure:
  // DANE senders defer (RFC 7672 §2.1.1). Empty when it answered (records or NODATA/NXDOMAIN).
  std::string lookup_error;
  std::vector<TlsaRecord> records;  // the secure TLSA RRset, as published (empty: none)
  int usable_records = 0;           // usage 2 or 3, selector 0/1, matching type 0/1/2
  // DANE applies: secure, with at least one record (usable or not). With only unusable records
  // DANE senders still require TLS but authenticate nothing (RFC 7672 §2.2).
  bool applies() const { return tlsa_dnssec == DnssecStatus::kSecure && !records.empty(); }
};

// One record of a host's TLSA RRset judged against one certificate chain.
struct TlsaRecordResult {
  size_t record_index = 0;  // into DaneHostReport::records
  bool usable = false;
  // Ignored by senders under digest agility (RFC 7671 §9): a stronger matching type exists for
  // the same usage and selector.
  bool superseded = false;
  bool matches = false;      // the record authenticates the chain
  std::string reason;        // "match", "no_match", "ta_not_presented", "name_mismatch", "expired",
                             // "chain", "unusable", "superseded", "malformed"
};

// DANE as a DANE sender (RFC 7672) sees one endpoint, over every certificate it holds.
struct DaneEndpointReport {
  bool evaluated = false;  // DANE applies to the host and a certificate was seen
  bool authenticated = false;  // every certificate the endpoint presents is authenticated
  // "ok", "no_match", "stale_digest" (only a superseded weaker digest matches), "name_mismatch",
  // "expired", "ta_not_presented", "chain", "only_unusable" (authenticated = false but TLS is
  // still required), "tlsa_lookup_failed", "no_starttls", "handshake"
  std::string reason;
  std::vector<TlsaRecordResult> records;  // per record, against the SNI = base domain session
  // A usable record matches no certificate the endpoint presents while another one matches:
  // a pre-published next key (RFC 7671 §8), so a key rollover is ready.
  bool next_key_published = false;
};

// Which TLS versions an endpoint accepts (short version sessions for 1.0 to 1.2, the main
// session for 1.3: ProbeTlsVersions, JudgeTls13FromMainSession).
enum class VersionOutcome {
  kNotChecked,
  kAccepted,           // the handshake at exactly this version completed
  kRefused,            // the server answered with an alert or closed: it does not accept it
  kClientUnsupported,  // our own OpenSSL could not offer this version: nothing was sent
  kFailed,             // no verdict (connect, greeting, STARTTLS failed or timed out)
};
struct VersionSupport {
  std::string version;  // "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"
  VersionOutcome outcome = VersionOutcome::kNotChecked;
  std::string detail;   // for people
};
struct TlsVersionsReport {
  std::vector<VersionSupport> versions;  // TLSv1, TLSv1.1, TLSv1.2, TLSv1.3 in that order
  double age_seconds = 0;                // the observation may come from the cache
  int sessions = 0;                      // SMTP sessions it took (when not from the cache)
};

// One distinct certificate an endpoint holds, with the sessions that saw it.
struct HeldCertificate {
  // "sni" (the main session), "no_sni", "rsa" (RSA-only signature algorithms), "ecdsa"
  // (ECDSA-only), "dane_sni" (SNI = TLSA base domain when it differs from the MX name).
  std::vector<std::string> seen_by;
  CertificateReport cert;
  std::shared_ptr<const std::vector<X509Ptr>> chain;  // leaf first, as captured
};

// A session offering only one family of signature algorithms.
struct KeyTypeSession {
  std::string key_type;  // "rsa" or "ecdsa"
  bool handshake_ok = false;
  std::string failure_reason;  // e.g. "handshake" when the server holds no such certificate
  double age_seconds = 0;
  // No session of its own: the main session (which offers both families) completed with a
  // certificate of this type, so that is the one this family gets.
  bool from_main_session = false;
};

// Reverse DNS of one address. Facts, not alerts: a generic PTR is noise, not TLS trouble.
struct ReverseDnsReport {
  bool checked = false;
  std::vector<std::string> ptr_names;  // normalized
  std::string error;                   // lookup reason word (nxdomain, nodata, servfail, ...)
  bool forward_confirmed = false;      // a PTR name resolves back to this very address
  bool matches_mx = false;             // a PTR name equals the MX host name
};

// Whether a kind of sending MTA would deliver to an endpoint, and if not why.
struct SenderVerdict {
  bool evaluated = false;
  bool delivers = false;
  // Short fixed word when it does not: unreachable, no_starttls, handshake, not_verified,
  // name_mismatch, not_covered, no_policy, ...
  std::string reason;
};

// The certificate the endpoint presents when the client sends no SNI.
struct NoSniReport {
  bool handshake_ok = false;
  std::string failure_stage;
  std::string failure_reason;
  std::optional<CertificateReport> cert;
  bool same_as_sni = false;  // the same leaf as with SNI (by fingerprint)
  double age_seconds = 0;    // how old the observation is (it may come from the cache)
};

// One (MX host, address) pair and what happened on it.
struct EndpointReport {
  std::string mx;       // MX host as published in DNS
  std::string address;  // textual IP
  std::string family;   // "ipv4" or "ipv6"

  bool connected = false;
  bool greeted = false;                   // a 220 greeting arrived
  std::optional<bool> starttls_offered;   // known once EHLO was answered
  std::optional<bool> handshake_ok;       // known once a handshake was attempted
  std::string tls_version;                // "TLSv1.3", ... when the handshake succeeded
  std::string tls_cipher;
  std::optional<CertificateReport> cert;  // when a certificate was captured
  // The chain exactly as captured (leaf first), kept so that a cached session can be judged
  // again at a later time. Shared and immutable.
  std::shared_ptr<const std::vector<X509Ptr>> chain;

  // Why the endpoint did not get through the whole dialogue; empty when it did.
  std::string failure_stage;    // connect, greeting, ehlo, starttls, handshake
  std::string failure_reason;   // short fixed word (label value)
  std::string failure_message;  // for people

  // A verdict, good or bad, was reached: a judged certificate or a definitive SMTP
  // answer (no STARTTLS, STARTTLS refused, greeting refused). Timeouts and unreachable
  // addresses reach none.
  bool verdict_reached = false;
  std::vector<std::pair<std::string, double>> phase_seconds;  // in dialogue order

  // The same dialogue without SNI, as Postfix and Exim run it by default (when checked).
  std::optional<NoSniReport> no_sni;

  // The host name the 220 greeting announces (first word after the code), when greeted.
  std::string greeting_host;
  // Every SMTP session opened to this address by this probe (main, no-SNI, versions, key
  // types, DANE SNI), cached ones not counted.
  int sessions_opened = 0;
  // The main session was not this probe's own: another domain's probe of the same endpoint
  // (address, port, SNI, EHLO name, timeouts) ran it, within the module's
  // endpoint_reuse_window or while this probe waited for it. Its dialogue facts and phase
  // timings are that session's, observed session_age_seconds ago; the certificate and the
  // verdicts are judged again for this probe (its trust store, its clock).
  bool session_reused = false;
  double session_age_seconds = 0;
  std::optional<TlsVersionsReport> tls_versions;  // when checked
  std::vector<KeyTypeSession> key_type_sessions;  // when checked
  // Every distinct certificate seen on this endpoint (all sessions), earliest expiry first.
  std::vector<HeldCertificate> held_certs;
  ReverseDnsReport reverse_dns;

  // Filled in once the whole domain is probed.
  DaneEndpointReport dane_check;
  // RFC 8461 §4.2 checks against the domain's valid policy, whatever its mode (so that a
  // domain in testing mode sees what enforce would break); not evaluated without a policy.
  SenderVerdict sts_compliance;
  // Would this kind of sender deliver here?
  SenderVerdict opportunistic;  // encrypts when it can, else delivers in clear text
  SenderVerdict mta_sts;        // applies the domain's MTA-STS policy in its published mode
  SenderVerdict no_sni_strict;  // sends no SNI and verifies chain and name
  // Applies DANE where the host has a secure TLSA RRset, else the domain's MTA-STS policy
  // (RFC 8461 §2: DANE first for senders that do both), else opportunistic; validates DNSSEC.
  SenderVerdict dane;
  // Opportunistic senders on the TLS stacks of today and of the past (README: "Senders").
  SenderVerdict modern;  // Debian 12 OpenSSL 3.0 defaults: TLS 1.2+, security level 2, SNI
  SenderVerdict legacy;  // TLS 1.0+, security level 1, no SNI
};

struct MxHostReport {
  std::string host;  // as published in the MX record (or the domain for implicit MX)
  int preference = 0;
  bool is_cname = false;        // the MX target is an alias (RFC 5321 §5.1 forbids it)
  std::string canonical_name;   // where the CNAME chain ends, when is_cname
  std::vector<std::string> ipv4;
  std::vector<std::string> ipv6;
  std::string ipv4_error;  // reason when the A lookup failed (nodata is not an error)
  std::string ipv6_error;
  int addresses_skipped = 0;  // over max_addresses_per_mx

  // Filled in once the whole domain is probed:
  std::optional<bool> sts_covered;   // matched by a valid MTA-STS policy's mx patterns
  std::optional<bool> cert_consistent;  // every address presents the same leaf

  // DNSSEC status of the address lookups (secure only when every lookup done is secure).
  DnssecStatus address_dnssec = DnssecStatus::kUnknown;
  DaneHostReport dane;
};

// MTA-STS (RFC 8461) as a sender would see it.
struct MtaStsReport {
  bool checked = false;
  // _mta-sts.<domain> TXT
  bool txt_present = false;
  bool txt_valid = false;
  std::string txt_id;
  std::string txt_error;  // message when present but invalid, or the lookup failed
  // https://mta-sts.<domain>/.well-known/mta-sts.txt
  bool fetch_attempted = false;
  bool policy_valid = false;
  // RFC 8460 result type when no valid policy could be had: sts-policy-fetch-error,
  // sts-policy-invalid, sts-webpki-invalid.
  std::string failure_reason;
  std::string failure_message;
  std::string host;          // mta-sts.<domain>
  std::string host_address;  // the address the policy was fetched from
  std::optional<CertificateReport> host_cert;
  std::string mode;  // enforce, testing, none (valid policy only)
  long long max_age = 0;
  std::vector<std::string> mx_patterns;
  bool id_not_bumped = false;  // the policy changed while the TXT id stayed the same
  double fetch_seconds = 0;  // of the fetch the policy came from (maybe an earlier probe's)
  // Seconds since the policy (and the host certificate judged above, judged again now) was
  // fetched: 0 when this probe fetched it, more when a remembered fetch was reused. Unset
  // when no fetch was attempted.
  std::optional<double> policy_age_seconds;
};

// TLS-RPT (RFC 8460): _smtp._tls.<domain> TXT.
struct TlsRptReport {
  bool checked = false;
  bool present = false;
  bool valid = false;
  std::vector<std::string> rua;
  std::string error;
};

struct DomainReport {
  std::string domain;
  std::string module;
  // True when DNS answered and every endpoint reached a verdict (good or bad) in time.
  bool success = false;
  std::string failure_reason;   // short fixed word when !success
  std::string failure_message;  // for people
  double duration_seconds = 0;
  double timeout_seconds = 0;
  double dns_seconds = 0;

  std::string mx_lookup_error;  // reason when the MX lookup itself failed
  DnssecStatus mx_dnssec = DnssecStatus::kUnknown;  // of the MX lookup
  // Whether the resolvers validate DNSSEC (checked at start and on reload with
  // dns.dnssec_check_name); unset when not known. Without it no status is ever kSecure.
  std::optional<bool> resolver_validates;
  bool null_mx = false;         // RFC 7505: the domain accepts no mail
  bool implicit_mx = false;     // RFC 5321 §5.1: no MX records, the domain itself is used
  int mx_hosts_skipped = 0;     // over max_mx_hosts
  std::vector<MxHostReport> mx_hosts;  // in preference order
  std::vector<EndpointReport> endpoints;
  MtaStsReport mta_sts;
  TlsRptReport tlsrpt;

  std::shared_ptr<ProbeLog> log = std::make_shared<ProbeLog>();
};

}  // namespace mxtls
