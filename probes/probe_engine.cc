#include "probes/probe_engine.h"

#include <openssl/err.h>
#include <sys/stat.h>

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <future>
#include <set>

#include "common/log.h"
#include "probes/dns_resolver.h"
#include "probes/join.h"
#include "probes/tls_variant_probe.h"
#include "probes/endpoint_probe.h"
#include "probes/tls_client_context.h"
#include "probes/policy_probe.h"
#include "probes/judgement/certificate_report.h"
#include "probes/judgement/chain_judgement_cache.h"
#include "probes/in_flight_gate.h"
#include "probes/judgement/dane.h"
#include "probes/judgement/dnssec.h"
#include "probes/judgement/reverse_dns.h"
#include "probes/judgement/verdicts.h"

namespace mxtls {

std::string ProbeEngine::ResolverKey(const config::DnsConfig& dns) {
  std::string key = std::to_string(dns.timeout.count()) + "/" + std::to_string(dns.attempts);
  for (const auto& r : dns.resolvers) key += "/" + r.ToString();
  return key;
}

struct ProbeEngine::Loop {
  asio::io_context ctx{1};
  asio::executor_work_guard<asio::io_context::executor_type> guard{ctx.get_executor()};
  std::thread thread;
  // c-ares channels by resolver settings. Kept for the engine's lifetime: a reload that
  // changes resolvers adds one, and probes still running on an old one finish on it.
  std::map<std::string, std::unique_ptr<DnsResolver>> resolvers;

