#include "probes/endpoint_probe.h"

#include "probes/judgement/certificate_report.h"

#include <utility>
#include <vector>

namespace mxtls {

asio::awaitable<EndpointReport> ProbeSmtpEndpoint(EndpointSpec spec, EndpointEnv env) {
  SessionOptions options;
  options.ctx = env.tls->native_handle();
  options.label = spec.sni.empty() ? "no SNI" : "";
  SessionOutcome outcome = co_await RunSmtpTlsSession(spec, options, env.log);
  EndpointReport r = std::move(outcome.facts);
  r.sessions_opened = outcome.connect_attempted ? 1 : 0;
  if (r.chain) {
    // Judged even when the handshake failed after the certificate came: what was seen is a
    // fact worth reporting.
    std::vector<X509*> chain = ChainPointers(*r.chain);
    r.cert = JudgeCertificate(chain, env.trust, spec.mx, env.clock->Now());
    env.log->Add(spec.mx + " [" + spec.address + "]:" + std::to_string(spec.port) + ": " +
                 (spec.sni.empty() ? "certificate without SNI: " : "certificate: ") +
                 r.cert->leaf().subject + " (" + r.cert->chain.reason + ", " +
                 std::to_string(chain.size()) + " presented)");
  }
  co_return r;
}

}  // namespace mxtls
