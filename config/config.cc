#include "config/config.h"

#include <arpa/inet.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <fstream>
#include <set>
#include <sstream>

#include "common/openssl_util.h"
#include "config/domain_name.h"

namespace mxtls::config {
namespace {

// Decoding stops at the first problem: one precise message is more useful to an operator
// than a cascade of follow-on errors. DecodeError carries it out of nested helpers.
struct DecodeError {
  std::string field;
  std::string why;
  int line = -1;  // 1-based, -1 when unknown
};

[[noreturn]] void Fail(const YAML::Node& node, const std::string& field, const std::string& why) {
  int line = node.IsDefined() && node.Mark().line >= 0 ? node.Mark().line + 1 : -1;
  throw DecodeError{field, why, line};
}

std::string Join(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

// Every mapping is checked against the keys its struct knows, so a typo such as
// `resolver:` is an error instead of a silently ignored setting.
void RejectUnknownKeys(const YAML::Node& map, const std::string& field,
                       const std::set<std::string>& known) {
  if (map.IsNull()) return;  // `key:` with nothing under it means "all defaults"
  if (!map.IsMap()) Fail(map, field, "must be a mapping");
  for (const auto& kv : map) {
    std::string key = kv.first.Scalar();
    if (!known.count(key)) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      Fail(kv.first, Join(field, key), "unknown key (known keys: " + list + ")");
    }
  }
}

std::string DecodeString(const YAML::Node& node, const std::string& field) {
  if (!node.IsScalar()) Fail(node, field, "must be a string");
  return node.Scalar();
}

long long DecodeInt(const YAML::Node& node, const std::string& field, long long min,
                    long long max) {
  if (!node.IsScalar()) Fail(node, field, "must be an integer");
  const std::string& s = node.Scalar();
  size_t pos = 0;
  long long v = 0;
  try {
    v = std::stoll(s, &pos, 10);
  } catch (...) {
    pos = 0;
  }
  if (s.empty() || pos != s.size()) Fail(node, field, "must be an integer, got \"" + s + "\"");
  if (v < min || v > max) {
    Fail(node, field,
         "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " + s);
  }
  return v;
}

bool DecodeBool(const YAML::Node& node, const std::string& field) {
  if (!node.IsScalar()) Fail(node, field, "must be true or false");
  const std::string& s = node.Scalar();
  if (s == "true") return true;
  if (s == "false") return false;
  Fail(node, field, "must be true or false, got \"" + s + "\"");
}

Duration DecodeDuration(const YAML::Node& node, const std::string& field, Duration min,
                        Duration max) {
  if (!node.IsScalar()) Fail(node, field, "must be a duration such as 5s or 500ms");
  Duration d;
  if (!ParseDuration(node.Scalar(), &d)) {
    Fail(node, field, "must be a duration such as 5s or 500ms, got \"" + node.Scalar() + "\"");
  }
  if (d < min || d > max) {
    Fail(node, field,
         "must be between " + std::to_string(min.count()) + "ms and " +
             std::to_string(max.count()) + "ms, got " + node.Scalar());
  }
  return d;
}

bool ParseResolverAddress(const std::string& text, ResolverAddress* out) {
  std::string host = text;
  std::string port;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos) return false;
    host = text.substr(1, close - 1);
    std::string rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return false;
      port = rest.substr(1);
      if (port.empty()) return false;
    }
    in6_addr a6;
    if (inet_pton(AF_INET6, host.c_str(), &a6) != 1) return false;
  } else {
    size_t colon = text.find(':');
    if (colon != std::string::npos) {
      // A bare IPv6 address without brackets and without port.
      if (text.find(':', colon + 1) != std::string::npos) {
        in6_addr a6;
        if (inet_pton(AF_INET6, text.c_str(), &a6) != 1) return false;
        out->host = text;
        out->port = 53;
        return true;
      }
      host = text.substr(0, colon);
      port = text.substr(colon + 1);
      if (port.empty()) return false;
    }
    in_addr a4;
    if (inet_pton(AF_INET, host.c_str(), &a4) != 1) return false;
  }
  long p = 53;
  if (!port.empty()) {
    if (port.size() > 5 || !std::all_of(port.begin(), port.end(), ::isdigit)) return false;
    p = std::stol(port);
    if (p < 1 || p > 65535) return false;
  }
  out->host = host;
  out->port = static_cast<uint16_t>(p);
  return true;
}