  DnsResolver* ResolverFor(const config::DnsConfig& dns, std::string* error) {
    std::string key = ResolverKey(dns);
    auto it = resolvers.find(key);
    if (it != resolvers.end()) return it->second.get();
    auto created = DnsResolver::Create(ctx, dns);
    if (!created.ok()) {
      *error = created.status().message();
      return nullptr;
    }
    DnsResolver* raw = created.value().get();
    resolvers.emplace(key, std::move(created).value());
    return raw;
  }
};

namespace {

using SteadyTime = std::chrono::steady_clock::time_point;
constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);
// How long an address's PTR lookup (and its forward confirmation) is reused by later probes.
constexpr std::chrono::milliseconds kReverseDnsReuse = std::chrono::hours(1);

double SecondsSince(SteadyTime start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Everything one domain probe shares between its coroutines; lives until the last of them
// completes. Only touched on the loop thread that runs the probe.
struct DomainJob {
  ProbeTask task;
  ProbeEngine::Loop* loop = nullptr;
  DnsResolver* dns = nullptr;
  asio::ssl::context* tls = nullptr;
  SharedX509Store trust;
  const Clock* clock = nullptr;
  FactCache* cache = nullptr;
  EndpointSessionCache* endpoint_sessions = nullptr;
  // One probe at a time runs an endpoint's slow-fact sessions; the others read its result.
  InFlightGate* slow_fact_gate = nullptr;
  SessionLimiter* limiter = nullptr;
  ProbeEngine* engine = nullptr;
  DomainReport report;
  double address_dns_seconds = 0;
  // Whether the resolvers validate DNSSEC (ProbeEngine::CheckResolverValidation).
  bool resolver_validates = false;
  // DNSSEC status of each address lookup, by MX host index.
  std::map<size_t, std::vector<DnssecStatus>> address_dnssec;
  // Reverse DNS by "mx|address".
  std::map<std::string, ReverseDnsReport> reverse_dns;
  // No-SNI sessions by EndpointKey, with the time they were observed.
  std::map<std::string, std::pair<EndpointReport, std::chrono::steady_clock::time_point>>
      no_sni_sessions;
  // The slow-changing observations of each endpoint (by EndpointKey), fresh or cached.
  struct SlowFacts {
    std::optional<FactCache::VersionsFact> versions;
    std::map<std::string, FactCache::KeyTypeFact> key_types;  // "rsa", "ecdsa"
    int fresh_sessions = 0;  // sessions opened for them by this probe (no-SNI included)
  };
  std::map<std::string, SlowFacts> slow_facts;
  const TlsVersionContexts* version_contexts = nullptr;
  // Chains seen with SNI = the TLSA base domain, by EndpointKey (only when it is not the MX name).
  std::map<std::string, std::shared_ptr<const std::vector<X509Ptr>>> dane_sni_chains;
};

void Log(DomainJob& job, const std::string& line) { job.report.log->Add(line); }

EndpointEnv MakeEndpointEnv(DomainJob& job) {
  EndpointEnv env;
  env.tls = job.tls;
  env.trust = job.trust.get();
  env.clock = job.clock;
  env.log = job.report.log;
  return env;
}

EndpointReport InternalErrorReport(const EndpointSpec& spec, std::exception_ptr e) {
  EndpointReport r;
  r.mx = spec.mx;
  r.address = spec.address;
  r.family = spec.family;
  r.failure_stage = "connect";
  r.failure_reason = "internal_error";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    r.failure_message = ex.what();
  } catch (...) {
    r.failure_message = "unknown exception";
  }
  return r;
}

// What the engine remembers about an endpoint between sessions and probes is keyed by the MX
// name (the SNI the sessions send), the address and the port.
std::string EndpointKey(const std::string& mx, const std::string& address, uint16_t port) {
  return mx + "|" + address + "|" + std::to_string(port);
}
std::string EndpointKey(const EndpointSpec& spec) {
  return EndpointKey(spec.mx, spec.address, spec.port);
}
std::string EndpointKey(const DomainJob& job, const EndpointReport& e) {
  return EndpointKey(e.mx, e.address, job.task.module->smtp.port);
}

// The session to one address of an MX host under the probe's module: SNI = the MX name as
// published, bounded by the probe's deadline.
EndpointSpec SpecFor(const DomainJob& job, const MxHostReport& host, const std::string& address,
                     const char* family) {
  const config::ModuleConfig& module = *job.task.module;
  EndpointSpec spec;
  spec.mx = host.host;
  spec.address = address;
  spec.family = family;
  spec.port = module.smtp.port;
  spec.sni = host.host;
  spec.ehlo_name = module.smtp.ehlo_name;
  spec.timeouts = module.timeouts;
  spec.deadline = job.task.deadline;
  spec.limiter = job.limiter;
  return spec;
}

// The main session of one endpoint, shared with the probes of other domains whose MX is the
// same endpoint (EndpointSessionCache). A shared session's dialogue facts and phase timings
// are the original's; its certificate is judged again here, with this probe's trust store and
// clock, and the verdicts are this probe's (ComputeVerdicts in Finish).
asio::awaitable<EndpointReport> MainSession(std::shared_ptr<DomainJob> job, EndpointSpec spec) {
  const std::chrono::milliseconds window =
      std::chrono::duration_cast<std::chrono::milliseconds>(job->task.module->endpoint_reuse_window);
  EndpointEnv env = MakeEndpointEnv(*job);
  // Named, not temporaries in the co_await expression (GCC 12 coroutine bugs).
  std::string key = EndpointSessionCache::Key(spec);
  std::string consumer = job->report.domain + "|" + job->report.module;
  std::function<asio::awaitable<EndpointReport>()> run = [spec, env]() {
    return ProbeSmtpEndpoint(spec, env);
  };
  EndpointSessionCache::Observation seen =
      co_await job->endpoint_sessions->Obtain(key, consumer, window, spec.deadline, std::move(run));
  const std::string who = spec.mx + " [" + spec.address + "]:" + std::to_string(spec.port);
  if (!seen.reused) co_return *seen.session;
  if (!seen.session) {
    EndpointReport r;
    r.mx = spec.mx;
    r.address = spec.address;
    r.family = spec.family;
    r.session_reused = true;
    r.failure_stage = "connect";
    r.failure_reason = "timeout";
    r.failure_message =
        "waited for the session another probe opened to this endpoint; it did not end by this "
        "probe's deadline";
    Log(*job, who + ": " + r.failure_message);
    co_return r;
  }
  EndpointReport r = *seen.session;
  r.mx = spec.mx;
  r.family = spec.family;
  r.sessions_opened = 0;
  r.session_reused = true;
  r.session_age_seconds = std::max(0.0, SecondsSince(seen.observed_at));
  r.cert.reset();
  if (r.chain) {
    r.cert = JudgeCertificate(ChainPointers(*r.chain), job->trust.get(), spec.mx, job->clock->Now());
  }
  Log(*job, who + ": reused the session another probe of this endpoint ended " +
                std::to_string(r.session_age_seconds) + "s ago (" +
                (r.failure_reason.empty() ? "TLS " + r.tls_version
                                          : r.failure_stage + " failed: " + r.failure_reason) +
                ")");
  co_return r;
}

// An endpoint's slow facts (no-SNI session, TLS versions, key-type sessions) are asked for
// by every domain whose MX it is. The first probe to find one missing from the FactCache runs
// its session(s); probes that come while it runs wait for it through the engine's
// InFlightGate and read what it stored, so that a fleet of domains probed together costs the
// mail server each of these sessions once. A probe that waited and found nothing stored (the
// leader's session timed out) runs its own, unless its deadline has come: then the fact is
// missing from this probe, as it would be had its own session timed out.
// With a check interval of 0 ("every probe") each probe runs its own, as configured.
template <typename Fact>
struct Obtained {
  std::optional<Fact> fact;  // empty: waited in vain until the deadline
  int sessions_opened = 0;   // by this probe
};
using ObtainedNoSni = Obtained<FactCache::NoSniFact>;
using ObtainedVersions = Obtained<FactCache::VersionsFact>;
using ObtainedKeyType = Obtained<FactCache::KeyTypeFact>;

// Runs `lead` (which stores what it learns in the FactCache and returns it) unless another
// probe is already doing it, in which case `lookup` reads that probe's result.
template <typename Fact, typename Lookup, typename Lead>
asio::awaitable<Obtained<Fact>> ObtainShared(DomainJob& job, std::string gate_key,
                                             std::chrono::milliseconds interval,
                                             SteadyTime deadline, Lookup lookup, Lead lead) {
  Obtained<Fact> out;
  if (interval.count() <= 0) {
    out = co_await lead();
    co_return out;
  }
  for (;;) {
    InFlightGate::Lease lease = co_await job.slow_fact_gate->Enter(gate_key, deadline);
    // Another probe may have stored it while this one waited, or just before it entered.
    std::optional<Fact> stored = lookup();
    if (stored) {
      out.fact = std::move(stored);
      co_return out;
    }
    if (lease.leader()) {
      out = co_await lead();  // the lease wakes the waiters once the result is stored
      co_return out;
    }
    if (std::chrono::steady_clock::now() >= deadline) co_return out;
  }
}

asio::awaitable<ObtainedNoSni> ObtainNoSni(std::shared_ptr<DomainJob> job, EndpointSpec no_sni,
                                           std::string key) {
  const auto interval = job->task.module->tls.no_sni_check_interval;
  auto lookup = [job, key, interval] { return job->cache->GetNoSni(key, interval); };
  auto lead = [job, no_sni, key]() -> asio::awaitable<ObtainedNoSni> {
    EndpointReport r = co_await ProbeSmtpEndpoint(no_sni, MakeEndpointEnv(*job));
    ObtainedNoSni out;
    out.sessions_opened = r.sessions_opened;
    FactCache::NoSniFact fact{std::chrono::steady_clock::now(), std::move(r)};
    // Only an observation of the certificate is worth keeping; a timeout is retried at the
    // next probe.
    if (fact.session.cert) job->cache->PutNoSni(key, fact);
    out.fact = std::move(fact);
    co_return out;
  };
  ObtainedNoSni out = co_await ObtainShared<FactCache::NoSniFact>(
      *job, "no_sni|" + key, interval, no_sni.deadline, lookup, lead);
  co_return out;
}

asio::awaitable<ObtainedVersions> ObtainVersions(std::shared_ptr<DomainJob> job,
                                                 EndpointSpec spec, std::string key) {
  const auto interval = job->task.module->tls.version_check_interval;
  auto lookup = [job, key, interval] { return job->cache->GetVersions(key, interval); };
  auto lead = [job, spec, key]() -> asio::awaitable<ObtainedVersions> {
    TlsVersionsReport versions =
        co_await ProbeTlsVersions(spec, job->version_contexts, job->report.log);
    ObtainedVersions out;
    FactCache::VersionsFact fact{std::chrono::steady_clock::now(), std::move(versions)};
    // Kept only when every version got an answer: a partial matrix (one session timed out) is
    // asked again at the next probe.
    bool complete = true;
    for (const auto& v : fact.versions.versions) {
      complete = complete && v.outcome != VersionOutcome::kFailed;
    }
    if (complete) job->cache->PutVersions(key, fact);
    out.sessions_opened = fact.versions.sessions;
    out.fact = std::move(fact);
    co_return out;
  };
  ObtainedVersions out = co_await ObtainShared<FactCache::VersionsFact>(
      *job, "versions|" + key, interval, spec.deadline, lookup, lead);
  co_return out;
}

asio::awaitable<ObtainedKeyType> ObtainKeyType(std::shared_ptr<DomainJob> job, EndpointSpec spec,
                                               std::string key_type, std::string type_key) {
  const auto interval = job->task.module->tls.key_type_check_interval;
  auto lookup = [job, type_key, interval] { return job->cache->GetKeyType(type_key, interval); };
  auto lead = [job, spec, key_type, type_key]() -> asio::awaitable<ObtainedKeyType> {
    KeyTypeProbeResult result =
        co_await ProbeKeyType(spec, key_type, job->tls->native_handle(), job->report.log);
    ObtainedKeyType out;
    FactCache::KeyTypeFact fact{std::chrono::steady_clock::now(), result.session, result.chain};
    // A certificate, or the server's refusal to show one of this type, is an answer worth
    // keeping; a timeout is not.
    if (result.chain || result.session.failure_reason == "handshake") {
      job->cache->PutKeyType(type_key, fact);
    }
    out.sessions_opened = result.session_opened ? 1 : 0;
    out.fact = std::move(fact);
    co_return out;
  };
  ObtainedKeyType out = co_await ObtainShared<FactCache::KeyTypeFact>(
      *job, "key_type|" + type_key, interval, spec.deadline, lookup, lead);
  co_return out;
}

// The key-type facts of one endpoint once its main session has ended. The main session offers
// both families of signature algorithms, so the certificate it saw is the one a session
// offering only that certificate's family would see: that key type is taken from it, fresh at
// every probe, and only the other one needs a session of its own (or its cached answer).
// When the main session's handshake did not complete with an RSA or ECDSA leaf, both get a
// session. Adds to
// `join` before the caller's Done, so the probe waits for them.
void SpawnKeyTypes(const std::shared_ptr<DomainJob>& job, const EndpointSpec& spec,
                   const EndpointReport& main, const std::shared_ptr<Join>& join) {
  const config::ModuleConfig& module = *job->task.module;
  const std::string key = EndpointKey(spec);
  const std::string shown =
      main.handshake_ok.value_or(false) ? KeyTypeOfLeaf(main.chain.get()) : std::string();
  for (const char* key_type : {"rsa", "ecdsa"}) {
    if (key_type == shown) {
      FactCache::KeyTypeFact fact;
      fact.checked_at = std::chrono::steady_clock::now();
      fact.session.key_type = key_type;
      fact.session.handshake_ok = true;
      fact.session.from_main_session = true;
      fact.chain = main.chain;
      job->slow_facts[key].key_types[key_type] = std::move(fact);
      continue;
    }
    const std::string type_key = key + "|" + key_type;
    if (auto cached = job->cache->GetKeyType(type_key, module.tls.key_type_check_interval)) {
      job->slow_facts[key].key_types[key_type] = std::move(*cached);
      continue;
    }
    join->Add();
    asio::co_spawn(job->loop->ctx, ObtainKeyType(job, spec, key_type, type_key),
                   [job, join, key, key_type](std::exception_ptr e, ObtainedKeyType obtained) {
                     if (!e && obtained.fact) {
                       job->slow_facts[key].fresh_sessions += obtained.sessions_opened;
                       job->slow_facts[key].key_types[key_type] = std::move(*obtained.fact);
                     }
                     join->Done();
                   });
  }
}

// Spawns the SNI session of every address of one MX host and, unless a recent one is
// cached, a second session without SNI (in parallel, so it costs no extra latency); the
// version sessions too, and the key-type sessions once the main session has ended.
void SpawnEndpoints(std::shared_ptr<DomainJob> job, size_t host_index,
                    const std::shared_ptr<Join>& join) {
  const MxHostReport& host = job->report.mx_hosts[host_index];
  const config::ModuleConfig& module = *job->task.module;
  // The extra sessions end a little before the probe's deadline: they must never turn a probe
  // whose main sessions reached their verdicts into one that ran past its deadline.
  const auto margin = std::min<std::chrono::steady_clock::duration>(
      std::chrono::seconds(1),
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(
          std::chrono::duration<double>(job->task.timeout_seconds * 0.1)));
  auto spawn = [&](const std::string& address, const char* family) {
    EndpointSpec spec = SpecFor(*job, host, address, family);
    EndpointSpec slow_spec = spec;
    slow_spec.deadline -= margin;
    join->Add();
    asio::co_spawn(job->loop->ctx, MainSession(job, spec),
                   [job, join, spec, slow_spec](std::exception_ptr e, EndpointReport r) {
                     if (e) {
                       r = InternalErrorReport(spec, e);
                       job->report.log->Add(spec.mx + " [" + spec.address +
                                            "]: internal error: " + r.failure_message);
                     }
                     if (job->task.module->tls.key_type_check) {
                       SpawnKeyTypes(job, slow_spec, r, join);
                     }
                     job->report.endpoints.push_back(std::move(r));
                     join->Done();
                   });
    if (!module.tls.no_sni_check) return;
    std::string key = EndpointKey(spec);
    if (auto cached = job->cache->GetNoSni(key, module.tls.no_sni_check_interval)) {
      job->no_sni_sessions[key] = {cached->session, cached->checked_at};
      return;
    }
    EndpointSpec no_sni = spec;
    no_sni.sni.clear();
    join->Add();
    asio::co_spawn(job->loop->ctx, ObtainNoSni(job, no_sni, key),
                   [job, join, no_sni, key](std::exception_ptr e, ObtainedNoSni obtained) {
                     if (e) {
                       obtained.fact = FactCache::NoSniFact{std::chrono::steady_clock::now(),
                                                            InternalErrorReport(no_sni, e)};
                     }
                     if (obtained.fact) {
                       job->slow_facts[key].fresh_sessions += obtained.sessions_opened;
                       job->no_sni_sessions[key] = {std::move(obtained.fact->session),
                                                    obtained.fact->checked_at};
                     }
                     join->Done();
                   });
  };
  auto spawn_slow_facts = [&](const std::string& address, const char* family) {
    EndpointSpec spec = SpecFor(*job, host, address, family);
    spec.deadline -= margin;
    const std::string key = EndpointKey(spec);
    if (module.tls.version_check) {
      if (auto cached = job->cache->GetVersions(key, module.tls.version_check_interval)) {
        job->slow_facts[key].versions = std::move(cached);
      } else {
        join->Add();
        asio::co_spawn(job->loop->ctx, ObtainVersions(job, spec, key),
                       [job, join, key](std::exception_ptr e, ObtainedVersions obtained) {
                         if (!e && obtained.fact) {
                           job->slow_facts[key].fresh_sessions += obtained.sessions_opened;
                           job->slow_facts[key].versions = std::move(obtained.fact);
                         }
                         join->Done();
                       });
      }
    }
  };
  for (const auto& a : host.ipv4) spawn_slow_facts(a, "ipv4");
  for (const auto& a : host.ipv6) spawn_slow_facts(a, "ipv6");
  for (const auto& a : host.ipv4) spawn(a, "ipv4");
  for (const auto& a : host.ipv6) spawn(a, "ipv6");
}

// Attaches each endpoint's no-SNI observation, judged again now (a cached one may be old).
void AttachNoSni(DomainJob& job) {
  for (auto& e : job.report.endpoints) {
    auto it = job.no_sni_sessions.find(EndpointKey(job, e));
    if (it == job.no_sni_sessions.end()) continue;
    const EndpointReport& session = it->second.first;
    NoSniReport n;
    n.handshake_ok = session.handshake_ok.value_or(false);
    n.failure_stage = session.failure_stage;
    n.failure_reason = session.failure_reason;
    n.age_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                                  it->second.second)
                        .count();
    if (session.chain && !session.chain->empty()) {
      std::vector<X509*> chain;
      for (const auto& c : *session.chain) chain.push_back(c.get());
      n.cert = JudgeCertificate(chain, job.trust.get(), e.mx, job.clock->Now());
      n.same_as_sni =
          e.cert && e.cert->leaf().fingerprint_sha256 == n.cert->leaf().fingerprint_sha256;
    }
    e.no_sni = std::move(n);
  }
}

