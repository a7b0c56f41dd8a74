// The exporter's configuration as plain data: structs with their defaults, the YAML decoder
// and the validator. Loading never has side effects beyond reading files; a bad file yields
// one error naming the file, the field and why, so the running config can stay in force.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/status.h"

namespace mxtls::config {

using Duration = std::chrono::milliseconds;

// Per-phase limits of one endpoint probe. Every phase is also capped by the probe deadline.
struct PhaseTimeouts {
  Duration connect{std::chrono::seconds(5)};
  // Postscreen-style greet delays of 6 s are common, so the greeting gets the longest wait.
  Duration greeting{std::chrono::seconds(15)};
  Duration ehlo{std::chrono::seconds(5)};
  Duration starttls{std::chrono::seconds(5)};
  Duration handshake{std::chrono::seconds(10)};
};

struct SmtpSettings {
  uint16_t port = 25;
  std::string ehlo_name;  // empty in the file: the machine's host name is filled in
};

struct TlsSettings {
  std::string ca_file;  // empty: the system trust store
  // Postfix and Exim send no SNI by default, so the certificate a server presents without
  // SNI is what many MTAs see. A second session without SNI checks it; its result is kept
  // for `no_sni_check_interval` (0: every probe) since it changes slowly.
  bool no_sni_check = true;
  Duration no_sni_check_interval{std::chrono::hours(1)};
  // Which of TLS 1.0, 1.1, 1.2 and 1.3 each endpoint accepts: two or three short sessions
  // (ProbeTlsVersions); TLS 1.3 is read from the main session.
  // It rarely changes and every check is a session the server logs, so it is cached.
  bool version_check = true;
  Duration version_check_interval{std::chrono::hours(6)};
  // Sessions offering only RSA and only ECDSA signature algorithms, to see every certificate a
  // dual-certificate server (Postfix, Exim) holds. Cached like the no-SNI session.
  bool key_type_check = true;
  Duration key_type_check_interval{std::chrono::hours(1)};
};

// DANE for SMTP (RFC 7672): TLSA records of DNSSEC-secure MX hosts.
struct DaneSettings {
  bool enabled = true;
};

// PTR of every probed address, forward-confirmed (facts only; never alerted on).
struct ReverseDnsSettings {
  bool enabled = true;
};

// MTA-STS (RFC 8461) and TLS-RPT (RFC 8460) checks.
struct MtaStsSettings {
  bool enabled = true;
  uint16_t port = 443;  // of mta-sts.<domain>; only tests need another one
  // The fetched policy (and its host's certificate) is reused for this long and judged again
  // at every probe; a new TXT id fetches at once. 0: fetch at every probe.
  Duration refetch_interval{std::chrono::minutes(5)};
};

struct ModuleConfig {
  std::string name;
  SmtpSettings smtp;
  PhaseTimeouts timeouts;
  Duration timeout{std::chrono::seconds(30)};  // the whole probe, before the scrape deadline
  bool ipv4 = true;
  bool ipv6 = true;
  TlsSettings tls;
  MtaStsSettings mta_sts;
  DaneSettings dane;
  ReverseDnsSettings reverse_dns;
  int max_mx_hosts = 10;
  int max_addresses_per_mx = 4;
  // How long one endpoint's main session (SNI = MX name) is reused by other domains whose MX
  // is the same host on the same address (0: never; concurrent probes still share one
  // session). Shorter than any scrape interval, so that a domain probed alone still gets a
  // fresh session at every scrape; only domains sharing an endpoint share its session.
  Duration endpoint_reuse_window{std::chrono::seconds(30)};
};

// Limits of the probe engine as a whole (top-level `engine:`).
struct EngineConfig {
  // SMTP sessions in flight at once, every kind counted (main, no-SNI, version, key type,
  // DANE SNI). Bounds sockets and memory.
  int max_sessions = 1000;
  // SMTP sessions in flight at once to one address: many mail servers (postscreen, anvil)
  // ban clients that open many connections.
  int max_sessions_per_address = 4;
};

struct ResolverAddress {
  std::string host;  // numeric IPv4 or IPv6 address, without brackets
  uint16_t port = 53;