std::string MachineHostName() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

void DecodeTimeouts(const YAML::Node& node, const std::string& field, PhaseTimeouts* t) {
  RejectUnknownKeys(node, field, {"connect", "greeting", "ehlo", "starttls", "handshake"});
  const Duration lo{std::chrono::milliseconds(10)}, hi{std::chrono::minutes(10)};
  if (node["connect"]) t->connect = DecodeDuration(node["connect"], Join(field, "connect"), lo, hi);
  if (node["greeting"]) {
    t->greeting = DecodeDuration(node["greeting"], Join(field, "greeting"), lo, hi);
  }
  if (node["ehlo"]) t->ehlo = DecodeDuration(node["ehlo"], Join(field, "ehlo"), lo, hi);
  if (node["starttls"]) {
    t->starttls = DecodeDuration(node["starttls"], Join(field, "starttls"), lo, hi);
  }
  if (node["handshake"]) {
    t->handshake = DecodeDuration(node["handshake"], Join(field, "handshake"), lo, hi);
  }
}

void CheckCaFile(const YAML::Node& node, const std::string& field, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Fail(node, field, "cannot read CA file \"" + path + "\"");
  std::stringstream ss;
  ss << in.rdbuf();
  if (ParsePemCertificates(ss.str()).empty()) {
    Fail(node, field, "no PEM certificate in CA file \"" + path + "\"");
  }
}