void AttachReverseDns(DomainJob& job) {
  for (auto& e : job.report.endpoints) {
    auto it = job.reverse_dns.find(e.mx + "|" + e.address);
    if (it != job.reverse_dns.end()) e.reverse_dns = it->second;
  }
}

// Every distinct certificate each endpoint showed to any session, judged now (cached
// sessions may be old; expiry must be exact at every probe).
void CollectHeldCertificates(DomainJob& job) {
  const WallTime now = job.clock->Now();
  X509_STORE* trust = job.trust.get();
  for (auto& e : job.report.endpoints) {
    e.held_certs.clear();
    // The SNI and no-SNI chains were judged already (the session, AttachNoSni): reuse that.
    if (e.cert) AddHeldCertificate(e.held_certs, "sni", e.chain, *e.cert);
    const std::string key = EndpointKey(job, e);
    auto no_sni = job.no_sni_sessions.find(key);
    if (no_sni != job.no_sni_sessions.end()) {
      if (e.no_sni && e.no_sni->cert) {
        AddHeldCertificate(e.held_certs, "no_sni", no_sni->second.first.chain, *e.no_sni->cert);
      } else {
        AddHeldCertificate(e.held_certs, "no_sni", no_sni->second.first.chain, trust, e.mx, now);
      }
    }
    auto slow = job.slow_facts.find(key);
    if (slow != job.slow_facts.end()) {
      for (const auto& [key_type, fact] : slow->second.key_types) {
        AddHeldCertificate(e.held_certs, key_type, fact.chain, trust, e.mx, now);
      }
    }
    auto dane_sni = job.dane_sni_chains.find(key);
    if (dane_sni != job.dane_sni_chains.end()) {
      AddHeldCertificate(e.held_certs, "dane_sni", dane_sni->second, trust, e.mx, now);
    }
  }
}

