// The plain value one domain probe produces. No Prometheus, HTTP or terminal types: the
// /probe metrics, the debug text, the status page and the check command are views of it.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/openssl_util.h"
#include "probes/cert_checks.h"
#include "probes/probe_log.h"

namespace mxtls {

// The certificate an endpoint presented, judged the way a strict sending MTA judges it.
struct CertificateReport {
  std::vector<CertFacts> presented;  // as the server sent them, leaf first
  ChainVerdict chain;                // verification against the module's trust store
  NameMatch name_match = NameMatch::kMismatch;  // leaf against the MX name as published
  std::string checked_name;          // the name the leaf was matched against
  long long judged_at = 0;           // unix seconds of the clock used for the verdict
  double days_to_expiry = 0;         // leaf; fractional, negative once expired

  const CertFacts& leaf() const { return presented.front(); }
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

  // Filled in once the whole domain is probed.
  // RFC 8461 §4.2 checks against the domain's valid policy, whatever its mode (so that a
  // domain in testing mode sees what enforce would break); not evaluated without a policy.
  SenderVerdict sts_compliance;
  // Would this kind of sender deliver here?
  SenderVerdict opportunistic;  // encrypts when it can, else delivers in clear text
  SenderVerdict mta_sts;        // applies the domain's MTA-STS policy in its published mode
  SenderVerdict no_sni_strict;  // sends no SNI and verifies chain and name
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
  double fetch_seconds = 0;
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