ModuleConfig DecodeModule(const YAML::Node& node, const std::string& field,
                          const std::string& name, const Environment& env) {
  ModuleConfig m;
  m.name = name;
  if (node.IsNull()) {
    m.smtp.ehlo_name = env.host_name.empty() ? MachineHostName() : env.host_name;
    return m;
  }
  RejectUnknownKeys(node, field,
                    {"smtp", "timeout", "timeouts", "ip_families", "tls", "mta_sts", "dane",
                     "reverse_dns", "max_mx_hosts", "max_addresses_per_mx",
                     "endpoint_reuse_window"});
  if (const auto smtp = node["smtp"]) {
    std::string f = Join(field, "smtp");
    RejectUnknownKeys(smtp, f, {"port", "ehlo_name"});
    if (smtp["port"]) {
      m.smtp.port = static_cast<uint16_t>(DecodeInt(smtp["port"], Join(f, "port"), 1, 65535));
    }
    if (smtp["ehlo_name"]) {
      std::string raw = DecodeString(smtp["ehlo_name"], Join(f, "ehlo_name"));
      // EHLO carries ASCII only (RFC 5321; U-labels need SMTPUTF8, which EHLO precedes).
      Result<DomainName> name = ParseDomainName(raw);
      if (!name.ok()) {
        Fail(smtp["ehlo_name"], Join(f, "ehlo_name"),
             "must be a fully qualified host name, got \"" + raw + "\": " +
                 name.status().message());
      }
      m.smtp.ehlo_name = name->ascii;
    }
  }
  if (m.smtp.ehlo_name.empty()) {
    m.smtp.ehlo_name = env.host_name.empty() ? MachineHostName() : env.host_name;
  }
  if (node["timeout"]) {
    m.timeout = DecodeDuration(node["timeout"], Join(field, "timeout"),
                               std::chrono::milliseconds(100), std::chrono::minutes(10));
  }
  if (node["timeouts"]) DecodeTimeouts(node["timeouts"], Join(field, "timeouts"), &m.timeouts);
  if (const auto fam = node["ip_families"]) {
    std::string f = Join(field, "ip_families");
    if (!fam.IsSequence() || fam.size() == 0) {
      Fail(fam, f, "must be a non-empty list of ipv4 and/or ipv6");
    }
    m.ipv4 = m.ipv6 = false;
    for (const auto& item : fam) {
      std::string v = DecodeString(item, f);
      if (v == "ipv4") m.ipv4 = true;
      else if (v == "ipv6") m.ipv6 = true;
      else Fail(item, f, "must contain only ipv4 or ipv6, got \"" + v + "\"");
    }
  }
  if (const auto tls = node["tls"]) {
    std::string f = Join(field, "tls");
    RejectUnknownKeys(tls, f, {"ca_file", "no_sni_check", "no_sni_check_interval",
                               "version_check", "version_check_interval", "key_type_check",
                               "key_type_check_interval"});
    if (tls["version_check"]) {
      m.tls.version_check = DecodeBool(tls["version_check"], Join(f, "version_check"));
    }
    if (tls["version_check_interval"]) {
      m.tls.version_check_interval =
          DecodeDuration(tls["version_check_interval"], Join(f, "version_check_interval"),
                         Duration(0), std::chrono::hours(24 * 7));
    }
    if (tls["key_type_check"]) {
      m.tls.key_type_check = DecodeBool(tls["key_type_check"], Join(f, "key_type_check"));
    }
    if (tls["key_type_check_interval"]) {
      m.tls.key_type_check_interval =
          DecodeDuration(tls["key_type_check_interval"], Join(f, "key_type_check_interval"),
                         Duration(0), std::chrono::hours(24 * 7));
    }
    if (tls["no_sni_check"]) {
      m.tls.no_sni_check = DecodeBool(tls["no_sni_check"], Join(f, "no_sni_check"));
    }
    if (tls["no_sni_check_interval"]) {
      m.tls.no_sni_check_interval =
          DecodeDuration(tls["no_sni_check_interval"], Join(f, "no_sni_check_interval"),
                         Duration(0), std::chrono::hours(24 * 7));
    }
    if (tls["ca_file"]) {
      m.tls.ca_file = DecodeString(tls["ca_file"], Join(f, "ca_file"));
      // Relative paths are relative to the config file, as in Prometheus' own configs.
      if (!m.tls.ca_file.empty() && m.tls.ca_file[0] != '/' && !env.base_dir.empty()) {
        m.tls.ca_file = env.base_dir + "/" + m.tls.ca_file;
      }
      CheckCaFile(tls["ca_file"], Join(f, "ca_file"), m.tls.ca_file);
    }
  }
  if (const auto sts = node["mta_sts"]) {
    std::string f = Join(field, "mta_sts");
    RejectUnknownKeys(sts, f, {"enabled", "port", "refetch_interval"});
    if (sts["enabled"]) m.mta_sts.enabled = DecodeBool(sts["enabled"], Join(f, "enabled"));
    if (sts["port"]) {
      m.mta_sts.port = static_cast<uint16_t>(DecodeInt(sts["port"], Join(f, "port"), 1, 65535));
    }
    if (sts["refetch_interval"]) {
      // At most a day: a policy's max_age is usually longer, but a changed policy should show.
      m.mta_sts.refetch_interval =
          DecodeDuration(sts["refetch_interval"], Join(f, "refetch_interval"), Duration(0),
                         std::chrono::hours(24));
    }
  }
  if (const auto dane = node["dane"]) {
    std::string f = Join(field, "dane");
    RejectUnknownKeys(dane, f, {"enabled"});
    if (dane["enabled"]) m.dane.enabled = DecodeBool(dane["enabled"], Join(f, "enabled"));
  }
  if (const auto rdns = node["reverse_dns"]) {
    std::string f = Join(field, "reverse_dns");
    RejectUnknownKeys(rdns, f, {"enabled"});
    if (rdns["enabled"]) {
      m.reverse_dns.enabled = DecodeBool(rdns["enabled"], Join(f, "enabled"));
    }
  }
  if (node["max_mx_hosts"]) {
    m.max_mx_hosts =
        static_cast<int>(DecodeInt(node["max_mx_hosts"], Join(field, "max_mx_hosts"), 1, 100));
  }
  if (node["max_addresses_per_mx"]) {
    m.max_addresses_per_mx = static_cast<int>(
        DecodeInt(node["max_addresses_per_mx"], Join(field, "max_addresses_per_mx"), 1, 64));
  }
  if (node["endpoint_reuse_window"]) {
    m.endpoint_reuse_window =
        DecodeDuration(node["endpoint_reuse_window"], Join(field, "endpoint_reuse_window"),
                       Duration(0), std::chrono::hours(1));
  }
  return m;
}

// Relative paths are relative to the config file, as in Prometheus' own configs.
std::string ResolvePath(const std::string& path, const Environment& env) {
  if (!path.empty() && path[0] != '/' && !env.base_dir.empty()) return env.base_dir + "/" + path;
  return path;
}

