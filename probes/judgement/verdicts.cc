#include "probes/judgement/verdicts.h"

#include <optional>
#include <set>
#include <string_view>

#include "probes/judgement/dns_names.h"

namespace mxtls {
namespace {

SenderVerdict Deliver(std::string caveat = "") {
  SenderVerdict v;
  v.evaluated = true;
  v.delivers = true;
  v.reason = std::move(caveat);
  return v;
}

SenderVerdict Refuse(std::string reason) {
  SenderVerdict v;
  v.evaluated = true;
  v.delivers = false;
  v.reason = std::move(reason);
  return v;
}

// What a sender that verifies chain and name concludes about a certificate.
SenderVerdict JudgeStrictly(const CertificateReport& cert) {
  if (!cert.chain.verified) return Refuse(cert.chain.reason);
  if (cert.name_match != NameMatch::kMatch) {
    return Refuse(cert.name_match == NameMatch::kCnOnly ? "cn_only" : "name_mismatch");
  }
  return Deliver();
}

// A sender reaches the TLS stage only through a greeting and an answered EHLO.
std::optional<SenderVerdict> SmtpStageFailure(const EndpointReport& e) {
  if (!e.greeted || !e.starttls_offered.has_value()) {
    return Refuse(e.failure_reason.empty() ? "unreachable" : e.failure_reason);
  }
  return std::nullopt;
}

SenderVerdict Opportunistic(const EndpointReport& e) {
  if (auto failed = SmtpStageFailure(e)) return *failed;
  // Opportunistic TLS (RFC 7435): no STARTTLS, a refused STARTTLS or a failed handshake
  // all end in clear-text delivery; a bad certificate is used anyway.
  if (!*e.starttls_offered) return Deliver("plaintext");
  if (!e.handshake_ok.value_or(false)) return Deliver("plaintext");
  return Deliver();
}

SenderVerdict MtaStsEnforcing(const EndpointReport& e, bool covered) {
  // RFC 8461 §4.2: the MX must match a policy pattern, and the session must use TLS with a
  // certificate that chains to a trusted root, is unexpired, and matches the MX name as
  // published (not a CNAME target).
  if (!covered) return Refuse("not_covered");
  if (auto failed = SmtpStageFailure(e)) return *failed;
  if (!*e.starttls_offered) return Refuse("no_starttls");
  if (!e.handshake_ok.value_or(false) || !e.cert) {
    return Refuse(e.failure_reason == "starttls_refused" || e.failure_reason == "starttls_injection"
                      ? e.failure_reason
                      : "handshake");
  }
  return JudgeStrictly(*e.cert);
}

bool Accepted(const TlsVersionsReport& v, std::string_view version) {
  for (const auto& s : v.versions) {
    if (s.version == version) return s.outcome == VersionOutcome::kAccepted;
  }
  return false;
}

bool Refused(const TlsVersionsReport& v, std::string_view version) {
  for (const auto& s : v.versions) {
    if (s.version == version) return s.outcome == VersionOutcome::kRefused;
  }
  return false;
}

// Whether a client limited to TLS 1.2 and 1.3 can agree on a version with the endpoint:
// from the version sessions when they answered for both, else from the main session, whose
// client offers every version so that it negotiates the server's highest one. nullopt when
// neither tells (no handshake ever completed).
std::optional<bool> AcceptsTls12OrNewer(const EndpointReport& e) {
  if (e.tls_versions) {
    const TlsVersionsReport& v = *e.tls_versions;
    if (Accepted(v, "TLSv1.2") || Accepted(v, "TLSv1.3")) return true;
    if (Refused(v, "TLSv1.2") && Refused(v, "TLSv1.3")) return false;
  }
  if (e.handshake_ok.value_or(false) && !e.tls_version.empty()) {
    return e.tls_version == "TLSv1.2" || e.tls_version == "TLSv1.3";
  }
  return std::nullopt;
}

// The same for a client offering TLS 1.0 up to 1.3.
std::optional<bool> AcceptsTls10OrNewer(const EndpointReport& e) {
  if (e.handshake_ok.value_or(false)) return true;  // our client offered TLS 1.0+ too
  if (e.tls_versions) {
    const TlsVersionsReport& v = *e.tls_versions;
    bool any_accepted = false, all_refused = true;
    for (const auto& s : v.versions) {
      any_accepted = any_accepted || s.outcome == VersionOutcome::kAccepted;
      all_refused = all_refused && s.outcome == VersionOutcome::kRefused;
    }
    if (any_accepted) return true;
    if (all_refused && !v.versions.empty()) return false;
  }
  return std::nullopt;
}

// OpenSSL security levels refuse the server's key below a size (SSL_CTX_set_security_level):
// level 1 wants 1024-bit RSA/DSA and 160-bit EC keys, level 2 2048 and 224 bits.
bool KeyMeetsSecurityLevel(const CertFacts& leaf, int level) {
  const bool ec = leaf.key_type == "EC";
  const bool rsa_like = leaf.key_type == "RSA" || leaf.key_type == "RSA-PSS" || leaf.key_type == "DSA";
  if (level >= 2) {
    if (rsa_like) return leaf.key_bits >= 2048;
    if (ec) return leaf.key_bits >= 224;
    return true;
  }
  if (rsa_like) return leaf.key_bits >= 1024;
  if (ec) return leaf.key_bits >= 160;
  return true;
}

// An opportunistic sender with a given TLS stack: it encrypts when it can agree with the
// server, and otherwise delivers in clear text (RFC 7435), naming why in the caveat.
SenderVerdict OpportunisticWithStack(const EndpointReport& e, std::optional<bool> can_negotiate,
                                     const CertificateReport* leaf_seen, int security_level,
                                     const char* version_caveat) {
  if (auto failed = SmtpStageFailure(e)) return *failed;
  if (!*e.starttls_offered) return Deliver("plaintext");
  if (can_negotiate.has_value() && !*can_negotiate) return Deliver(version_caveat);
  if (leaf_seen != nullptr && !KeyMeetsSecurityLevel(leaf_seen->leaf(), security_level)) {
    return Deliver("plaintext_weak_key");
  }
  if (!e.handshake_ok.value_or(false)) return Deliver("plaintext");
  return Deliver();
}

SenderVerdict Modern(const EndpointReport& e) {
  return OpportunisticWithStack(e, AcceptsTls12OrNewer(e), e.cert ? &*e.cert : nullptr, 2,
                                "plaintext_no_tls12");
}

SenderVerdict Legacy(const EndpointReport& e) {
  // It sends no SNI, so it is shown the no-SNI certificate when that was checked.
  const CertificateReport* leaf = e.cert ? &*e.cert : nullptr;
  if (e.no_sni && e.no_sni->cert) leaf = &*e.no_sni->cert;
  return OpportunisticWithStack(e, AcceptsTls10OrNewer(e), leaf, 1, "plaintext_no_common_version");
}

// A DANE sender (RFC 7672), which also applies MTA-STS where DANE does not apply (RFC 8461
// §2) and validates DNSSEC. `mta_sts` is the endpoint's verdict for an MTA-STS sender.
SenderVerdict Dane(const EndpointReport& e, const MxHostReport* host, DnssecStatus mx_dnssec,
                   const SenderVerdict& mta_sts) {
  // A validating resolver answers SERVFAIL for bogus data: the sender cannot even find the
  // MX or its addresses, and defers.
  if (mx_dnssec == DnssecStatus::kBogus) return Refuse("dnssec_bogus");
  if (host == nullptr) return mta_sts;
  if (host->address_dnssec == DnssecStatus::kBogus) return Refuse("dnssec_bogus");
  if (host->address_dnssec == DnssecStatus::kSecure && !host->dane.lookup_error.empty()) {
    return Refuse("tlsa_lookup_failed");  // RFC 7672 §2.1.1: the sender defers
  }
  if (!host->dane.applies()) return mta_sts;
  if (auto failed = SmtpStageFailure(e)) return *failed;
  if (!*e.starttls_offered) return Refuse("no_starttls");
  if (AcceptsTls12OrNewer(e) == std::optional<bool>(false)) return Refuse("no_tls12");
  if (!e.handshake_ok.value_or(false) || !e.cert) {
    return Refuse(e.failure_reason == "starttls_refused" || e.failure_reason == "starttls_injection"
                      ? e.failure_reason
                      : "handshake");
  }
  // Only unusable records: TLS is mandatory, but nothing is authenticated (RFC 7672 §2.2).
  if (host->dane.usable_records == 0) return Deliver("unauthenticated_tls");
  if (!e.dane_check.evaluated) return Refuse("handshake");
  if (e.dane_check.authenticated) return Deliver();
  return Refuse(e.dane_check.reason.empty() ? "no_match" : e.dane_check.reason);
}

SenderVerdict NoSniStrict(const EndpointReport& e) {
  if (auto failed = SmtpStageFailure(e)) return *failed;
  if (!*e.starttls_offered) return Refuse("no_starttls");
  if (!e.no_sni) return SenderVerdict();  // not checked
  if (!e.no_sni->handshake_ok || !e.no_sni->cert) return Refuse("handshake");
  return JudgeStrictly(*e.no_sni->cert);
}

}  // namespace

bool PolicyCoversMx(const std::vector<std::string>& mx_patterns, const std::string& mx_host) {
  for (const auto& pattern : mx_patterns) {
    if (MatchesDnsPattern(pattern, mx_host)) return true;
  }
  return false;
}

void ComputeVerdicts(DomainReport& report) {
  const MtaStsReport& sts = report.mta_sts;
  // Senders use a policy only when both the TXT record and the policy itself are valid.
  const bool have_policy = sts.txt_valid && sts.policy_valid;
  const bool policy_applies = have_policy && sts.mode != "none";
  for (auto& host : report.mx_hosts) {
    host.sts_covered.reset();
    if (have_policy) host.sts_covered = PolicyCoversMx(sts.mx_patterns, host.host);
    std::set<std::string> leaves;
    for (const auto& e : report.endpoints) {
      if (e.mx == host.host && e.cert) leaves.insert(e.cert->leaf().fingerprint_sha256);
    }
    host.cert_consistent.reset();
    if (!leaves.empty()) host.cert_consistent = leaves.size() == 1;
  }
  for (auto& e : report.endpoints) {
    e.opportunistic = Opportunistic(e);
    e.sts_compliance = SenderVerdict();
    if (have_policy) {
      e.sts_compliance = MtaStsEnforcing(e, PolicyCoversMx(sts.mx_patterns, e.mx));
    }
    // An MTA-STS sender enforces only mode "enforce"; in "testing" it delivers anyway and
    // reports the failure (RFC 8460); without a policy (or mode "none") it is opportunistic.
    if (policy_applies && sts.mode == "enforce") {
      e.mta_sts = e.sts_compliance;
    } else if (policy_applies) {
      e.mta_sts = e.sts_compliance.delivers ? Deliver() : Opportunistic(e);
      if (!e.sts_compliance.delivers && e.mta_sts.delivers) {
        e.mta_sts.reason = "testing_" + e.sts_compliance.reason;
      }
    } else {
      e.mta_sts = Opportunistic(e);
    }
    e.no_sni_strict = NoSniStrict(e);
    e.modern = Modern(e);
    e.legacy = Legacy(e);
    const MxHostReport* host = nullptr;
    for (const auto& h : report.mx_hosts) {
      if (h.host == e.mx) host = &h;
    }
    e.dane = Dane(e, host, report.mx_dnssec, e.mta_sts);
  }
}

}  // namespace mxtls