// The TLS versions and key-type sessions of each endpoint, with the age of the observation,
// and the sessions this probe opened for them.
void AttachSlowFacts(DomainJob& job) {
  const auto now = std::chrono::steady_clock::now();
  auto age = [now](SteadyTime at) { return std::chrono::duration<double>(now - at).count(); };
  for (auto& e : job.report.endpoints) {
    auto slow = job.slow_facts.find(EndpointKey(job, e));
    if (slow == job.slow_facts.end()) continue;
    const DomainJob::SlowFacts& facts = slow->second;
    if (facts.versions) {
      e.tls_versions = facts.versions->versions;
      e.tls_versions->age_seconds = age(facts.versions->checked_at);
      JudgeTls13FromMainSession(*e.tls_versions, e);
    }
    for (const char* key_type : {"rsa", "ecdsa"}) {
      auto it = facts.key_types.find(key_type);
      if (it == facts.key_types.end()) continue;
      KeyTypeSession session = it->second.session;
      session.age_seconds = age(it->second.checked_at);
      e.key_type_sessions.push_back(std::move(session));
    }
    e.sessions_opened += facts.fresh_sessions;
  }
}

// DANE as DANE senders see each endpoint: they send SNI, so the no-SNI certificate is not
// theirs to judge; every certificate shown with SNI is.
void JudgeDane(DomainJob& job) {
  const WallTime now = job.clock->Now();
  for (auto& e : job.report.endpoints) {
    const MxHostReport* host = nullptr;
    for (const auto& h : job.report.mx_hosts) {
      if (h.host == e.mx) host = &h;
    }
    if (host == nullptr || (!host->dane.applies() && host->dane.lookup_error.empty())) continue;
    // With SNI = the TLSA base domain when that differs from the MX name (a session of its
    // own), else with SNI = the MX name (main, RSA-only and ECDSA-only sessions).
    bool own_session = false;
    for (const auto& held : e.held_certs) {
      for (const auto& s : held.seen_by) own_session = own_session || s == "dane_sni";
    }
    std::vector<HeldCertificate> with_sni;
    for (const auto& held : e.held_certs) {
      bool shown = false;
      for (const auto& s : held.seen_by) {
        shown = shown || (own_session ? s == "dane_sni" : s != "no_sni");
      }
      if (shown) with_sni.push_back(held);
    }
    e.dane_check = JudgeDaneEndpoint(host->dane, e.mx, with_sni, now);
    if (e.dane_check.evaluated || !host->dane.applies()) continue;
    // No certificate to judge: the SMTP dialogue says why DANE senders fail here. An endpoint
    // that never answered gives no DANE verdict at all.
    if (e.starttls_offered == std::optional<bool>(false)) {
      e.dane_check.evaluated = true;
      e.dane_check.reason = "no_starttls";
    } else if (e.starttls_offered.value_or(false) && e.verdict_reached) {
      e.dane_check.evaluated = true;
      e.dane_check.reason = "handshake";
    }
  }
}