void DecodeTlsRpt(const YAML::Node& node, const Environment& env, TlsRptConfig* t) {
  const std::string f = "tlsrpt";
  RejectUnknownKeys(node, f,
                    {"listen_address", "spool_directory", "spool_interval", "data_directory",
                     "max_body_bytes", "max_report_bytes", "retention", "web_config_file"});
  if (node.IsNull()) return;
  if (node["listen_address"]) {
    t->listen_address = DecodeString(node["listen_address"], Join(f, "listen_address"));
    const std::string& a = t->listen_address;
    size_t colon = a.rfind(':');
    bool ok = a.empty();
    if (colon != std::string::npos && colon + 1 < a.size() && a.size() - colon - 1 <= 5) {
      std::string port = a.substr(colon + 1);
      ok = std::all_of(port.begin(), port.end(), ::isdigit) && std::stol(port) <= 65535;
      std::string host = a.substr(0, colon);
      if (!host.empty() && host[0] == '[') ok = ok && host.back() == ']';
      else ok = ok && host.find(':') == std::string::npos;
    }
    if (!ok) {
      Fail(node["listen_address"], Join(f, "listen_address"),
           "must be \"host:port\", \"[v6]:port\" or \":port\", got \"" + a + "\"");
    }
  }
  if (node["spool_directory"]) {
    t->spool_directory =
        ResolvePath(DecodeString(node["spool_directory"], Join(f, "spool_directory")), env);
  }
  if (node["spool_interval"]) {
    t->spool_interval = DecodeDuration(node["spool_interval"], Join(f, "spool_interval"),
                                       std::chrono::seconds(1), std::chrono::hours(24));
  }
  if (node["data_directory"]) {
    t->data_directory =
        ResolvePath(DecodeString(node["data_directory"], Join(f, "data_directory")), env);
  }
  if (node["web_config_file"]) {
    t->web_config_file =
        ResolvePath(DecodeString(node["web_config_file"], Join(f, "web_config_file")), env);
    if (!t->web_config_file.empty() && t->listen_address.empty()) {
      Fail(node["web_config_file"], Join(f, "web_config_file"),
           "is only for the listener: set listen_address too");
    }
  }
  if (node["max_body_bytes"]) {
    t->max_body_bytes =
        DecodeInt(node["max_body_bytes"], Join(f, "max_body_bytes"), 1024, 64LL << 20);
  }
  if (node["max_report_bytes"]) {
    t->max_report_bytes =
        DecodeInt(node["max_report_bytes"], Join(f, "max_report_bytes"), 1024, 256LL << 20);
  }
  if (t->max_report_bytes < t->max_body_bytes) {
    Fail(node["max_report_bytes"] ? node["max_report_bytes"] : node, Join(f, "max_report_bytes"),
         "must be at least max_body_bytes (" + std::to_string(t->max_body_bytes) + ")");
  }
  if (node["retention"]) {
    // At least two days: reports arrive daily and late, and their ids must be remembered
    // at least as long as a reporter may resend them.
    t->retention = DecodeDuration(node["retention"], Join(f, "retention"),
                                  std::chrono::hours(48), std::chrono::hours(24 * 3650));
  }
  if (t->enabled() && t->data_directory.empty()) {
    Fail(node, Join(f, "data_directory"),
         "is required when listen_address or spool_directory is set");
  }
  if (!t->spool_directory.empty() && t->spool_directory == t->data_directory) {
    Fail(node["spool_directory"], Join(f, "spool_directory"),
         "must not be the data_directory");
  }
}

