#include "probes/judgement/verdicts.h"

#include <set>

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
  }
}

}  // namespace mxtls
