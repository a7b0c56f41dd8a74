#include "probes/policy_probe.h"

#include <optional>
#include <utility>
#include <vector>

#include "probes/dns_resolver.h"
#include "probes/https_fetch.h"
#include "probes/judgement/certificate_report.h"
#include "probes/judgement/mta_sts.h"
#include "probes/judgement/tlsrpt.h"

namespace mxtls {
namespace {

// RFC 8460 §4.3.2.2 result types for policy failures.
constexpr const char* kFetchError = "sts-policy-fetch-error";
constexpr const char* kPolicyInvalid = "sts-policy-invalid";
constexpr const char* kWebPkiInvalid = "sts-webpki-invalid";

void Fail(MtaStsReport& r, const char* reason, const std::string& message, ProbeLog& log) {
  r.failure_reason = reason;
  r.failure_message = message;
  log.Add("MTA-STS " + r.host + ": " + reason + ": " + message);
}

bool NoSuchRecord(const Status& s) { return s.reason() == "nxdomain" || s.reason() == "nodata"; }

}  // namespace

asio::awaitable<MtaStsReport> ProbeMtaSts(std::string domain, uint16_t port,
                                          std::chrono::steady_clock::time_point deadline,
                                          PolicyProbeEnv env) {
  MtaStsReport r;
  r.checked = true;
  r.host = "mta-sts." + domain;
  ProbeLog& log = *env.log;

  TxtLookup txt = co_await env.dns->LookupTxt("_mta-sts." + domain, deadline);
  if (!txt.status.ok()) {
    if (NoSuchRecord(txt.status)) {
      log.Add("MTA-STS: no _mta-sts TXT record: no policy");
      co_return r;
    }
    r.txt_error = txt.status.ToString();
    Fail(r, kFetchError, "TXT lookup of _mta-sts." + domain + " failed: " + r.txt_error, log);
    co_return r;
  }
  StsTxtRecord record = ParseStsTxtRecords(txt.records);
  r.txt_present = record.present;
  r.txt_valid = record.valid;
  r.txt_id = record.id;
  if (!record.present) {
    log.Add("MTA-STS: no v=STSv1 TXT record: no policy");
    co_return r;
  }
  if (!record.valid) {
    // Senders treat an invalid record as no policy (RFC 8461 §3.1). The policy is still
    // fetched below so that the operator sees everything that is wrong at once.
    r.txt_error = record.error.message();
    log.Add("MTA-STS: invalid TXT record: " + r.txt_error);
  } else {
    log.Add("MTA-STS: TXT id=" + record.id);
  }

  // A remembered fetch under the same id, young enough, stands in for a new one: the policy
  // and its host change rarely, and senders cache policies for days anyway.
  const std::string cache_key = domain + ":" + std::to_string(port);
  const WallTime now = env.clock->Now();
  std::optional<FactCache::PolicyFetchFact> remembered;
  if (env.cache != nullptr && env.policy_refetch_interval.count() > 0) {
    remembered = env.cache->GetPolicyFetch(cache_key);
    if (remembered && (remembered->txt_id != record.id || now < remembered->fetched_at ||
                       now - remembered->fetched_at >= env.policy_refetch_interval)) {
      remembered.reset();
    }
  }

  HttpsFetchResult fetched;
  if (remembered) {
    fetched = std::move(remembered->fetched);
    r.fetch_attempted = true;
    r.host_address = remembered->host_address;
    r.fetch_seconds = remembered->fetch_seconds;
    r.policy_age_seconds = std::chrono::duration<double>(now - remembered->fetched_at).count();
    // Judged again with this probe's clock: a certificate that expired since the fetch shows.
    if (fetched.chain) {
      fetched.cert = JudgeCertificate(ChainPointers(*fetched.chain), env.trust, r.host, now);
    }
    log.Add("MTA-STS: reusing the policy fetched " + std::to_string(*r.policy_age_seconds) +
            "s ago under the same id");
  } else {
    // Resolve the policy host through the configured resolvers, IPv4 first.
    std::vector<std::string> addresses;
    AddressLookup a = co_await env.dns->LookupA(r.host, deadline);
    for (const auto& addr : a.addresses) addresses.push_back(addr);
    AddressLookup aaaa = co_await env.dns->LookupAAAA(r.host, deadline);
    for (const auto& addr : aaaa.addresses) addresses.push_back(addr);
    if (addresses.empty()) {
      Fail(r, kFetchError,
           r.host + " has no address (A: " + a.status.ToString() +
               ", AAAA: " + aaaa.status.ToString() + ")",
           log);
      co_return r;
    }

    HttpsFetchEnv fetch_env;
    fetch_env.tls = env.tls;
    fetch_env.trust = env.trust;
    fetch_env.clock = env.clock;
    fetch_env.log = env.log;
    r.fetch_attempted = true;
    // Like a sender, move on to the next address only when this one cannot be reached.
    for (size_t i = 0; i < addresses.size() && i < 4; ++i) {
      HttpsFetchSpec spec;
      spec.host = r.host;
      spec.address = addresses[i];
      spec.port = port;
      spec.deadline = deadline;
      fetched = co_await FetchHttps(spec, fetch_env);
      r.host_address = addresses[i];
      r.fetch_seconds += fetched.seconds;
      if (fetched.connected) break;
    }
    r.policy_age_seconds = 0;
  }
  // Remembered (after the id check below has run on a fresh fetch) when the policy host was
  // reached: an unreachable host is tried again at the next probe.
  const bool remember = !remembered && fetched.connected && env.cache != nullptr &&
                        env.policy_refetch_interval.count() > 0;
  auto remember_fetch = [&](bool id_not_bumped) {
    if (!remember) return;
    FactCache::PolicyFetchFact fact;
    fact.fetched_at = now;
    fact.txt_id = record.id;
    fact.host_address = r.host_address;
    fact.fetch_seconds = r.fetch_seconds;
    fact.fetched = fetched;
    fact.id_not_bumped = id_not_bumped;
    env.cache->PutPolicyFetch(cache_key, std::move(fact));
  };
  remember_fetch(false);
  r.host_cert = fetched.cert;

  if (r.host_cert) {
    // The policy host must present a certificate that chains to a trusted root and matches
    // mta-sts.<domain> (RFC 8461 §3.3); otherwise the policy is unusable whatever it says.
    if (!r.host_cert->chain.verified) {
      Fail(r, kWebPkiInvalid,
           "the certificate of " + r.host + " does not verify: " + r.host_cert->chain.reason,
           log);
      co_return r;
    }
    if (r.host_cert->name_match != NameMatch::kMatch) {
      Fail(r, kWebPkiInvalid, "the certificate of " + r.host + " does not cover " + r.host, log);
      co_return r;
    }
  }
  if (!fetched.ok()) {
    Fail(r, fetched.failure_reason == "body_too_large" ? kPolicyInvalid : kFetchError,
         fetched.failure_stage + ": " + fetched.failure_reason + ": " + fetched.failure_message,
         log);
    co_return r;
  }
  if (fetched.status_code != 200) {
    std::string message = "HTTP status " + std::to_string(fetched.status_code);
    if (!fetched.location.empty()) {
      message += ", redirect to " + fetched.location + " (redirects are never followed)";
    }
    Fail(r, kFetchError, message, log);
    co_return r;
  }
  if (!IsTextPlainMediaType(fetched.content_type)) {
    Fail(r, kPolicyInvalid,
         "media type \"" + fetched.content_type + "\" is not text/plain", log);
    co_return r;
  }
  Result<StsPolicy> policy = ParseStsPolicy(fetched.body);
  if (!policy.ok()) {
    Fail(r, kPolicyInvalid, policy.status().message(), log);
    co_return r;
  }
  r.policy_valid = true;
  r.mode = policy->mode;
  r.max_age = policy->max_age;
  r.mx_patterns = policy->mx;
  std::string patterns;
  for (const auto& p : r.mx_patterns) patterns += " " + p;
  log.Add("MTA-STS policy: mode " + r.mode + ", max_age " + std::to_string(r.max_age) +
          ", mx" + patterns);
  if (record.valid && env.cache != nullptr) {
    // Decided when the content is at hand, i.e. when it was fetched; a reused fetch carries
    // that decision.
    if (remembered) {
      r.id_not_bumped = remembered->id_not_bumped;
    } else {
      r.id_not_bumped =
          env.cache->PolicyChangedWithoutNewId(domain, record.id, PolicyFingerprint(*policy));
      remember_fetch(r.id_not_bumped);
    }
    if (r.id_not_bumped) {
      log.Add("MTA-STS: the policy changed but its id " + record.id +
              " did not: senders keep the policy they cached");
    }
  }
  if (!record.valid) {
    Fail(r, "sts-txt-invalid", "the policy is fine but the TXT record is invalid: " +
                                   r.txt_error, log);
  }
  co_return r;
}

asio::awaitable<TlsRptReport> ProbeTlsRpt(std::string domain,
                                          std::chrono::steady_clock::time_point deadline,
                                          PolicyProbeEnv env) {
  TlsRptReport r;
  r.checked = true;
  TxtLookup txt = co_await env.dns->LookupTxt("_smtp._tls." + domain, deadline);
  if (!txt.status.ok()) {
    if (!NoSuchRecord(txt.status)) {
      r.error = "TXT lookup failed: " + txt.status.ToString();
      env.log->Add("TLS-RPT: " + r.error);
    }
    co_return r;
  }
  TlsRptRecord record = ParseTlsRptRecords(txt.records);
  r.present = record.present;
  r.valid = record.valid;
  r.rua = record.rua;
  if (record.present && !record.valid) r.error = record.error.message();
  env.log->Add(std::string("TLS-RPT: ") +
               (!record.present ? "no record"
                                : record.valid ? "valid, " + std::to_string(r.rua.size()) +
                                                     " report address(es)"
                                               : "invalid: " + r.error));
  co_return r;
}

}  // namespace mxtls