// Resolves one family of one MX host and records the addresses (capped) on the report.
asio::awaitable<void> ResolveFamily(std::shared_ptr<DomainJob> job, size_t host_index,
                                    bool ipv6) {
  SteadyTime start = std::chrono::steady_clock::now();
  std::string name = job->report.mx_hosts[host_index].host;
  // Two statements, not `ipv6 ? co_await ... : co_await ...`: GCC 12 destroys the result of
  // a co_await inside a conditional expression twice.
  DnssecLookup<AddressLookup> lookup;
  if (ipv6) {
    lookup = co_await job->dns->LookupAAAADnssec(name, job->task.deadline, job->resolver_validates);
  } else {
    lookup = co_await job->dns->LookupADnssec(name, job->task.deadline, job->resolver_validates);
  }
  job->address_dns_seconds = std::max(job->address_dns_seconds, SecondsSince(start));
  job->address_dnssec[host_index].push_back(lookup.dnssec);
  if (lookup.dnssec == DnssecStatus::kBogus) {
    Log(*job, std::string(ipv6 ? "AAAA " : "A ") + name +
                  ": DNSSEC bogus (SERVFAIL from the validating resolver; answered with CD set)");
  }
  AddressLookup& found = lookup.answer;
  MxHostReport& host = job->report.mx_hosts[host_index];
  const char* rr = ipv6 ? "AAAA" : "A";
  if (!found.status.ok()) {
    // NODATA is normal (an IPv4-only host); anything else is an error worth showing.
    if (found.status.reason() != "nodata") {
      (ipv6 ? host.ipv6_error : host.ipv4_error) = found.status.reason();
    }
    Log(*job, std::string(rr) + " " + name + ": " + found.status.ToString());
    co_return;
  }
  if (found.is_cname) {
    host.is_cname = true;
    host.canonical_name = found.canonical_name;
  }
  std::vector<std::string>& out = ipv6 ? host.ipv6 : host.ipv4;
  int cap = job->task.module->max_addresses_per_mx;
  for (const auto& a : found.addresses) {
    if (static_cast<int>(out.size()) >= cap) {
      ++host.addresses_skipped;
      continue;
    }
    out.push_back(a);
  }
  std::string list;
  for (const auto& a : found.addresses) list += (list.empty() ? "" : " ") + a;
  Log(*job, std::string(rr) + " " + name + ": " + list +
                (found.is_cname ? " (via CNAME to " + found.canonical_name + ")" : ""));
}

// The DNSSEC status of a host's addresses: secure only when every lookup made was secure (a
// DANE sender needs all of them); bogus when any was.
DnssecStatus CombineDnssec(const std::vector<DnssecStatus>& statuses) {
  if (statuses.empty()) return DnssecStatus::kUnknown;
  bool all_secure = true, any_insecure = false;
  for (DnssecStatus s : statuses) {
    if (s == DnssecStatus::kBogus) return DnssecStatus::kBogus;
    all_secure = all_secure && s == DnssecStatus::kSecure;
    any_insecure = any_insecure || s == DnssecStatus::kInsecure;
  }
  if (all_secure) return DnssecStatus::kSecure;
  return any_insecure ? DnssecStatus::kInsecure : DnssecStatus::kUnknown;
}

// The TLSA RRset of a host whose addresses are DNSSEC-secure (RFC 7672 §2.2). The TLSA base
// domain is the CNAME-expanded host name first, then the name as published (§2.2.2).
// DANE senders send SNI = the TLSA base domain (RFC 7672 §8.1). When that is not the MX name as
// published (a CNAME whose target has the TLSA records), each address gets one more session
// with that SNI, and DANE is judged on what it shows.
void SpawnDaneSniSessions(const std::shared_ptr<DomainJob>& job, size_t host_index,
                          const std::shared_ptr<Join>& join) {
  const MxHostReport& host = job->report.mx_hosts[host_index];
  auto spawn = [&](const std::string& address, const char* family) {
    EndpointSpec spec = SpecFor(*job, host, address, family);
    spec.sni = host.dane.base_domain;
    const std::string key = EndpointKey(spec);
    // Cached like the no-SNI session (it changes as slowly), under the SNI it sends.
    const std::string cache_key = "dane_sni|" + spec.sni + "|" + key;
    const auto interval = job->task.module->tls.no_sni_check_interval;
    if (auto cached = job->cache->GetNoSni(cache_key, interval)) {
      job->dane_sni_chains[key] = cached->session.chain;
      return;
    }
    join->Add();
    asio::co_spawn(job->loop->ctx, ProbeSmtpEndpoint(spec, MakeEndpointEnv(*job)),
                   [job, join, key, cache_key](std::exception_ptr e, EndpointReport r) {
                     if (!e) {
                       job->slow_facts[key].fresh_sessions += r.sessions_opened;
                       job->dane_sni_chains[key] = r.chain;
                       if (r.chain) {
                         job->cache->PutNoSni(cache_key, {std::chrono::steady_clock::now(), r});
                       }
                     }
                     join->Done();
                   });
  };
  for (const auto& a : host.ipv4) spawn(a, "ipv4");
  for (const auto& a : host.ipv6) spawn(a, "ipv6");
}

asio::awaitable<void> LookupDane(std::shared_ptr<DomainJob> job, size_t host_index,
                                 std::shared_ptr<Join> sessions) {
  std::vector<std::string> bases;
  {
    const MxHostReport& host = job->report.mx_hosts[host_index];
    if (host.is_cname && !host.canonical_name.empty() && host.canonical_name != host.host) {
      bases.push_back(host.canonical_name);
    }
    bases.push_back(host.host);
  }
  DaneHostReport dane;
  for (const auto& base : bases) {
    std::string name = "_25._tcp." + base;
    DnssecLookup<TlsaLookup> found =
        co_await job->dns->LookupTlsaDnssec(name, job->task.deadline, /*resolver_validates=*/true);
    dane.looked_up = true;
    dane.base_domain = base;
    dane.tlsa_dnssec = found.dnssec;
    const std::string& reason = found.answer.status.reason();
    if (found.dnssec == DnssecStatus::kBogus) {
      // Validating senders get SERVFAIL: a lookup failure to them, whatever CD shows.
      dane.lookup_error = "dnssec_bogus";
      Log(*job, "TLSA " + name + ": DNSSEC bogus");
      break;
    }
    if (found.answer.status.ok()) {
      for (const auto& rdata : found.answer.rdata) {
        Result<TlsaRecord> parsed = ParseTlsaRdata(rdata);
        if (parsed.ok()) {
          dane.records.push_back(std::move(parsed).value());
        } else if (rdata.size() >= 3) {
          // Kept as published: a malformed record still tells senders DANE applies.
          dane.records.push_back(
              TlsaRecord{rdata[0], rdata[1], rdata[2], {rdata.begin() + 3, rdata.end()}});
        }
        if (!dane.records.empty() && IsUsableForSmtp(dane.records.back())) ++dane.usable_records;
      }
      std::string list;
      for (const auto& rec : dane.records) list += (list.empty() ? "" : ", ") + DescribeTlsaRecord(rec);
      Log(*job, "TLSA " + name + " (" + DnssecStatusWord(found.dnssec) + "): " + list);
      break;
    }
    if (reason == "nxdomain" || reason == "nodata") {
      Log(*job, "TLSA " + name + ": none (" + DnssecStatusWord(found.dnssec) + ")");
      continue;  // no records at this base: try the next one
    }
    // SERVFAIL, timeout, ...: DANE senders defer (RFC 7672 §2.1.1).
    dane.lookup_error = reason.empty() ? "dns_error" : reason;
    Log(*job, "TLSA " + name + ": " + found.answer.status.ToString());
    break;
  }
  MxHostReport& host = job->report.mx_hosts[host_index];
  host.dane = std::move(dane);
  if (host.dane.applies() && host.dane.base_domain != host.host) {
    SpawnDaneSniSessions(job, host_index, sessions);
  }
}