Config Decode(const YAML::Node& root, const std::string& source, const Environment& env) {
  Config c;
  c.source = source;
  if (root.IsNull()) Fail(root, "(top level)", "the file is empty");
  RejectUnknownKeys(root, "",
                    {"dns", "engine", "modules", "targets", "allow_unlisted_targets",
                     "tlsrpt"});

  if (const auto engine = root["engine"]) {
    RejectUnknownKeys(engine, "engine", {"max_sessions", "max_sessions_per_address"});
    if (engine["max_sessions"]) {
      c.engine.max_sessions = static_cast<int>(
          DecodeInt(engine["max_sessions"], "engine.max_sessions", 1, 100000));
    }
    if (engine["max_sessions_per_address"]) {
      c.engine.max_sessions_per_address = static_cast<int>(DecodeInt(
          engine["max_sessions_per_address"], "engine.max_sessions_per_address", 1, 1000));
    }
  }

  if (const auto dns = root["dns"]) {
    RejectUnknownKeys(dns, "dns", {"resolvers", "timeout", "attempts", "dnssec_check_name"});
    if (dns["dnssec_check_name"]) {
      std::string raw = DecodeString(dns["dnssec_check_name"], "dns.dnssec_check_name");
      if (raw.empty() || raw == ".") {
        c.dns.dnssec_check_name = ".";
      } else {
        Result<DomainName> name = ParseDomainName(raw);
        if (!name.ok()) {
          Fail(dns["dnssec_check_name"], "dns.dnssec_check_name",
               "must be a domain name known to be DNSSEC-signed (\".\" for the root), got \"" +
                   raw + "\": " + name.status().message());
        }
        c.dns.dnssec_check_name = name->ascii;
      }
    }
    if (const auto rs = dns["resolvers"]) {
      if (!rs.IsSequence()) Fail(rs, "dns.resolvers", "must be a list of \"ip:port\" strings");
      for (size_t i = 0; i < rs.size(); ++i) {
        std::string f = "dns.resolvers[" + std::to_string(i) + "]";
        std::string text = DecodeString(rs[i], f);
        ResolverAddress addr;
        if (!ParseResolverAddress(text, &addr)) {
          Fail(rs[i], f,
               "must be a numeric address with optional port, such as \"192.0.2.53:53\" or "
               "\"[2001:db8::53]:53\", got \"" + text + "\"");
        }
        c.dns.resolvers.push_back(addr);
      }
    }
    if (dns["timeout"]) {
      c.dns.timeout = DecodeDuration(dns["timeout"], "dns.timeout", std::chrono::milliseconds(50),
                                     std::chrono::seconds(60));
    }
    if (dns["attempts"]) {
      c.dns.attempts = static_cast<int>(DecodeInt(dns["attempts"], "dns.attempts", 1, 10));
    }
  }
  if (c.dns.resolvers.empty()) {
    c.dns.resolvers = ReadResolvConf(env.resolv_conf_path);
    if (c.dns.resolvers.empty()) {
      Fail(root["dns"], "dns.resolvers",
           "not set and no nameserver found in " + env.resolv_conf_path);
    }
  }

  if (const auto mods = root["modules"]) {
    if (!mods.IsMap()) Fail(mods, "modules", "must be a mapping of module names to settings");
    for (const auto& kv : mods) {
      std::string name = kv.first.Scalar();
      if (name.empty() || name.find_first_of(" \t\"'") != std::string::npos) {
        Fail(kv.first, "modules", "module names must be non-empty words, got \"" + name + "\"");
      }
      c.modules[name] = DecodeModule(kv.second, "modules." + name, name, env);
    }
  }
  // A config that names no module still probes with the defaults.
  if (!c.modules.count("default")) {
    c.modules["default"] = DecodeModule(YAML::Node(YAML::NodeType::Null), "", "default", env);
  }

  if (const auto ts = root["targets"]) {
    if (!ts.IsSequence()) Fail(ts, "targets", "must be a list of {domain: ..., module: ...}");
    std::set<std::string> seen;
    for (size_t i = 0; i < ts.size(); ++i) {
      std::string f = "targets[" + std::to_string(i) + "]";
      const auto& t = ts[i];
      RejectUnknownKeys(t, f, {"domain", "module"});
      if (!t["domain"]) Fail(t, f + ".domain", "is required");
      TargetConfig target;
      std::string raw = DecodeString(t["domain"], f + ".domain");
      Result<DomainName> name = ParseDomainName(raw);
      if (!name.ok()) {
        Fail(t["domain"], f + ".domain",
             "must be a domain name (U-labels such as bücher.example or A-labels such as "
             "xn--bcher-kva.example), got \"" + raw + "\": " + name.status().message());
      }
      // Compared in A-label form: "bücher.example" and "xn--bcher-kva.example" are one target.
      target.domain = name->ascii;
      target.domain_unicode = name->unicode;
      if (!seen.insert(target.domain).second) {
        Fail(t["domain"], f + ".domain", "duplicate target \"" + name->Display() + "\"");
      }
      if (t["module"]) {
        target.module = DecodeString(t["module"], f + ".module");
        if (!c.modules.count(target.module)) {
          Fail(t["module"], f + ".module", "unknown module \"" + target.module + "\"");
        }
      }
      c.targets.push_back(target);
    }
  }
  if (root["allow_unlisted_targets"]) {
    c.allow_unlisted_targets =
        DecodeBool(root["allow_unlisted_targets"], "allow_unlisted_targets");
  }
  if (const auto tlsrpt = root["tlsrpt"]) DecodeTlsRpt(tlsrpt, env, &c.tlsrpt);
  return c;
}

}  // namespace

