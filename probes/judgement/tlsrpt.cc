#include "probes/judgement/tlsrpt.h"

#include <algorithm>
#include <string_view>
#include <utility>

#include "probes/judgement/dns_names.h"
#include "probes/judgement/txt_record_syntax.h"

namespace mxtls {
namespace {

constexpr std::string_view kInvalid = "tlsrpt-invalid";
constexpr std::string_view kVersion = "v=TLSRPTv1";

// The record grammar is the one MTA-STS uses (RFC 8460 §3 and RFC 8461 §3.1 share it), so the
// lexical helpers come from txt_record_syntax.h.

bool IsHexDigit(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

Status Error(std::string message) {
  return Status::Error(kInvalid, "TXT record at _smtp._tls: " + std::move(message));
}

Status UriError(std::string_view uri, std::string_view why) {
  return Error("rua: " + Quote(uri) + " " + std::string(why));
}

// RFC 3986 unreserved / sub-delims / gen-delims, plus '%' (checked separately). ';' cannot
// reach here (it ends the field); RFC 8460 §3 requires ',' and '!' inside a URI to be
// percent-encoded, so a DMARC-style "!10m" size suffix is not allowed either.
std::string UriCharProblem(std::string_view uri) {
  static constexpr std::string_view kAllowed = "-._~:/?#[]@$&'()*+=";
  for (size_t i = 0; i < uri.size(); ++i) {
    const char c = uri[i];
    if (c == '%') {
      if (i + 2 >= uri.size() || !IsHexDigit(uri[i + 1]) || !IsHexDigit(uri[i + 2])) {
        return "has a '%' that does not start a %XX escape";
      }
      i += 2;
      continue;
    }
    if (c == '!') return "contains '!', which must be percent-encoded (%21)";
    if (IsAlnum(c) || kAllowed.find(c) != std::string_view::npos) continue;
    if (IsWsp(c)) return "contains whitespace (URIs are separated by ',')";
    return "contains the character " + HexByte(static_cast<unsigned char>(c)) +
           ", not allowed in a URI";
  }
  return "";
}

Status CheckMailto(std::string_view uri, std::string_view rest) {
  // RFC 6068: mailto:to[?hfields]. One address is expected: several would need a %2C between
  // them, which RFC 8460 does not foresee (it lists URIs, not addresses). A literal '@' can
  // only separate local part and domain; inside a local part it would be %40.
  const std::string_view to = rest.substr(0, rest.find('?'));
  const size_t at = to.find('@');
  if (at == std::string_view::npos) return UriError(uri, "has no '@' in its address");
  if (at == 0) return UriError(uri, "has an empty local part");
  const std::string_view host = to.substr(at + 1);
  if (!IsValidHostName(host)) {
    return UriError(uri, "has " + Quote(host) + " after '@', which is not a host name");
  }
  return Status();
}

bool IsIpLiteral(std::string_view host) {
  if (host.size() < 3 || host.front() != '[' || host.back() != ']') return false;
  host = host.substr(1, host.size() - 2);
  return std::all_of(host.begin(), host.end(),
                     [](char c) { return IsHexDigit(c) || c == ':' || c == '.'; });
}

Status CheckHttps(std::string_view uri, std::string_view rest) {
  if (!rest.starts_with("//")) return UriError(uri, "has no \"//\" and host after https:");
  rest.remove_prefix(2);
  std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
    authority.remove_prefix(at + 1);  // userinfo: odd for a report endpoint, but a valid URI
  }
  std::string_view host = authority;
  const size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.find(']', colon) == std::string_view::npos) {
    host = authority.substr(0, colon);
    const std::string_view port = authority.substr(colon + 1);
    if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), IsDigit) ||
        std::stoi(std::string(port)) > 65535) {
      return UriError(uri, "has a bad port " + Quote(port));
    }
  }
  if (host.empty()) return UriError(uri, "has no host");
  if (!IsValidHostName(host) && !IsIpLiteral(host)) {
    return UriError(uri, "has the host " + Quote(host) + ", which is not a host name");
  }
  return Status();
}

