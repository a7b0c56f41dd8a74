// A captured certificate chain judged the way a strict sending MTA judges it, and the set of
// distinct certificates one endpoint holds (a server may present a different certificate
// with SNI, without it, and to clients offering only RSA or only ECDSA signature algorithms).
// Pure: certificates, a trust store and a time in, a CertificateReport out.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/openssl_util.h"
#include "probes/judgement/domain_report.h"

namespace mxtls {

// Judges a captured chain (leaf first, as presented; not empty) for `name` at `now`: the
// facts of every certificate, the chain verdict against `trust` and the name match.
CertificateReport JudgeCertificate(const std::vector<X509*>& presented, X509_STORE* trust,
                                   const std::string& name, WallTime now);

// The raw pointers of a captured chain, for the judgements above.
std::vector<X509*> ChainPointers(const std::vector<X509Ptr>& chain);

// Adds the chain one session (`seen_by`: "sni", "no_sni", "rsa", "ecdsa", "dane_sni") saw to
// `held`: a leaf already held (same SHA-256 fingerprint) only gains `seen_by`, a new one is
// judged for `name` at `now`. Null or empty chains are ignored. Keeps `held` ordered by leaf
// expiry, earliest first, so that held.front() is what the expiry tiers are about.
void AddHeldCertificate(std::vector<HeldCertificate>& held, const std::string& seen_by,
                        const std::shared_ptr<const std::vector<X509Ptr>>& chain,
                        X509_STORE* trust, const std::string& name, WallTime now);
// The same for a chain this probe already judged (`judged` is JudgeCertificate of `chain` for
// the same name, trust store and time): no second verification of the same chain.
void AddHeldCertificate(std::vector<HeldCertificate>& held, const std::string& seen_by,
                        const std::shared_ptr<const std::vector<X509Ptr>>& chain,
                        const CertificateReport& judged);

// "sni,rsa": the sessions that saw a held certificate, for a label value.
std::string SeenByLabel(const HeldCertificate& held);

}  // namespace mxtls