std::string ResolverAddress::ToString() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

std::string TargetConfig::Display() const { return DisplayDomain(domain, domain_unicode); }

const TargetConfig* Config::FindTarget(const std::string& domain) const {
  // Targets are stored in A-label form; a name that does not parse matches none of them.
  Result<DomainName> name = ParseDomainName(domain);
  if (!name.ok()) return nullptr;
  const std::string& d = name->ascii;
  if (target_index_.size() == targets.size() && !targets.empty()) {
    auto it = target_index_.find(d);
    return it == target_index_.end() ? nullptr : &targets[it->second];
  }
  for (const auto& t : targets) {
    if (t.domain == d) return &t;
  }
  return nullptr;
}

bool Config::HasTarget(const std::string& ascii_domain) const {
  if (target_index_.size() == targets.size() && !targets.empty()) {
    return target_index_.count(ascii_domain) > 0;
  }
  for (const auto& t : targets) {
    if (t.domain == ascii_domain) return true;
  }
  return false;
}

void Config::Index() {
  static std::atomic<uint64_t> next_generation{1};
  generation = next_generation.fetch_add(1);
  target_index_.clear();
  target_index_.reserve(targets.size());
  for (size_t i = 0; i < targets.size(); ++i) target_index_.emplace(targets[i].domain, i);
}

const ModuleConfig* Config::FindModule(const std::string& name) const {
  auto it = modules.find(name);
  return it == modules.end() ? nullptr : &it->second;
}

bool ParseDuration(const std::string& text, Duration* out) {
  // Prometheus duration syntax: one or more <number><unit>, units ms s m h d, largest first.
  static const std::pair<const char*, long long> kUnits[] = {
      {"d", 86400000LL}, {"h", 3600000LL}, {"m", 60000LL}, {"s", 1000LL}, {"ms", 1LL}};
  if (text.empty()) return false;
  long long total = 0;
  size_t i = 0;
  int last_unit = -1;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
    if (i == start || i - start > 9) return false;
    long long n = std::stoll(text.substr(start, i - start));
    size_t ustart = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    std::string unit = text.substr(ustart, i - ustart);
    int idx = -1;
    for (int u = 0; u < 5; ++u) {
      if (unit == kUnits[u].first) idx = u;
    }
    if (idx < 0 || idx <= last_unit) return false;
    last_unit = idx;
    total += n * kUnits[idx].second;
  }
  *out = Duration(total);
  return true;
}

std::vector<ResolverAddress> ReadResolvConf(const std::string& path) {
  std::vector<ResolverAddress> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string key, value;
    if (!(words >> key >> value) || key != "nameserver") continue;
    // Link-local IPv6 nameservers carry a zone ("fe80::1%eth0"): c-ares cannot take those
    // in a servers list, so they are skipped rather than breaking the whole config.
    if (value.find('%') != std::string::npos) continue;
    ResolverAddress addr;
    if (ParseResolverAddress(value, &addr)) out.push_back(addr);
  }
  return out;
}

Result<Config> ParseConfig(const std::string& yaml_text, const std::string& source,
                           const Environment& env) {
  try {
    YAML::Node root = YAML::Load(yaml_text);
    Result<Config> decoded = Decode(root, source, env);
    if (decoded.ok()) decoded.value().Index();
    return decoded;
  } catch (const DecodeError& e) {
    std::string where = source + (e.line > 0 ? ":" + std::to_string(e.line) : "");
    return Status::Error("config_invalid", where + ": " + e.field + ": " + e.why);
  } catch (const YAML::Exception& e) {
    std::string where = source + (e.mark.line >= 0 ? ":" + std::to_string(e.mark.line + 1) : "");
    return Status::Error("config_invalid", where + ": YAML syntax error: " + e.msg);
  }
}

Result<Config> LoadConfigFile(const std::string& path, const Environment& env) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Error("config_unreadable", path + ": cannot read the file");
  std::stringstream ss;
  ss << in.rdbuf();
  Environment with_dir = env;
  if (with_dir.base_dir.empty()) {
    size_t slash = path.rfind('/');
    with_dir.base_dir = slash == std::string::npos ? "." : path.substr(0, slash);
    if (with_dir.base_dir.empty()) with_dir.base_dir = "/";
  }
  return ParseConfig(ss.str(), path, with_dir);
}

}  // namespace mxtls::config