// Checks the one candidate against the RFC 8460 §3 grammar and fills `out->rua`. No value
// contains ';', so splitting on it is exact; the whitespace the grammar allows around each ';'
// sits at the ends of the pieces.
Status ParseCandidate(std::string_view record, TlsRptRecord* out) {
  const std::vector<std::string_view> pieces = Split(record.substr(kVersion.size()), ';');
  if (!TrimWsp(pieces[0]).empty()) {
    return Error("expected ';' after v=TLSRPTv1 in " + Quote(record));
  }
  if (pieces.size() == 1) {
    return Error(Quote(record) + " has nothing after v=TLSRPTv1; rua is required");
  }
  bool have_rua = false;
  std::string wrong_case_rua;
  for (size_t i = 1; i < pieces.size(); ++i) {
    const bool last = i + 1 == pieces.size();
    const std::string_view field = TrimWsp(pieces[i]);
    if (field.empty()) {
      if (last) break;  // the optional trailing delimiter
      return Error("empty field between two ';' in " + Quote(record));
    }
    // Trailing whitespace is part of a delimiter only when a ';' follows it.
    if (last && IsWsp(pieces[i].back())) {
      return Error("whitespace after the last field " + Quote(field) +
                   "; RFC 8460 allows whitespace only around ';' and ','");
    }
    const size_t eq = field.find('=');
    if (eq == std::string_view::npos) return Error("field " + Quote(field) + " is not name=value");
    const std::string_view name = field.substr(0, eq);
    const std::string_view value = field.substr(eq + 1);
    if (!IsFieldName(name)) return Error("field name " + Quote(name) + " is not valid");
    if (name != "rua") {
      if (std::string problem = ExtValueProblem(value); !problem.empty()) {
        return Error("value of field " + Quote(name) + " " + problem);
      }
      if (name.size() == 3 && StartsWithIgnoreCase(name, "rua") && wrong_case_rua.empty()) {
        wrong_case_rua = std::string(name);
      }
      continue;
    }
    if (have_rua) return Error("rua appears twice; RFC 8460 does not say which one senders use");
    have_rua = true;
    // tlsrpt-rua = %s"rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)
    if (value.empty()) return Error("rua is empty");
    for (std::string_view uri : Split(value, ',')) {
      uri = TrimWsp(uri);
      if (Status status = CheckTlsRptUri(uri); !status.ok()) return status;
      out->rua.emplace_back(uri);
    }
  }
  if (!have_rua) {
    std::string message = "no rua field in " + Quote(record);
    if (!wrong_case_rua.empty()) {
      message += " (field names are case-sensitive: " + Quote(wrong_case_rua) + " is not rua)";
    }
    return Error(std::move(message));
  }
  return Status();
}

}  // namespace

Status CheckTlsRptUri(std::string_view uri) {
  if (uri.empty()) return Error("rua: empty URI");
  if (std::string problem = UriCharProblem(uri); !problem.empty()) {
    return UriError(uri, problem);
  }
  if (StartsWithIgnoreCase(uri, "mailto:")) return CheckMailto(uri, uri.substr(7));
  if (StartsWithIgnoreCase(uri, "https:")) return CheckHttps(uri, uri.substr(6));
  return UriError(uri, "is neither mailto: nor https:");
}

TlsRptRecord ParseTlsRptRecords(const std::vector<std::string>& txt_records) {
  TlsRptRecord out;
  std::string_view candidate;
  for (const std::string& record : txt_records) {
    if (StartsWithVersion(record, kVersion)) {
      ++out.candidates;
      candidate = record;
    } else if (ContainsIgnoreCase(record, "TLSRPTv1")) {
      out.notes.push_back("TXT record " + Quote(record) +
                          " ignored: it does not start with v=TLSRPTv1 (case-sensitive)");
    }
  }
  out.present = out.candidates > 0;
  if (!out.present) return out;
  if (out.candidates > 1) {
    // RFC 8460 §3: senders then assume the domain asks for no reports.
    out.error = Error(std::to_string(out.candidates) +
                      " records start with v=TLSRPTv1; exactly one is allowed");
    return out;
  }

  out.error = ParseCandidate(candidate, &out);
  out.valid = out.error.ok();
  if (!out.valid) out.rua.clear();
  return out;
}

}  // namespace mxtls