// PTR of one address and whether its names resolve back to it. Facts only. The lookups are
// shared through the FactCache for kReverseDnsReuse (fact_cache.h: ReverseDnsFact).
asio::awaitable<void> LookupReverseDns(std::shared_ptr<DomainJob> job, std::string mx,
                                       std::string address, bool ipv6) {
  // Forward-confirming a handful of names is enough; a PTR RRset of dozens is noise.
  constexpr size_t kMaxNamesConfirmed = 4;
  std::optional<FactCache::ReverseDnsFact> fact =
      job->cache->GetReverseDns(address, kReverseDnsReuse);
  const bool cached = fact.has_value();
  if (!fact) {
    PtrLookup ptr = co_await job->dns->LookupPtr(address, job->task.deadline);
    fact.emplace();
    fact->ptr_names = ptr.names;
    for (size_t i = 0; i < ptr.names.size() && i < kMaxNamesConfirmed; ++i) {
      AddressLookup back;
      if (ipv6) {
        back = co_await job->dns->LookupAAAA(ptr.names[i], job->task.deadline);
      } else {
        back = co_await job->dns->LookupA(ptr.names[i], job->task.deadline);
      }
      fact->forward[ptr.names[i]] = back.addresses;
    }
    fact->error = ptr.status.ok() ? "" : ptr.status.reason();
    // An answer (names, or NXDOMAIN/NODATA: no names) is kept; a failed lookup is asked again.
    if (fact->error.empty() || fact->error == "nxdomain" || fact->error == "nodata") {
      fact->checked_at = std::chrono::steady_clock::now();
      job->cache->PutReverseDns(address, *fact);
    }
  }
  const std::string& error = fact->error;
  ReverseDnsReport report = JudgeReverseDns(address, mx, fact->ptr_names, fact->forward, error);
  std::string names;
  for (const auto& n : fact->ptr_names) names += (names.empty() ? "" : " ") + n;
  Log(*job, "PTR " + address + ": " + (error.empty() ? names : error) +
                (report.forward_confirmed ? " (forward-confirmed)" : "") +
                (cached ? " (looked up within the last hour)" : ""));
  job->reverse_dns[mx + "|" + address] = std::move(report);
}

// Resolves one MX host (both families concurrently), then probes all its endpoints.
asio::awaitable<void> ProbeMxHost(std::shared_ptr<DomainJob> job, size_t host_index) {
  auto ex = co_await asio::this_coro::executor;
  const config::ModuleConfig& module = *job->task.module;
  auto lookups = std::make_shared<Join>(ex);
  auto done = [lookups](std::exception_ptr) { lookups->Done(); };
  if (module.ipv4) {
    lookups->Add();
    asio::co_spawn(ex, ResolveFamily(job, host_index, false), done);
  }
  if (module.ipv6) {
    lookups->Add();
    asio::co_spawn(ex, ResolveFamily(job, host_index, true), done);
  }
  co_await lookups->Wait();
  MxHostReport& host = job->report.mx_hosts[host_index];
  host.address_dnssec = CombineDnssec(job->address_dnssec[host_index]);
  auto endpoints = std::make_shared<Join>(ex);
  SpawnEndpoints(job, host_index, endpoints);
  if (module.dane.enabled && job->resolver_validates &&
      host.address_dnssec == DnssecStatus::kSecure) {
    endpoints->Add();
    asio::co_spawn(ex, LookupDane(job, host_index, endpoints),
                   [endpoints](std::exception_ptr) { endpoints->Done(); });
  }
  if (module.reverse_dns.enabled) {
    for (const auto* list : {&host.ipv4, &host.ipv6}) {
      for (const auto& address : *list) {
        endpoints->Add();
        asio::co_spawn(ex, LookupReverseDns(job, host.host, address, list == &host.ipv6),
                       [endpoints](std::exception_ptr) { endpoints->Done(); });
      }
    }
  }
  co_await endpoints->Wait();
}

void Finish(DomainJob& job, SteadyTime start) {
  DomainReport& r = job.report;
  AttachNoSni(job);
  AttachSlowFacts(job);
  AttachReverseDns(job);
  CollectHeldCertificates(job);
  JudgeDane(job);
  ComputeVerdicts(r);
  // Endpoints complete in any order; present them in MX preference order, IPv4 first.
  std::map<std::string, size_t> host_order;
  for (size_t i = 0; i < r.mx_hosts.size(); ++i) host_order.emplace(r.mx_hosts[i].host, i);
  std::stable_sort(r.endpoints.begin(), r.endpoints.end(),
                   [&](const EndpointReport& a, const EndpointReport& b) {
                     return std::make_tuple(host_order[a.mx], a.family, a.address) <
                            std::make_tuple(host_order[b.mx], b.family, b.address);
                   });
  r.duration_seconds = SecondsSince(start);
}

