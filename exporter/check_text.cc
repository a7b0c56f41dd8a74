#include "config/domain_name.h"
#include "exporter/check_text.h"

#include <cstdio>
#include <string_view>

#include "exporter/terminal_escape.h"

namespace mxtls {

const char kPort25BlockedMessage[] =
    "every connection to port 25 failed before the server could answer (timeouts or an "
    "unreachable network): outbound port 25 is probably blocked from here (most clouds and "
    "ISPs block it). Run the check from a host that may send mail; nothing was learnt about "
    "the domains.";

namespace {

// SGR colour codes. Only our own fixed strings carry escapes; everything else is escaped.
constexpr std::string_view kReset = "\x1b[0m";
constexpr std::string_view kBold = "\x1b[1m";
constexpr std::string_view kDim = "\x1b[2m";

std::string_view LevelColor(FindingLevel level) {
  switch (level) {
    case FindingLevel::kCritical:
      return "\x1b[1;31m";  // bold red
    case FindingLevel::kWarning:
      return "\x1b[1;33m";  // bold yellow
    case FindingLevel::kInfo:
      return "\x1b[36m";  // cyan
    case FindingLevel::kOk:
      return "\x1b[32m";  // green
  }
  return "";
}

class Writer {
 public:
  explicit Writer(const TextStyle& style) : style_(style) {}

  Writer& Plain(std::string_view s) {
    out_.append(s);
    return *this;
  }
  // Text that may come from DNS, a certificate or a server.
  Writer& Safe(std::string_view s) {
    out_.append(EscapeForTerminal(s));
    return *this;
  }
  Writer& Styled(std::string_view sgr, std::string_view s) {
    if (style_.color) out_.append(sgr);
    out_.append(s);
    if (style_.color) out_.append(kReset);
    return *this;
  }
  Writer& Pad(size_t written, size_t width) {
    if (written < width) out_.append(width - written, ' ');
    return *this;
  }
  std::string Take() { return std::move(out_); }