  // "192.0.2.53:53" or "[2001:db8::53]:53".
  std::string ToString() const;
};

struct DnsConfig {
  // Empty in the file: filled from /etc/resolv.conf when the config is loaded.
  std::vector<ResolverAddress> resolvers;
  Duration timeout{std::chrono::seconds(2)};  // per attempt
  int attempts = 2;
  // A name known to be DNSSEC-signed. At start and on reload the exporter asks the resolvers
  // for it: only a resolver that sets AD there is trusted to validate, and DANE is never shown
  // as fine through one that does not. "." (the root) is signed and every validating resolver
  // validates it.
  std::string dnssec_check_name = ".";
};

struct TargetConfig {
  std::string domain;          // A-label form: lower case, no trailing dot (config/domain_name.h)
  std::string domain_unicode;  // U-label form for people; equals `domain` for ASCII names
  std::string module = "default";

  // "bücher.example (xn--bcher-kva.example)", or just "example.com": both forms for people.
  std::string Display() const;
};

// The TLS-RPT (RFC 8460) report receiver (exporter/tlsrpt_receiver.h). Both inputs are off
// by default; either one needs `data_directory`, where accepted reports and the cumulative
// totals are kept across restarts. Read once at start: changing it needs a restart.
struct TlsRptConfig {
  std::string listen_address;   // "host:port" of the POST /tlsrpt listener; empty: none
  std::string spool_directory;  // read every spool_interval; empty: no mail spool
  Duration spool_interval{std::chrono::minutes(5)};
  std::string data_directory;
  // TLS for the listener, in the exporter-toolkit web config format (as --web.config.file):
  // empty for plain HTTP behind a TLS reverse proxy. Re-read when it changes, so renewed
  // certificates need no restart. It must not set basic_auth_users: reporters do not log in.
  std::string web_config_file;
  // Bounds on one report: the body as received (HTTP body, spool file or mail message after
  // base64 decoding) and the JSON after gzip decompression.
  int64_t max_body_bytes = 1 << 20;
  int64_t max_report_bytes = 16 << 20;
  // How long accepted reports are kept in data_directory/reports and their ids remembered for
  // de-duplication. The totals are kept for ever.
  Duration retention{std::chrono::hours(24 * 30)};

  bool enabled() const { return !listen_address.empty() || !spool_directory.empty(); }
};

struct Config {
  std::string source;  // file the config came from (for messages)
  TlsRptConfig tlsrpt;
  DnsConfig dns;
  EngineConfig engine;
  std::map<std::string, ModuleConfig> modules;
  std::vector<TargetConfig> targets;
  // When false (the default) /probe refuses domains not listed in `targets`: the exporter
  // must not become a tool for probing arbitrary hosts.
  bool allow_unlisted_targets = false;

  const TargetConfig* FindTarget(const std::string& domain) const;
  const ModuleConfig* FindModule(const std::string& name) const;
  // Whether `ascii_domain` (A-label form, as TargetConfig::domain) is a target.
  bool HasTarget(const std::string& ascii_domain) const;

  // Set by ParseConfig once the config is complete: a number no other loaded config has (0
  // for one built by hand), and an index that makes FindTarget and HasTarget O(1) for fleets of
  // thousands of targets. Call again after changing `targets`.
  void Index();
  uint64_t generation = 0;

 private:
  std::unordered_map<std::string, size_t> target_index_;  // domain -> position in targets
};

// Where defaults that depend on the machine come from; tests substitute their own.
struct Environment {
  std::string resolv_conf_path = "/etc/resolv.conf";
  std::string host_name;  // empty: gethostname()
  // Directory that relative file paths in the config are resolved against; LoadConfigFile
  // sets it to the config file's directory. Empty: paths are used as written.
  std::string base_dir;
};

// Parses and validates YAML text. `source` names the file in error messages. On failure the
// Status reason is "config_invalid" and the message reads "<source>: <field>: <why>".
Result<Config> ParseConfig(const std::string& yaml_text, const std::string& source,
                           const Environment& env = {});

// Reads `path` and parses it; an unreadable file is reason "config_unreadable".
Result<Config> LoadConfigFile(const std::string& path, const Environment& env = {});

// Parses a Prometheus-style duration: "500ms", "5s", "1m30s", "2h". Returns false on error.
bool ParseDuration(const std::string& text, Duration* out);

// Reads nameserver lines from a resolv.conf file.
std::vector<ResolverAddress> ReadResolvConf(const std::string& path);

}  // namespace mxtls::config