asio::awaitable<DomainReport> ProbeDomain(std::shared_ptr<DomainJob> job) {
  SteadyTime start = std::chrono::steady_clock::now();
  DomainReport& r = job->report;
  const config::ModuleConfig& module = *job->task.module;
  auto ex = co_await asio::this_coro::executor;
  Log(*job, "probing " + r.domain + " with module " + r.module + ", timeout " +
                std::to_string(job->task.timeout_seconds) + "s");

  // MTA-STS and TLS-RPT are looked up alongside the MX records and hosts.
  auto policies = std::make_shared<Join>(ex);
  if (module.mta_sts.enabled) {
    PolicyProbeEnv env;
    env.dns = job->dns;
    env.tls = job->tls;
    env.trust = job->trust.get();
    env.clock = job->clock;
    env.cache = job->cache;
    env.policy_refetch_interval = module.mta_sts.refetch_interval;
    env.log = r.log;
    policies->Add();
    asio::co_spawn(ex, ProbeMtaSts(r.domain, module.mta_sts.port, job->task.deadline, env),
                   [job, policies](std::exception_ptr e, MtaStsReport sts) {
                     if (!e) job->report.mta_sts = std::move(sts);
                     policies->Done();
                   });
    policies->Add();
    asio::co_spawn(ex, ProbeTlsRpt(r.domain, job->task.deadline, env),
                   [job, policies](std::exception_ptr e, TlsRptReport rpt) {
                     if (!e) job->report.tlsrpt = std::move(rpt);
                     policies->Done();
                   });
  }

  // Only a resolver that validates may be believed about DNSSEC; find out once per resolver
  // configuration (the exporter also checks at start and on reload).
  const config::DnsConfig& dns_config = job->task.config->dns;
  std::optional<bool> validates = job->engine->ResolverValidates(dns_config);
  if (!validates) {
    ValidationCheck check =
        co_await CheckResolverValidates(*job->dns, dns_config.dnssec_check_name, job->task.deadline);
    job->engine->RecordResolverValidation(dns_config, check.validates);
    Log(*job, check.message);
    validates = check.validates;
  }
  job->resolver_validates = *validates;
  r.resolver_validates = *validates;

  DnssecLookup<MxLookup> mx_dnssec =
      co_await job->dns->LookupMxDnssec(r.domain, job->task.deadline, job->resolver_validates);
  MxLookup mx = std::move(mx_dnssec.answer);
  r.mx_dnssec = mx_dnssec.dnssec;
  if (r.mx_dnssec == DnssecStatus::kBogus) {
    Log(*job, "MX " + r.domain + ": DNSSEC bogus: validating senders get SERVFAIL; going on "
              "with the answer given with CD set");
  }
  double mx_seconds = SecondsSince(start);
  if (!mx.status.ok()) {
    const std::string& reason = mx.status.reason();
    Log(*job, "MX " + r.domain + ": " + mx.status.ToString());
    if (reason == "nxdomain" || reason == "nodata") {
      // RFC 5321 §5.1: no MX records at all means the domain itself is the mail host. Only
      // for a definite "no MX" answer: never after SERVFAIL or a timeout, when a sender
      // would defer instead.
      r.implicit_mx = true;
      MxHostReport host;
      host.host = r.domain;
      host.preference = 0;
      r.mx_hosts.push_back(host);
      Log(*job, "no MX records: using the implicit MX " + r.domain);
    } else {
      r.mx_lookup_error = reason;
      r.failure_reason = "dns_" + reason;
      r.failure_message = "MX lookup failed: " + mx.status.message();
      r.dns_seconds = mx_seconds;
      co_await policies->Wait();
      Finish(*job, start);
      co_return r;
    }
  } else if (mx.null_mx) {
    r.null_mx = true;
    r.success = true;
    r.dns_seconds = mx_seconds;
    Log(*job, "null MX (RFC 7505): " + r.domain + " accepts no mail");
    co_await policies->Wait();
    Finish(*job, start);
    co_return r;
  } else {
    std::string list;
    for (const auto& rec : mx.records) {
      list += (list.empty() ? "" : ", ") + std::to_string(rec.preference) + " " + rec.host;
      if (static_cast<int>(r.mx_hosts.size()) >= module.max_mx_hosts) {
        ++r.mx_hosts_skipped;
        continue;
      }
      MxHostReport host;
      host.host = rec.host;
      host.preference = rec.preference;
      r.mx_hosts.push_back(host);
    }
    Log(*job, "MX " + r.domain + ": " + list);
  }

  auto hosts = std::make_shared<Join>(ex);
  for (size_t i = 0; i < r.mx_hosts.size(); ++i) {
    hosts->Add();
    asio::co_spawn(ex, ProbeMxHost(job, i), [hosts](std::exception_ptr) { hosts->Done(); });
  }
  co_await hosts->Wait();
  co_await policies->Wait();
  r.dns_seconds = mx_seconds + job->address_dns_seconds;

  bool all_verdicts = true;
  for (const auto& e : r.endpoints) all_verdicts = all_verdicts && e.verdict_reached;
  if (r.endpoints.empty()) {
    bool lookup_error = false;
    for (const auto& h : r.mx_hosts) {
      lookup_error = lookup_error || !h.ipv4_error.empty() || !h.ipv6_error.empty();
    }
    r.failure_reason = lookup_error ? "dns_address_lookup" : "no_addresses";
    r.failure_message = "no MX host has an address to probe";
    if (r.implicit_mx && mx.status.reason() == "nxdomain") {
      // The domain does not exist at all: say so rather than blame its addresses.
      r.failure_reason = "dns_nxdomain";
      r.failure_message = "the domain does not exist (NXDOMAIN)";
    }
  } else if (!all_verdicts) {
    r.failure_reason = "endpoint_failed";
    r.failure_message = "not every endpoint reached a verdict";
  } else if (std::chrono::steady_clock::now() > job->task.deadline) {
    r.failure_reason = "deadline";
    r.failure_message = "the probe ran past its deadline";
  } else {
    r.success = true;
  }
  Finish(*job, start);
  Log(*job, std::string("probe ") + (r.success ? "succeeded" : "failed: " + r.failure_reason) +
                " in " + std::to_string(r.duration_seconds) + "s");
  co_return r;
}

DomainReport FailedReport(const ProbeTask& task, const std::string& reason,
                          const std::string& message) {
  DomainReport r;
  r.domain = task.domain;
  r.module = task.module->name;
  r.failure_reason = reason;
  r.failure_message = message;
  r.log->Add("probe failed: " + reason + ": " + message);
  return r;
}

}  // namespace

Result<std::unique_ptr<ProbeEngine>> ProbeEngine::Create(const EngineOptions& options) {
  std::unique_ptr<ProbeEngine> engine(new ProbeEngine(options));
  Result<SslCtxPtr> ctx = MakeProbeSslContext();
  if (!ctx.ok()) return ctx.status();
  // asio::ssl::context takes ownership of the native handle.
  engine->tls_ = std::make_unique<asio::ssl::context>(std::move(ctx).value().release());
  engine->version_contexts_ = MakeTlsVersionContexts();
  int threads = options.threads > 0 ? options.threads
                                    : std::max(1u, std::thread::hardware_concurrency());
  for (int i = 0; i < threads; ++i) {
    auto loop = std::make_unique<Loop>();
    Loop* raw = loop.get();
    loop->thread = std::thread([raw] { raw->ctx.run(); });
    engine->loops_.push_back(std::move(loop));
  }
  return engine;
}

ProbeEngine::ProbeEngine(const EngineOptions& options)
    : clock_(options.clock != nullptr ? options.clock : &system_clock_) {}

ProbeEngine::~ProbeEngine() {
  for (auto& loop : loops_) {
    loop->guard.reset();
    loop->ctx.stop();
  }
  for (auto& loop : loops_) {
    if (loop->thread.joinable()) loop->thread.join();
  }
  // Waiters hold timers of the loops: gone before the loops are.
  limiter_.Close();
  endpoint_sessions_.Clear();
  slow_fact_gate_.Clear();
  // Resolvers go before their io_context; the loops' destructors take care of the order
  // (members are destroyed in reverse: resolvers first, then the context).
  loops_.clear();
}

