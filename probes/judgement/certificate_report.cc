#include "probes/judgement/certificate_report.h"

#include <algorithm>

#include "probes/judgement/chain_judgement_cache.h"

namespace mxtls {

CertificateReport JudgeCertificate(const std::vector<X509*>& presented, X509_STORE* trust,
                                   const std::string& name, WallTime now) {
  CertificateReport c;
  // A store with a cache (the engine's stores have one) reuses the facts and the verdict of a
  // chain it has judged before, as long as no validity boundary lies in between; the name
  // match and the expiry figures below are computed at every call either way.
  if (ChainJudgementCache* cache = ChainJudgementCache::Of(trust)) {
    std::shared_ptr<const ChainJudgementCache::Judgement> judged =
        cache->Judge(presented, trust, now);
    c.presented = judged->presented;
    c.chain = judged->chain;
  } else {
    for (X509* cert : presented) c.presented.push_back(DescribeCertificate(cert));
    c.chain = JudgeChain(presented, trust, now);
  }
  c.checked_name = name;
  c.name_match = MatchCertificateName(presented.front(), name);
  c.judged_at = ToUnixSeconds(now);
  c.days_to_expiry = DaysToExpiry(c.presented.front().not_after, now);
  return c;
}

std::vector<X509*> ChainPointers(const std::vector<X509Ptr>& chain) {
  std::vector<X509*> out;
  out.reserve(chain.size());
  for (const auto& c : chain) out.push_back(c.get());
  return out;
}

namespace {

// Adds `seen_by` to the held certificate with this leaf fingerprint; false when none is held.
bool AddSeenBy(std::vector<HeldCertificate>& held, const std::string& fingerprint,
               const std::string& seen_by) {
  for (auto& h : held) {
    if (h.cert.leaf().fingerprint_sha256 != fingerprint) continue;
    if (std::find(h.seen_by.begin(), h.seen_by.end(), seen_by) == h.seen_by.end()) {
      h.seen_by.push_back(seen_by);
    }
    return true;
  }
  return false;
}

void Insert(std::vector<HeldCertificate>& held, HeldCertificate h) {
  held.push_back(std::move(h));
  std::stable_sort(held.begin(), held.end(), [](const HeldCertificate& a, const HeldCertificate& b) {
    return a.cert.leaf().not_after < b.cert.leaf().not_after;
  });
}

}  // namespace

void AddHeldCertificate(std::vector<HeldCertificate>& held, const std::string& seen_by,
                        const std::shared_ptr<const std::vector<X509Ptr>>& chain,
                        X509_STORE* trust, const std::string& name, WallTime now) {
  if (!chain || chain->empty()) return;
  // Identity is the leaf's fingerprint: the same leaf sent with a different intermediate is
  // still one certificate to renew (the chain verdict of the first session is kept).
  std::string fingerprint = FingerprintSha256(chain->front().get());
  if (AddSeenBy(held, fingerprint, seen_by)) return;
  Insert(held, HeldCertificate{{seen_by}, JudgeCertificate(ChainPointers(*chain), trust, name, now),
                               chain});
}

void AddHeldCertificate(std::vector<HeldCertificate>& held, const std::string& seen_by,
                        const std::shared_ptr<const std::vector<X509Ptr>>& chain,
                        const CertificateReport& judged) {
  if (!chain || chain->empty() || judged.presented.empty()) return;
  if (AddSeenBy(held, judged.leaf().fingerprint_sha256, seen_by)) return;
  Insert(held, HeldCertificate{{seen_by}, judged, chain});
}

std::string SeenByLabel(const HeldCertificate& held) {
  std::string out;
  for (const auto& s : held.seen_by) out += (out.empty() ? "" : ",") + s;
  return out;
}

}  // namespace mxtls
