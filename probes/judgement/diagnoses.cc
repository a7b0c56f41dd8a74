// The one table of diagnoses (see findings.h): every (check, reason) a probe can report, in
// the words an experienced mail administrator would use. The check command, the status page
// and the debug output all read it from here. tests/probes/judgement/findings_test.cc keeps
// the table closed: it scans the sources for reason words and fails on one not listed here.
#include <string_view>
#include <vector>

#include "probes/judgement/findings.h"

namespace mxtls {
namespace {

// The dialogue failures that can happen at any SMTP step (socket_watchdog.cc ReadFailure and
// smtp_reply.cc ParseReply), written once per step so that each diagnosis names its step.
#define MXTLS_READ_FAILURES(step, step_words)                                                  \
  {step, "timeout", "the server stopped answering during " step_words " ({detail})",            \
   "every sender: they defer and retry; if it lasts past their queue lifetime, mail bounces",  \
   "an overloaded or hung MTA, a tarpit or a firewall that drops packets mid-session",        \
   "check the MTA's logs and load on {address}, and any middlebox between it and the "        \
   "internet"},                                                                                 \
  {step, "closed", "the server closed the connection during " step_words,                       \
   "every sender: they defer and retry",                                                        \
   "the MTA refused this client (rate limits, postscreen, a DNSBL hit on the prober) or it "    \
   "crashed",                                                                                   \
   "read the MTA's log for the prober's address at the time of the probe"},                    \
  {step, "reset", "the server reset the connection during " step_words,                         \
   "every sender: they defer and retry",                                                        \
   "a firewall, IPS or load balancer that kills SMTP sessions, or an MTA that aborts",          \
   "look for an inspecting middlebox in front of {address} and the MTA's log"},                \
  {step, "io_error", "reading the server's answer during " step_words " failed ({detail})",    \
   "every sender: they defer and retry", "a network fault between the prober and {address}",   \
   "check the path to {address}; probe again to see whether it persists"},                     \
  {step, "malformed_reply", "the server's reply during " step_words " is not valid SMTP "       \
   "({detail})",                                                                                \
   "strict senders give up on the session and defer",                                          \
   "a broken MTA, a non-SMTP service on port 25, or a middlebox rewriting the dialogue",       \
   "make sure an SMTP server (not a proxy or another service) answers on {address} port 25"},  \
  {step, "reply_too_long", "the server's reply during " step_words " is absurdly long",         \
   "senders give up on the session and defer", "a broken or hostile service on port 25",       \
   "make sure an SMTP server answers on {address} port 25"}

const std::vector<Diagnosis> kDiagnoses = {
    // ---- the prober's own situation ----
    {"prober", "port25_blocked",
     "no connection to port 25 of any MX address succeeded: every one timed out or was "
     "unreachable",
     "nobody can tell from here: this says more about the prober than about {domain}",
     "outbound port 25 is probably blocked from where the prober runs, as most clouds and "
     "ISPs do by default",
     "run the check from a host that may send mail (an MTA host), or ask the provider to "
     "unblock outbound port 25; test with `nc -v <mx> 25`"},
    {"prober", "prober_listed",
     "the server greets the prober with a rejection (421/554): {detail}",
     "probably only the prober: senders that are not listed are greeted normally",
     "a 554/421 greeting usually means the prober's address is listed (DNSBL, postscreen, "
     "a reputation filter), not that the server is broken",
     "run the check from an address with good reputation, or have the prober's address "
     "allowed on the MX; the greeting text often names the list"},

    // ---- the probe as a whole ----
    {"probe", "deadline", "the probe did not finish before its deadline",
     "unknown: the facts below are incomplete",
     "slow DNS, MX hosts that answer slowly, or a timeout shorter than the MX dialogue needs",
     "raise the module's timeout (and Prometheus' scrape_timeout) or find the slow step in "
     "the phase durations"},
    {"probe", "endpoint_failed",
     "at least one MX endpoint gave no verdict (no answer in time)",
     "senders trying that endpoint defer and move on to the next MX",
     "an MX address that does not answer on port 25 (firewall, MTA down, stale DNS)",
     "see the connect and greeting findings below for which address and why"},
    {"probe", "internal_error", "the prober hit an internal error ({detail})",
     "unknown: nothing was judged",
     "a bug or resource exhaustion in mxtls_exporter",
     "check the exporter's log; report it with the debug output"},
    {"probe", "tls_setup", "the prober could not set up TLS ({detail})",
     "unknown: nothing was judged",
     "the configured CA file or TLS settings of the module are unusable",
     "fix the module's tls settings (CA file path and format)"},
    {"probe", "dns_setup", "the prober could not set up its resolver ({detail})",
     "unknown: nothing was judged", "no usable resolver configured",
     "fix dns.resolvers in the config or the host's /etc/resolv.conf"},
    {"probe", "no_addresses", "no MX host of {domain} has an address",
     "every sender: mail to {domain} is deferred, then bounced",
     "the MX names have no A or AAAA records (typo in the MX target, deleted host record)",
     "publish A/AAAA records for the MX hosts, or point the MX at hosts that have them"},
    {"probe", "dns_address_lookup", "the address lookups of the MX hosts failed",
     "senders whose resolvers see the same failure defer all mail to {domain}",
     "broken or unreachable authoritative servers of the MX hosts' zone",
     "check the zone of the MX hosts with `dig +trace` and fix its name servers"},
    {"probe", "dns_nxdomain", "{domain} does not exist in DNS (NXDOMAIN)",
     "every sender: mail to {domain} bounces at once",
     "the domain is not delegated or has expired, or the target list has a typo",
     "check the domain's registration and delegation, or remove the target"},
    {"probe", "dns_servfail", "the MX lookup of {domain} fails with SERVFAIL",
     "every sender behind a resolver that sees it: mail is deferred, then bounced",
     "broken authoritative servers, a lame delegation, or DNSSEC that does not validate",
     "check with `dig +trace MX {domain}` and `delv MX {domain}`; fix the zone or its "
     "signatures"},
    {"probe", "dns_refused", "the resolver refuses to look up {domain} (REFUSED)",
     "likely only the prober", "the resolver the prober uses does not serve this client",
     "configure a resolver that answers the prober"},
    {"probe", "dns_timeout", "the MX lookup of {domain} timed out",
     "senders see the same if the authoritative servers are down: they defer",
     "unreachable authoritative servers or a resolver that does not answer",
     "check the domain's name servers with `dig +trace MX {domain}`"},
    {"probe", "dns_dns_error", "the MX lookup of {domain} failed ({detail})",
     "senders that see the same defer", "a malformed or unexpected DNS answer",
     "check the answer with `dig MX {domain}`"},
    {"probe", "dns_dnssec_bogus", "the MX records of {domain} fail DNSSEC validation",
     "every sender behind a validating resolver: SERVFAIL, mail deferred then bounced",
     "expired signatures, a DS record that does not match the DNSKEY, or a botched key "
     "rollover",
     "check with `delv MX {domain}` or dnsviz.net; re-sign the zone or fix the DS at the "
     "registrar"},

    // ---- DNS lookups (reason words of dns_message.h) ----
    {"dns", "nxdomain", "{detail}: the name does not exist (NXDOMAIN)",
     "every sender: this MX host is skipped", "a typo in the MX target or a deleted record",
     "publish the host's address records or fix the MX target"},
    {"dns", "servfail", "{detail}: SERVFAIL",
     "senders behind resolvers that see it skip this MX host or defer",
     "broken authoritative servers, a lame delegation, or DNSSEC that does not validate",
     "check with `dig +trace` and `delv`; fix the zone's name servers or signatures"},
    {"dns", "refused", "{detail}: the resolver refused the query",
     "likely only the prober", "the prober's resolver does not serve this client",
     "configure a resolver that answers the prober"},
    {"dns", "timeout", "{detail}: no answer in time",
     "senders that see the same defer",
     "unreachable authoritative servers or a slow resolver",
     "check the zone's name servers with `dig +trace`"},
    {"dns", "dns_error", "{detail}: the lookup failed",
     "senders that see the same defer", "a malformed or unexpected DNS answer",
     "check the answer with dig"},
    {"dns", "dnssec_bogus", "{detail}: the answer fails DNSSEC validation",
     "every sender behind a validating resolver cannot resolve it",
     "expired signatures or a DS/DNSKEY mismatch",
     "check with `delv` or dnsviz.net and re-sign the zone"},

    // ---- the MX records ----
    {"mx", "null_mx", "{domain} publishes a null MX (RFC 7505): it accepts no mail",
     "every sender bounces mail to {domain} at once, as intended",
     "the domain is declared not to receive mail",
     "nothing, if that is intended; otherwise publish real MX records"},
    {"mx", "implicit_mx",
     "{domain} has no MX records: senders deliver to the domain's own address",
     "every sender uses the implicit MX; MTA-STS and DANE see {domain} as the mail host",
     "MX records were never published, or were deleted",
     "publish an explicit MX record, even if it points at {domain} itself"},
    {"mx", "cname", "the MX target {mx} is an alias ({detail})",
     "most senders follow it; RFC 5321 forbids it and a strict one may refuse; the "
     "certificate must cover {mx} as published, not the alias target",
     "an MX pointing at a provider's CNAME",
     "point the MX directly at the canonical host name ({detail})"},
    {"mx", "hosts_skipped", "{detail} MX hosts were not probed (max_mx_hosts)",
     "unknown for those hosts", "the domain publishes more MX hosts than the module probes",
     "raise max_mx_hosts in the module if those hosts matter"},
    {"mx", "addresses_skipped", "{detail} addresses of {mx} were not probed "
     "(max_addresses_per_mx)",
     "unknown for those addresses", "the MX host has more addresses than the module probes",
     "raise max_addresses_per_mx in the module if those addresses matter"},

    // ---- DNSSEC ----
    {"dnssec", "bogus", "{detail} fail DNSSEC validation (bogus)",
     "every sender behind a validating resolver gets SERVFAIL and defers, then bounces",
     "expired RRSIGs, a DS at the parent that matches no DNSKEY, or a botched key rollover",
     "check with `delv` or dnsviz.net; re-sign the zone, or fix the DS record at the "
     "registrar"},
    {"dnssec", "insecure", "{detail} are not DNSSEC-signed",
     "nobody is refused; DANE cannot apply, so DANE senders treat the MX as opportunistic",
     "the zone is not signed (or has no DS at its parent)",
     "sign the zone and publish TLSA records if you want DANE-authenticated delivery"},
    {"dnssec", "unknown", "the DNSSEC status of {detail} is unknown",
     "nothing is known", "the prober's resolver does not validate DNSSEC, or the lookup failed",
     "point dns.resolvers at a validating resolver (unbound, or a public one that sets AD)"},

    // ---- the SMTP dialogue ----
    {"connect", "timeout", "no TCP connection to {address} port 25: it timed out",
     "every sender: they skip this address, try the next MX, and defer if none answers",
     "a firewall dropping port 25, the MTA not listening, or a stale A/AAAA record",
     "check that the MTA listens on {address}:25 and the firewall allows it from the "
     "internet"},
    {"connect", "refused", "{address} refuses connections on port 25",
     "every sender: they skip this address and try the next MX",
     "no MTA listens on port 25 there (stopped, bound to another address) or a firewall "
     "rejects",
     "start the MTA or make it listen on {address}:25; drop the address from DNS if it "
     "should not receive mail"},
    {"connect", "unreachable", "{address} is unreachable ({detail})",
     "every sender: they skip this address; senders without IPv6 routes never try it anyway",
     "no route to the address (IPv6 not routed, stale record, network down)",
     "fix the routing to {address} or remove the address from the MX host's records"},
    {"connect", "connect_error", "connecting to {address} port 25 failed ({detail})",
     "every sender skips this address", "a network fault",
     "check the path to {address}"},
    {"connect", "bad_address", "{address} is not a valid IP address",
     "nobody can connect", "a malformed address record", "fix the A/AAAA record of {mx}"},
    {"connect", "internal_error", "the prober could not try {address} ({detail})",
     "unknown", "an internal error of the prober", "check the exporter's log"},
    {"connect", "queue_timeout",
     "the prober never got to connect to {address}: its own session limits (engine.max_sessions, "
     "engine.max_sessions_per_address) kept this session waiting until the probe's deadline",
     "unknown: nothing was sent to the server, so nothing is known about it from this probe",
     "more sessions to this address (or in total) than the exporter's limits can serve within "
     "one probe timeout: many domains on one mail host, a slow greeting there, or too short a "
     "module timeout",
     "raise engine.max_sessions_per_address only if the server allows it (postscreen and anvil "
     "ban aggressive clients); otherwise lengthen the module timeout and scrape_timeout, keep "
     "endpoint_reuse_window on so domains on one host share a session, or shard targets"},
    {"greeting", "greeting_421", "the server answers 421 instead of a greeting: {detail}",
     "senders that get the same defer; usually only the prober",
     "a 421 greeting usually means the prober's address is listed (DNSBL, postscreen) or the "
     "server is over its connection limits, not that the server is broken",
     "probe from an address with good reputation; if everyone gets it, raise the MTA's "
     "connection limits"},
    {"greeting", "greeting_554", "the server answers 554 instead of a greeting: {detail}",
     "senders that get the same bounce; usually only the prober",
     "a 554 greeting usually means the prober's address is listed (DNSBL, postscreen), not "
     "that the server is broken",
     "probe from an address with good reputation, or allow the prober's address on the MX"},
    {"greeting", "greeting_tempfail", "the server greets with a temporary failure: {detail}",
     "senders that get the same defer", "the MTA is overloaded or in maintenance",
     "check the MTA's state and logs"},
    {"greeting", "greeting_rejected", "the server greets with a rejection: {detail}",
     "senders that get the same bounce",
     "the MTA refuses this client (listing, policy) or is configured to refuse mail",
     "check the MTA's client restrictions"},
    {"greeting", "greeting_unexpected", "the server's greeting is not 220: {detail}",
     "senders give up on the session and defer",
     "a non-SMTP service or a broken proxy on port 25",
     "make sure an SMTP server answers on {address} port 25"},
    MXTLS_READ_FAILURES("greeting", "the greeting"),
    {"ehlo", "ehlo_rejected", "the server rejects EHLO: {detail}",
     "senders that get the same cannot use ESMTP (and so not STARTTLS): they fall back to "
     "HELO in clear text or defer",
     "HELO/EHLO restrictions that reject the prober's name or address",
     "check smtpd_helo_restrictions (Postfix) or the acl_smtp_helo ACL (Exim)"},
    MXTLS_READ_FAILURES("ehlo", "EHLO"),
    {"starttls", "no_starttls", "{mx} does not offer STARTTLS on {address}",
     "opportunistic senders deliver in clear text; MTA-STS and DANE senders do not deliver",
     "TLS is off in the MTA (no certificate configured, smtpd_tls_security_level = none), or "
     "a middlebox strips STARTTLS from the EHLO reply",
     "configure a certificate and enable STARTTLS (Postfix: smtpd_tls_security_level = may, "
     "smtpd_tls_chain_files); check for a firewall doing SMTP inspection"},
    {"starttls", "starttls_refused", "the server refuses the STARTTLS command: {detail}",
     "opportunistic senders deliver in clear text; MTA-STS and DANE senders do not deliver",
     "TLS is advertised but broken in the MTA (unreadable key or certificate file)",
     "check the MTA's TLS key and certificate files and its log at startup"},
    {"starttls", "starttls_injection",
     "the server sends data right after its STARTTLS answer ({detail})",
     "strict senders abort the session (a STARTTLS command-injection guard) and defer",
     "a broken MTA or a middlebox injecting bytes into the session",
     "fix the MTA or remove the middlebox in front of {address}"},
    MXTLS_READ_FAILURES("starttls", "STARTTLS"),
    {"handshake", "handshake", "the TLS handshake fails on {address} ({detail})",
     "MTA-STS and DANE senders defer; opportunistic ones retry in clear text",
     "no protocol version or cipher in common, an unloadable certificate, or a TLS-inspecting "
     "middlebox",
     "test with `openssl s_client -starttls smtp -connect {address}:25 -servername {mx}` and "
     "check the MTA's TLS log"},
    {"handshake", "timeout", "the TLS handshake on {address} did not finish in time",
     "senders defer or retry in clear text", "an overloaded server or a middlebox that stalls TLS",
     "check the MTA's load and any inspecting firewall"},
    {"handshake", "no_certificate", "the server completed TLS without a certificate",
     "every sender that verifies anything refuses it",
     "anonymous cipher suites only, or a misconfigured TLS terminator",
     "configure a certificate in the MTA"},
    {"handshake", "client_unsupported",
     "the prober's own TLS library could not offer what this check needs ({detail})",
     "nobody: this is a limit of the prober", "the prober's OpenSSL lacks the version or algorithm",
     "nothing to fix on the server"},
    {"handshake", "tls_setup", "the prober could not prepare the TLS session ({detail})",
     "nobody: this is a limit of the prober", "an OpenSSL setup error in the prober",
     "check the exporter's log"},

    // ---- the certificate chain (cert_checks.cc ReasonForVerifyError) ----
    {"chain", "expired", "a certificate of the chain has expired ({detail})",
     "MTA-STS and DANE-TA senders refuse to deliver; opportunistic ones still deliver",
     "the renewal did not run, or ran without the MTA reloading",
     "renew the certificate and reload the MTA (certbot: a deploy hook that reloads postfix)"},
    {"chain", "not_yet_valid", "the certificate is not valid yet ({detail})",
     "verifying senders refuse it until then", "a clock error at issuance or on the server",
     "check the server's clock and the certificate's notBefore"},
    {"chain", "self_signed", "the server presents a self-signed certificate",
     "MTA-STS senders refuse to deliver; opportunistic ones deliver anyway",
     "the MTA still uses the snake-oil certificate of its package",
     "install a certificate from a public CA (e.g. Let's Encrypt), or publish DANE-EE TLSA "
     "for it"},
    {"chain", "untrusted", "the chain does not lead to a trusted root ({detail})",
     "MTA-STS senders refuse to deliver; opportunistic ones deliver anyway",
     "a private CA, or a root the senders' trust stores do not hold",
     "use a certificate from a publicly trusted CA"},
    {"chain", "incomplete_chain",
     "the server sends the leaf without its intermediate ({detail})",
     "MTA-STS senders refuse to deliver: MTAs do not fetch missing intermediates (no AIA)",
     "the certificate file holds only the leaf (cert.pem instead of fullchain.pem)",
     "serve the full chain: point the MTA at fullchain.pem (Postfix: smtpd_tls_chain_files)"},
    {"chain", "bad_signature", "a signature in the chain does not verify ({detail})",
     "verifying senders refuse it", "a corrupted or mismatched chain file",
     "re-download the chain from the CA and reinstall it"},
    {"chain", "invalid_purpose", "the certificate is not valid for TLS servers ({detail})",
     "verifying senders refuse it", "a certificate issued for another purpose (client, S/MIME)",
     "use a certificate with the serverAuth extended key usage"},
    {"chain", "invalid_ca", "an intermediate of the chain is not a valid CA ({detail})",
     "verifying senders refuse it", "the wrong certificate in the chain file",
     "serve the CA's real intermediate"},
    {"chain", "path_too_long", "the chain is longer than its CA allows ({detail})",
     "verifying senders refuse it", "a misassembled chain", "serve the CA's chain as issued"},
    {"chain", "no_certificate", "no certificate was presented",
     "verifying senders refuse it", "a TLS setup without a certificate",
     "configure a certificate in the MTA"},
    {"chain", "unknown", "the chain does not verify ({detail})",
     "verifying senders refuse it", "an unusual verification error",
     "test with `openssl s_client -starttls smtp -connect {address}:25 -servername {mx}`"},

    // ---- the name ----
    {"name", "name_mismatch",
     "the certificate covers {detail} but senders connect to {mx}",
     "MTA-STS (and name-checking DANE-TA) senders refuse to deliver; opportunistic ones "
     "deliver anyway",
     "the MX points at a name that is not on the certificate (a new MX name, a shared host's "
     "certificate)",
     "add {mx} to the certificate's names or point the MX at a covered name"},
    {"name", "cn_only",
     "the certificate names {mx} only in its subject CN ({detail}), with no subjectAltName",
     "RFC 6125 and MTA-STS senders refuse to deliver: they ignore the CN",
     "an old-style certificate without a subjectAltName",
     "reissue the certificate with {mx} as a DNS subjectAltName"},

    // ---- expiry of each held certificate ----
    {"expiry", "expired", "the certificate {detail}",
     "MTA-STS and DANE-TA senders refuse to deliver (DANE-EE does not check expiry)",
     "the renewal did not run, or ran without the MTA reloading",
     "renew and reload the MTA; check the renewal timer and its deploy hook"},
    {"expiry", "expires_7d", "the certificate {detail}",
     "in days: MTA-STS and DANE-TA senders will refuse to deliver",
     "automatic renewal is failing (it normally renews 30 days ahead)",
     "renew now and find out why the automatic renewal did not (certbot renew --dry-run)"},
    {"expiry", "expires_14d", "the certificate {detail}",
     "nobody yet; MTA-STS senders refuse once it expires",
     "automatic renewal is failing or not set up",
     "renew it and check the renewal job's log"},
    {"expiry", "expires_30d", "the certificate {detail}",
     "nobody yet", "a normal renewal window; an automated renewal should replace it soon",
     "make sure renewal is automated and reloads the MTA"},

    // ---- other certificate facts ----
    {"certificate", "weak_key", "the certificate's key is weak ({detail})",
     "senders at OpenSSL security level 2 (Debian 12, RHEL 9) refuse the handshake and fall "
     "back to clear text",
     "an old certificate with an RSA key under 2048 bits",
     "reissue with RSA 2048+ or ECDSA P-256"},
    {"certificate", "sha1_signature", "the certificate is signed with SHA-1 or older",
     "modern senders refuse the handshake and fall back to clear text",
     "a very old or private-CA certificate", "reissue the certificate (SHA-256)"},
    {"consistency", "different_certificates",
     "the addresses of {mx} present different certificates: {detail}",
     "senders reaching the stale address see the old certificate (and its problems); this "
     "typically means the IPv6 address still serves the old certificate",
     "one of the servers behind the MX (or its IPv6 listener) was not renewed or not reloaded",
     "install the same certificate on every server and address of {mx} and reload them"},
    {"key_types", "held_certificate_invalid",
     "{mx} shows a second certificate ({detail}) to senders offering only its key type, and "
     "that certificate does not verify or does not cover {mx}",
     "senders that offer only that key type (older or RSA-only MTAs) get the bad "
     "certificate: MTA-STS senders among them refuse to deliver",
     "a dual-certificate setup (RSA and ECDSA) where only one certificate was renewed",
     "renew or remove the other certificate (Postfix: smtpd_tls_chain_files lists both)"},
    {"key_types", "key_type_missing",
     "a handshake offering only {detail} signatures fails",
     "senders that support only that key type cannot use TLS and fall back to clear text",
     "the server holds only the other key type's certificate",
     "nothing is required; add a certificate of that type to serve such senders"},
    {"no_sni", "no_sni_mismatch",
     "without SNI the server presents a certificate that does not cover {mx} ({detail})",
     "senders that send no SNI (Postfix and Exim by default) and verify the name refuse it",
     "the MTA's default certificate (no SNI) differs from the one selected by SNI",
     "make the certificate for {mx} the default one (the one used without SNI)"},
    {"no_sni", "no_sni_not_verified",
     "without SNI the server presents a certificate that does not verify ({detail})",
     "verifying senders that send no SNI (Postfix, Exim default) refuse it",
     "the default certificate is a stale or self-signed one",
     "make the valid certificate the default one"},
    {"no_sni", "no_sni_handshake", "the TLS handshake without SNI fails ({detail})",
     "senders that send no SNI (Postfix and Exim by default) retry in clear text or defer",
     "a server that requires SNI", "configure a default certificate used without SNI"},

    // ---- TLS versions ----
    {"tls_versions", "no_tls12", "{address} accepts neither TLS 1.2 nor TLS 1.3 ({detail})",
     "today's senders (OpenSSL 3: TLS 1.2 minimum) cannot negotiate TLS: under DANE or "
     "MTA-STS enforce they defer, then bounce; otherwise they deliver in clear text",
     "an outdated MTA or TLS library, or a protocol list that disables TLS 1.2",
     "upgrade the MTA's TLS library and allow TLS 1.2 and 1.3 (Postfix: "
     "smtpd_tls_protocols = >=TLSv1.2)"},
    {"tls_versions", "tls13_only", "{address} accepts only TLS 1.3 ({detail})",
     "senders whose TLS stops at 1.2 (OpenSSL before 1.1.1, older Exchange, appliances) "
     "fall back to clear text or, under DANE/MTA-STS enforce, defer",
     "a protocol list that disables TLS 1.2",
     "allow TLS 1.2 as well: on port 25 any TLS beats clear text"},

    // ---- DANE ----
    {"dane", "no_match",
     "no usable TLSA record of {mx} matches the certificate presented on {address} ({detail})",
     "DANE senders (Postfix/Exim with DANE, many European providers) defer, then bounce",
     "the certificate or key changed and TLSA still pins the previous key",
     "publish the new key's TLSA record (3 1 1 of the current key), wait two TTLs, then "
     "rotate; to recover now, publish the current key's record"},
    {"dane", "stale_digest",
     "only a TLSA record with a weaker digest matches on {address}; the stronger one for the "
     "same usage does not",
     "DANE senders apply digest agility, ignore the weak record, and defer",
     "a SHA-512 record added (or left) that does not match the current key",
     "fix or remove the stronger-digest TLSA record"},
    {"dane", "name_mismatch",
     "the DANE-TA chain on {address} is authenticated but the certificate does not cover "
     "{mx} ({detail})",
     "DANE senders defer: DANE-TA (usage 2) still checks the name",
     "the certificate lacks the MX name or TLSA base domain",
     "add {mx} to the certificate or publish a DANE-EE (3 1 1) record instead"},
    {"dane", "expired", "the DANE-TA chain on {address} holds an expired certificate",
     "DANE senders defer: usage 2 checks expiry (usage 3 does not)",
     "a renewal that did not reach the MTA", "renew and reload the MTA"},
    {"dane", "ta_not_presented",
     "the server on {address} does not send the trust anchor its DANE-TA record pins",
     "DANE senders defer: with usage 2 the anchor must be in the presented chain",
     "the chain file lacks the intermediate (or root) the TLSA record names",
     "serve the full chain including the pinned CA certificate"},
    {"dane", "chain", "the chain on {address} does not chain to the DANE-TA anchor ({detail})",
     "DANE senders defer", "a chain from another CA than the one the TLSA record pins",
     "publish a TLSA record for the current CA, or a 3 1 1 record for the key"},
    {"dane", "no_starttls",
     "{mx} publishes TLSA records but {address} offers no STARTTLS",
     "DANE senders never fall back to clear text: they defer, then bounce",
     "TLS off on one server of the MX, or STARTTLS stripped by a middlebox",
     "enable STARTTLS on every address of {mx}"},
    {"dane", "handshake",
     "{mx} publishes TLSA records but the TLS handshake on {address} fails",
     "DANE senders defer, then bounce", "a broken TLS setup on that server",
     "fix TLS on {address}; see the handshake finding"},
    {"dane", "only_unusable",
     "{mx} publishes only TLSA records SMTP senders cannot use ({detail})",
     "DANE senders still require TLS but authenticate nothing",
     "PKIX-TA/PKIX-EE usages (0, 1) copied from HTTPS advice, or unknown parameters",
     "publish DANE-EE (3 1 1) or DANE-TA (2 1 1) records instead"},
    {"dane", "tlsa_lookup_failed", "the TLSA lookup of {mx} fails",
     "DANE senders cannot tell whether TLSA records exist and defer all mail to {mx}",
     "a signed zone whose servers fail TLSA queries (old DNS software, firewalls dropping "
     "unknown types)",
     "make the authoritative servers answer TLSA queries (NOERROR/NODATA when there is none)"},
    {"dane", "dnssec_bogus", "the TLSA answer for {mx} fails DNSSEC validation",
     "DANE senders defer all mail to {mx} (RFC 7672 2.1.1)",
     "bad signatures on the TLSA RRset, or a botched key rollover",
     "re-sign the zone holding _25._tcp.{mx}"},
    {"dane", "servfail", "the TLSA lookup of {mx} fails with SERVFAIL ({detail})",
     "DANE senders defer all mail to {mx} (RFC 7672 2.1.1)",
     "authoritative servers that fail on TLSA queries, or broken signatures",
     "make the servers answer `dig TLSA _25._tcp.{mx}` (NODATA when there is none)"},
    {"dane", "refused", "the TLSA lookup of {mx} is refused ({detail})",
     "DANE senders behind resolvers that see it defer",
     "an authoritative server that refuses TLSA queries",
     "make the servers answer TLSA queries"},
    {"dane", "timeout", "the TLSA lookup of {mx} times out ({detail})",
     "DANE senders defer all mail to {mx}",
     "a firewall dropping unknown query types, or dead authoritative servers",
     "make the servers answer `dig TLSA _25._tcp.{mx}` promptly"},
    {"dane", "dns_error", "the TLSA lookup of {mx} fails ({detail})",
     "DANE senders defer all mail to {mx}", "a malformed TLSA answer",
     "check `dig TLSA _25._tcp.{mx}`"},

    // ---- MTA-STS ----
    {"mta_sts", "not_covered", "the MTA-STS policy does not cover {mx} ({detail})",
     "MTA-STS senders (Gmail, Microsoft) do not deliver to {mx} under enforce, and report it "
     "under testing",
     "an MX added or renamed without updating the policy's mx: lines (a wildcard covers "
     "exactly one label)",
     "add `mx: {mx}` to https://mta-sts.{domain}/.well-known/mta-sts.txt and bump the id in "
     "_mta-sts.{domain}"},
    {"mta_sts", "sts-policy-fetch-error",
     "the MTA-STS policy cannot be fetched ({detail})",
     "new MTA-STS senders apply no policy; those with a cached one keep it until max_age",
     "mta-sts.{domain} does not resolve, does not serve HTTPS, or the file is missing",
     "serve https://mta-sts.{domain}/.well-known/mta-sts.txt, or remove _mta-sts.{domain}"},
    {"mta_sts", "sts-policy-invalid", "the MTA-STS policy is invalid ({detail})",
     "senders treat the domain as having no policy", "a syntax error in the policy file",
     "fix the policy (version: STSv1, mode, mx, max_age lines, CRLF or LF endings)"},
    {"mta_sts", "sts-webpki-invalid",
     "the certificate of mta-sts.{domain} is not valid ({detail})",
     "senders cannot fetch the policy and apply none; the policy silently stops applying",
     "an expired or non-matching certificate on the policy host",
     "install a valid certificate for mta-sts.{domain}"},
    {"mta_sts", "sts-txt-invalid", "the _mta-sts.{domain} TXT record is invalid ({detail})",
     "senders treat the domain as having no MTA-STS",
     "a syntax error in the record, or several v=STSv1 records",
     "publish exactly one record like `v=STSv1; id=20240101T000000;`"},
    {"mta_sts", "id_not_bumped",
     "the MTA-STS policy changed while the id in _mta-sts.{domain} stayed the same",
     "senders that cached the old policy keep applying it until max_age runs out",
     "the policy file was edited without changing the TXT record's id",
     "change the id in _mta-sts.{domain} every time the policy changes"},
    {"mta_sts", "host_cert_expiring", "the certificate of mta-sts.{domain} {detail}",
     "once it expires, senders cannot refresh the policy and it silently stops applying",
     "the policy host's certificate is not renewed with the others",
     "renew the certificate of mta-sts.{domain} and automate it"},
    {"mta_sts", "no_policy", "{domain} publishes no MTA-STS policy",
     "nobody is refused; senders cannot require TLS, so an attacker on the path can strip "
     "STARTTLS",
     "MTA-STS was never set up",
     "publish _mta-sts.{domain} TXT and a policy at https://mta-sts.{domain}/.well-known/"
     "mta-sts.txt, starting in testing mode"},
    {"mta_sts", "mode_testing", "the MTA-STS policy is in testing mode",
     "nobody is refused: senders only report failures (TLS-RPT)",
     "a rollout still in progress",
     "switch to mode: enforce once the TLS reports are clean"},
    {"mta_sts", "mode_none", "the MTA-STS policy is in mode none",
     "nobody: senders apply no policy", "MTA-STS is being withdrawn",
     "nothing, if that is intended"},

    // ---- TLS-RPT ----
    {"tlsrpt", "invalid", "the _smtp._tls.{domain} TXT record is invalid ({detail})",
     "nobody is refused, but no sender sends TLS reports: failures go unseen",
     "a syntax error (rua must be mailto: or https: URIs)",
     "publish `v=TLSRPTv1; rua=mailto:tlsrpt@{domain}`"},
    {"tlsrpt", "absent", "{domain} publishes no TLS-RPT record",
     "nobody is refused, but senders cannot report TLS failures to you",
     "TLS-RPT was never set up",
     "publish `_smtp._tls.{domain} TXT \"v=TLSRPTv1; rua=mailto:tlsrpt@{domain}\"`"},

    // ---- reverse DNS (facts only) ----
    {"reverse_dns", "no_ptr", "{address} has no PTR record",
     "nobody for TLS; some receivers distrust mail sent from this address",
     "no reverse zone entry", "ask the address's provider for a PTR naming {mx}"},
    {"reverse_dns", "lookup_failed", "the PTR lookup of {address} failed ({detail})",
     "nobody for TLS", "a broken reverse zone", "check the reverse zone's delegation"},
    {"reverse_dns", "not_forward_confirmed",
     "no PTR name of {address} resolves back to it ({detail})",
     "nobody for TLS; receivers checking FCrDNS distrust mail sent from here",
     "a PTR naming a host whose A/AAAA record points elsewhere",
     "make the PTR name resolve to {address}"},
    {"reverse_dns", "ptr_mismatch", "the PTR of {address} names {detail}, not {mx}",
     "nobody: a fact, not a fault", "a generic or provider PTR",
     "nothing is required"},

    // ---- sender verdict caveats (mxtls_sender_verdict_info), explained once ----
    {"sender", "plaintext", "a sender of this kind delivers in clear text",
     "anyone on the path can read the mail", "no STARTTLS, or TLS that fails",
     "see the starttls and handshake findings"},
    {"sender", "plaintext_weak_key",
     "a sender of this kind refuses the weak key and delivers in clear text",
     "anyone on the path can read the mail", "a weak certificate key",
     "see the certificate finding"},
    {"sender", "unauthenticated_tls",
     "a DANE sender encrypts but authenticates nothing (only unusable TLSA records)",
     "an active attacker could intercept", "only unusable TLSA records",
     "see the dane finding"},
    {"sender", "unreachable", "a sender of this kind cannot reach the endpoint",
     "mail is deferred to the next MX", "see the connect finding",
     "see the connect finding"},
};

#undef MXTLS_READ_FAILURES

}  // namespace

const std::vector<Diagnosis>& AllDiagnoses() { return kDiagnoses; }

const Diagnosis* FindDiagnosis(std::string_view check, std::string_view reason) {
  for (const Diagnosis& d : kDiagnoses) {
    if (d.check == check && d.reason == reason) return &d;
  }
  return nullptr;
}

}  // namespace mxtls