Result<SharedX509Store> ProbeEngine::TrustStore(const std::string& ca_file) {
  struct stat st {};
  long long mtime_ns = 0, size = 0;
  if (!ca_file.empty()) {
    if (stat(ca_file.c_str(), &st) != 0) {
      return Status::Error("tls_setup", "cannot read CA file " + ca_file);
    }
    mtime_ns = static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
    size = st.st_size;
  }
  std::lock_guard<std::mutex> lock(stores_mu_);
  auto it = stores_.find(ca_file);
  if (it != stores_.end() && it->second.mtime_ns == mtime_ns && it->second.size == size) {
    return it->second.store;
  }
  X509StorePtr store(X509_STORE_new());
  if (!store) return Status::Error("tls_setup", "X509_STORE_new failed");
  bool loaded = ca_file.empty() ? X509_STORE_set_default_paths(store.get()) == 1
                                : X509_STORE_load_file(store.get(), ca_file.c_str()) == 1;
  std::string err = DrainOpenSslErrors();
  if (!loaded) {
    return Status::Error("tls_setup", "cannot load trust store " +
                                          (ca_file.empty() ? "(system)" : ca_file) + ": " + err);
  }
  // Every judgement against this store reuses the verdicts of chains it has seen (see
  // chain_judgement_cache.h); a reloaded CA file is a new store with an empty cache.
  ChainJudgementCache::AttachTo(store.get());
  PrimeStoreForSharing(store.get());
  SharedX509Store shared = ShareX509Store(std::move(store));
  stores_[ca_file] = CachedStore{mtime_ns, size, shared};
  return shared;
}

namespace {
std::string ValidationKey(const config::DnsConfig& dns) {
  return ProbeEngine::ResolverKey(dns) + "|" + dns.dnssec_check_name;
}
}  // namespace

std::optional<bool> ProbeEngine::ResolverValidates(const config::DnsConfig& dns) const {
  std::lock_guard<std::mutex> lock(validation_mu_);
  auto it = resolver_validates_.find(ValidationKey(dns));
  if (it == resolver_validates_.end()) return std::nullopt;
  const auto max_age = it->second.validates ? std::chrono::minutes(60) : std::chrono::minutes(5);
  if (std::chrono::steady_clock::now() - it->second.checked_at > max_age) return std::nullopt;
  return it->second.validates;
}

std::optional<bool> ProbeEngine::LastResolverValidation(const config::DnsConfig& dns) const {
  std::lock_guard<std::mutex> lock(validation_mu_);
  auto it = resolver_validates_.find(ValidationKey(dns));
  if (it == resolver_validates_.end()) return std::nullopt;
  return it->second.validates;
}

void ProbeEngine::RecordResolverValidation(const config::DnsConfig& dns, bool validates) {
  std::lock_guard<std::mutex> lock(validation_mu_);
  resolver_validates_[ValidationKey(dns)] = {validates, std::chrono::steady_clock::now()};
}

ValidationCheck ProbeEngine::CheckResolverValidation(const config::DnsConfig& dns) {
  Loop* loop = loops_.front().get();
  auto deadline = std::chrono::steady_clock::now() + dns.timeout * (dns.attempts + 1);
  auto promise = std::make_shared<std::promise<ValidationCheck>>();
  std::future<ValidationCheck> future = promise->get_future();
  asio::post(loop->ctx, [this, loop, dns, deadline, promise] {
    std::string error;
    DnsResolver* resolver = loop->ResolverFor(dns, &error);
    if (resolver == nullptr) {
      ValidationCheck failed;
      failed.status = Status::Error("dns_error", error);
      failed.message = "cannot create a resolver: " + error;
      promise->set_value(failed);
      return;
    }
    asio::co_spawn(loop->ctx, CheckResolverValidates(*resolver, dns.dnssec_check_name, deadline),
                   [this, dns, promise](std::exception_ptr e, ValidationCheck check) {
                     if (e) {
                       check = ValidationCheck();
                       check.message = "the DNSSEC validation check failed unexpectedly";
                     }
                     RecordResolverValidation(dns, check.validates);
                     promise->set_value(std::move(check));
                   });
  });
  // The check is bounded by its own deadline; the slack covers scheduling.
  if (future.wait_until(deadline + std::chrono::seconds(2)) != std::future_status::ready) {
    ValidationCheck late;
    late.message = "the DNSSEC validation check did not finish in time";
    return late;
  }
  return future.get();
}

DomainReport ProbeEngine::Probe(const ProbeTask& task) {
  Result<SharedX509Store> trust = TrustStore(task.module->tls.ca_file);
  if (!trust.ok()) return FailedReport(task, "tls_setup", trust.status().message());
  limiter_.SetLimits(task.config->engine.max_sessions, task.config->engine.max_sessions_per_address);

  Loop* loop = loops_[next_loop_++ % loops_.size()].get();
  auto job = std::make_shared<DomainJob>();
  job->task = task;
  job->loop = loop;
  job->tls = tls_.get();
  job->trust = trust.value();
  job->clock = clock_;
  job->cache = &cache_;
  job->endpoint_sessions = &endpoint_sessions_;
  job->slow_fact_gate = &slow_fact_gate_;
  job->limiter = &limiter_;
  job->engine = this;
  job->version_contexts = &version_contexts_;
  job->report.domain = task.domain;
  job->report.module = task.module->name;
  job->report.timeout_seconds = task.timeout_seconds;

  auto promise = std::make_shared<std::promise<DomainReport>>();
  std::future<DomainReport> future = promise->get_future();
  // Everything below runs on the loop thread: the resolver lookup and the probe itself.
  asio::post(loop->ctx, [job, promise] {
    std::string error;
    job->dns = job->loop->ResolverFor(job->task.config->dns, &error);
    if (job->dns == nullptr) {
      promise->set_value(FailedReport(job->task, "dns_setup", error));
      return;
    }
    asio::co_spawn(job->loop->ctx, ProbeDomain(job),
                   [job, promise](std::exception_ptr e, DomainReport r) {
                     if (e) {
                       std::string what = "unknown exception";
                       try {
                         std::rethrow_exception(e);
                       } catch (const std::exception& ex) {
                         what = ex.what();
                       } catch (...) {
                       }
                       promise->set_value(FailedReport(job->task, "internal_error", what));
                       return;
                     }
                     promise->set_value(std::move(r));
                   });
  });
  // Every wait inside the probe is bounded by the deadline; the grace period only covers
  // scheduling. Past it, answer anyway: the probe finishes in the background.
  auto grace = std::chrono::seconds(2);
  if (future.wait_until(task.deadline + grace) != std::future_status::ready) {
    log::Warn("probe overran its deadline", {{"target", task.domain}});
    return FailedReport(task, "deadline", "the probe did not finish by its deadline");
  }
  return future.get();
}

}  // namespace mxtls