 private:
  const TextStyle& style_;
  std::string out_;
};

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", s);
  return buf;
}

// "mx1.example.com 192.0.2.1 (ipv4)", "mx1.example.com", or "" for domain-level findings.
std::string Scope(const Finding& f) {
  std::string scope = f.mx;
  if (!f.address.empty()) {
    if (!scope.empty()) scope += " ";
    scope += f.address;
    if (!f.family.empty()) scope += " (" + f.family + ")";
  }
  return scope;
}

void WriteMxHosts(const DomainReport& r, Writer& w) {
  if (!r.mx_lookup_error.empty()) {
    w.Plain("  MX lookup failed: ").Safe(r.mx_lookup_error).Plain("\n");
  }
  if (r.null_mx) w.Plain("  null MX (RFC 7505): the domain accepts no mail\n");
  if (r.implicit_mx) {
    w.Plain("  no MX records: senders use the domain itself (implicit MX, RFC 5321 5.1)\n");
  }
  for (const MxHostReport& mx : r.mx_hosts) {
    w.Plain("  MX ").Plain(std::to_string(mx.preference)).Plain(" ");
    w.Styled(kBold, EscapeForTerminal(mx.host));
    if (mx.is_cname) w.Plain("  CNAME -> ").Safe(mx.canonical_name);
    w.Plain("\n");
    for (const std::string& a : mx.ipv4) w.Plain("       ").Safe(a).Plain("  ipv4\n");
    for (const std::string& a : mx.ipv6) w.Plain("       ").Safe(a).Plain("  ipv6\n");
    if (!mx.ipv4_error.empty()) w.Plain("       A lookup failed: ").Safe(mx.ipv4_error).Plain("\n");
    if (!mx.ipv6_error.empty()) {
      w.Plain("       AAAA lookup failed: ").Safe(mx.ipv6_error).Plain("\n");
    }
    if (mx.ipv4.empty() && mx.ipv6.empty() && mx.ipv4_error.empty() && mx.ipv6_error.empty()) {
      w.Plain("       no addresses\n");
    }
    if (mx.addresses_skipped > 0) {
      w.Plain("       ").Plain(std::to_string(mx.addresses_skipped))
          .Plain(" more addresses not probed (max_addresses_per_mx)\n");
    }
  }
  if (r.mx_hosts_skipped > 0) {
    w.Plain("  ").Plain(std::to_string(r.mx_hosts_skipped))
        .Plain(" more MX hosts not probed (max_mx_hosts)\n");
  }
}

void WritePolicies(const DomainReport& r, Writer& w) {
  if (r.mta_sts.checked) {
    w.Plain("  MTA-STS: ");
    if (r.mta_sts.policy_valid) {
      w.Plain("policy in mode ").Safe(r.mta_sts.mode).Plain(", mx:");
      for (const std::string& p : r.mta_sts.mx_patterns) w.Plain(" ").Safe(p);
    } else if (!r.mta_sts.txt_present) {
      w.Plain("none published");
    } else {
      w.Plain("no usable policy");
      if (!r.mta_sts.failure_reason.empty()) w.Plain(" (").Safe(r.mta_sts.failure_reason).Plain(")");
    }
    w.Plain("\n");
  }
  if (r.tlsrpt.checked) {
    w.Plain("  TLS-RPT: ");
    if (r.tlsrpt.valid) {
      w.Plain("reports go to");
      for (const std::string& rua : r.tlsrpt.rua) w.Plain(" ").Safe(rua);
    } else if (r.tlsrpt.present) {
      w.Plain("invalid record");
      if (!r.tlsrpt.error.empty()) w.Plain(": ").Safe(r.tlsrpt.error);
    } else {
      w.Plain("none published");
    }
    w.Plain("\n");
  }
}

void WriteFinding(const DomainReport& r, const Finding& f, Writer& w) {
  constexpr size_t kLevelWidth = 10;
  constexpr size_t kCheckWidth = 14;
  std::string level = Upper(FindingLevelWord(f.level));
  w.Plain("  ").Styled(LevelColor(f.level), level).Pad(level.size(), kLevelWidth);
  w.Plain(f.check).Pad(f.check.size(), kCheckWidth);
  std::string scope = Scope(f);
  w.Safe(scope);
  if (f.level != FindingLevel::kOk && !f.reason.empty()) {
    w.Plain(scope.empty() ? "" : ": ").Safe(f.reason);
  }
  if (!f.detail.empty()) w.Plain(" - ").Safe(f.detail);
  w.Plain("\n");
  if (f.level == FindingLevel::kOk || f.diagnosis == nullptr) return;
  const Diagnosis& d = *f.diagnosis;
  const std::string indent(2 + kLevelWidth, ' ');
  auto line = [&](std::string_view label, std::string_view text) {
    if (text.empty()) return;
    w.Plain(indent).Styled(kDim, label).Safe(FillDiagnosisText(text, r, f)).Plain("\n");
  };
  line("symptom:  ", d.symptom);
  line("affected: ", d.affected);
  line("cause:    ", d.cause);
  line("fix:      ", d.fix);
}

void WriteAlerts(const CheckedDomain& d, Writer& w) {
  if (d.alerts.empty()) {
    w.Plain("  ").Styled(LevelColor(FindingLevel::kOk), "no alert")
        .Plain(": the shipped alert rules would raise none for this domain\n");
    return;
  }
  w.Plain("  ").Styled(LevelColor(FindingLevel::kCritical),
                       std::to_string(d.alerts.size()) +
                           (d.alerts.size() == 1 ? " alert" : " alerts"))
      .Plain(" the shipped alert rules would raise:\n");
  for (const PredictedAlert& a : d.alerts) {
    w.Plain("    ").Safe(a.name).Plain(" (").Safe(a.severity).Plain(")");
    const char* sep = " ";
    for (const auto& [k, v] : a.labels) {
      w.Plain(sep).Safe(k).Plain("=").Safe(v);
      sep = ", ";
    }
    w.Plain("\n");
  }
}

}  // namespace

std::string RenderCheckText(const CheckedDomain& d, const TextStyle& style) {
  const DomainReport& r = d.report;
  Writer w(style);
  w.Styled(kBold, EscapeForTerminal(config::DisplayDomain(r.domain, d.domain_unicode)));
  w.Plain("  (module ").Safe(r.module).Plain(", probed in ").Plain(Seconds(r.duration_seconds));
  w.Plain(")\n");
  if (!r.success && !r.failure_reason.empty()) {
    w.Plain("  probe incomplete: ").Safe(r.failure_reason);
    if (!r.failure_message.empty()) w.Plain(" - ").Safe(r.failure_message);
    w.Plain("\n");
  }
  WriteMxHosts(r, w);
  WritePolicies(r, w);
  w.Plain("\n");
  for (const Finding& f : d.findings) WriteFinding(r, f, w);
  w.Plain("\n");
  WriteAlerts(d, w);
  return w.Take();
}

std::string RenderRunSummaryText(const CheckRun& run, const TextStyle& style) {
  if (!run.port25_blocked) return "";
  Writer w(style);
  w.Styled(LevelColor(FindingLevel::kCritical), "PROBER").Plain("  ").Plain(kPort25BlockedMessage);
  w.Plain("\n");
  return w.Take();
}

}  // namespace mxtls
