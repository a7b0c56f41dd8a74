// DANE for SMTP as a sending MTA applies it (RFC 6698, RFC 7671, RFC 7672): parses TLSA
// RDATA, decides which records a sender uses (usable for SMTP, digest algorithm agility) and
// judges every certificate chain an endpoint holds against a host's secure TLSA RRset.
// Pure functions: bytes, certificates and an injected time in, plain facts out. No sockets, no
// DNS: the caller looks the RRset up and captures the chains.
//
// Ownership: no function here takes ownership of an X509*; the certificates must stay alive
// for the duration of the call. Every function is thread-safe and leaves this thread's
// OpenSSL error queue empty.
#pragma once

#include <openssl/x509.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "probes/judgement/domain_report.h"

namespace mxtls {

// TLSA field values (RFC 6698 §7.2 - §7.4, names from RFC 7218).
inline constexpr uint8_t kTlsaUsagePkixTa = 0;
inline constexpr uint8_t kTlsaUsagePkixEe = 1;
inline constexpr uint8_t kTlsaUsageDaneTa = 2;
inline constexpr uint8_t kTlsaUsageDaneEe = 3;
inline constexpr uint8_t kTlsaSelectorCert = 0;
inline constexpr uint8_t kTlsaSelectorSpki = 1;
inline constexpr uint8_t kTlsaMatchFull = 0;
inline constexpr uint8_t kTlsaMatchSha256 = 1;
inline constexpr uint8_t kTlsaMatchSha512 = 2;

// Parses the RDATA of one TLSA record: usage (1 byte), selector (1), matching type (1), then
// the certificate association data (the rest). Fails with reason "malformed" when the RDATA
// is shorter than 3 bytes, or the data length contradicts a known matching type (Full(0):
// empty, SHA-256(1): not 32 bytes, SHA-512(2): not 64 bytes). Unknown usage, selector or
// matching type values are not errors: such a record parses and is merely unusable.
Result<TlsaRecord> ParseTlsaRdata(std::span<const uint8_t> rdata);

// True when the record's association data has the length its matching type requires (see
// ParseTlsaRdata); unknown matching types accept any data. Records built by hand may fail it.
bool HasWellFormedData(const TlsaRecord& record);

// True when a DANE SMTP sender uses the record (RFC 7672 §3.1): usage DANE-TA(2) or
// DANE-EE(3), selector Cert(0) or SPKI(1), matching type Full(0), SHA2-256(1) or SHA2-512(2),
// with well-formed data. PKIX-TA(0) and PKIX-EE(1) are unusable for SMTP (§3.1.3).
bool IsUsableForSmtp(const TlsaRecord& record);

// A short, stable ASCII rendering for labels and logs: "<usage> <selector> <mtype> <hex>",
// with the first 8 bytes of the association data as 16 lowercase hex digits (fewer when the
// data is shorter; no hex part and no trailing space when it is empty). E.g.
// "3 1 1 1f2e3d4c5b6a7988". Records differing only after their 8th data byte render alike.
std::string DescribeTlsaRecord(const TlsaRecord& record);

// Digest algorithm agility (RFC 7671 §9), one flag per record of `records`: true when the
// sender ignores the record because a usable record with the same usage and selector has a
// stronger digest matching type (SHA2-512(2) > SHA2-256(1)). Full(0) records stand outside the
// ordering: they are never superseded and supersede nothing (RFC 7671 §9 accepts a key that
// matches "3 1 0" or "3 1 2" while rejecting one that matches only "3 1 1"). Unusable records
// are never superseded and supersede nothing.
std::vector<bool> SupersededByDigestAgility(const std::vector<TlsaRecord>& records);

// The names a DANE-TA(2) match must find in the leaf (RFC 7672 §3.2.2): the TLSA base domain
// (the CNAME-expanded MX host whose TLSA RRset is used) and the MX host name as published.
// Either one suffices.
struct DaneReferenceNames {
  std::string base_domain;
  std::string mx_host;
};

// Judges one TLSA record on its own against one chain as the server presented it (`chain`:
// leaf first, none null, may be empty), at time `now`. Digest agility is not applied here (see
// SupersededByDigestAgility): `superseded` stays false. Returns, with `record_index` copied:
//  - unusable record (IsUsableForSmtp false): usable=false, reason "malformed" when its data
//    length is wrong for its matching type, else "unusable".
//  - DANE-EE(3): matches the leaf only; names and validity are ignored (RFC 7672 §3.1.1).
//    reason "match" or "no_match".
//  - DANE-TA(2): the record must match a certificate (Cert(0)) or public key (SPKI(1)) the
//    server sent above the leaf, or the leaf itself when it is self-issued (RFC 7672 §3.1.2:
//    senders have no TA the server does not send). The path from the leaf to that anchor
//    must then verify at `now` (signatures, validity of every certificate on it including the
//    matched TA, TLS server purpose; nothing but the matched certificate is trusted, as with
//    OpenSSL's own DANE) and the leaf must carry one of `names` (RFC 6125 DNS-ID,
//    no partial wildcards; the subject CN only when there is no DNS-ID at all). reason:
//      "match";
//      "name_mismatch"    the path verifies but the leaf names neither reference name;
//      "expired"          a certificate on the path is outside its validity period (expired
//                         or not yet valid);
//      "chain"            any other verification error (signature, CA flags, no path from
//                         the leaf to the matched certificate, ...);
//      "ta_not_presented" nothing presented matches and no presented certificate is
//                         self-issued: the TA may be an issuer the server did not send;
//      "no_match"         nothing presented matches although the server sent a self-issued
//                         certificate (a complete chain), or no certificate at all.
//    When several presented certificates match, the best outcome counts (match, then
//    name_mismatch, expired, chain).
TlsaRecordResult JudgeTlsaRecord(const TlsaRecord& record, size_t record_index,
                                 const std::vector<X509*>& chain, const DaneReferenceNames& names,
                                 WallTime now);

// DANE as a DANE sender sees one endpoint of `host`, whose MX name is `mx_host` (TLSA base
// domain: host.base_domain, or mx_host when that is empty), over every certificate chain the
// endpoint holds (`chains_held`, each leaf first; chains_held[0] is the SNI session that
// `records` reports on). The rules, in order:
//  - host.lookup_error set: evaluated, not authenticated, reason "tlsa_lookup_failed" (DANE
//    senders defer, RFC 7672 §2.1.1).
//  - DANE does not apply (!host.applies()): evaluated=false, reason empty.
//  - no chain held: evaluated=false, reason empty, no records. The caller knows why (no
//    STARTTLS, failed handshake) and sets "no_starttls" or "handshake" itself.
//  - no usable record: evaluated, not authenticated, reason "only_unusable" (senders still
//    require TLS but authenticate nothing, RFC 7672 §2.2).
//  - otherwise every record is judged against every chain (JudgeTlsaRecord); a record that
//    digest agility supersedes never authenticates (matches=false, reason "superseded",
//    superseded=true). A chain is authenticated when a usable, non-superseded record matches
//    it; the endpoint is authenticated when every held chain is (a sender may be shown any
//    of them, depending on the signature algorithms it offers). reason "ok" then; otherwise
//    the reason of the first chain (in `chains_held` order) that is not authenticated:
//      "stale_digest" a superseded record would have matched it (the stronger digest of the
//                     same usage and selector is stale);
//      else the best DANE-TA failure among the usable, non-superseded records:
//      "name_mismatch", then "expired", "chain", "ta_not_presented"; else "no_match".
//  - next_key_published: authenticated, and some usable, non-superseded record matches no
//    held chain (a pre-published next key or TA, RFC 7671 §8).
DaneEndpointReport JudgeDaneEndpoint(const DaneHostReport& host, const std::string& mx_host,
                                     const std::vector<std::vector<X509*>>& chains_held,
                                     WallTime now);

// The same over the certificates an EndpointReport holds. The chain seen by the "dane_sni"
// session (SNI = TLSA base domain) comes first, else the one seen by "sni", else the first
// held; certificates without a captured chain are skipped.
DaneEndpointReport JudgeDaneEndpoint(const DaneHostReport& host, const std::string& mx_host,
                                     const std::vector<HeldCertificate>& held, WallTime now);

}  // namespace mxtls
