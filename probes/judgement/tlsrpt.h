// SMTP TLS Reporting (RFC 8460 §3) as a pure function: the TXT record at `_smtp._tls.<domain>`
// that tells senders where to send their daily TLS reports. Text in, facts out; the DNS lookup
// belongs to the caller.
//
// Judged the way a strict sender does: a record the RFC 8460 grammar does not allow is invalid,
// with a message that names the field and what is wrong.
//
// Reason words produced here (stable; they become label values):
//   tlsrpt-invalid   ParseTlsRptRecords
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace mxtls {

// What the TXT records at `_smtp._tls.<domain>` say.
struct TlsRptRecord {
  // At least one record starts with "v=TLSRPTv1". When false the domain asks for no reports:
  // `valid` is false and `error` is OK, since that is a fact and not a fault.
  bool present = false;
  // Exactly one record starts with "v=TLSRPTv1", it follows the grammar and has a usable rua.
  bool valid = false;
  // The report destinations when valid, in record order, as written (whitespace around the
  // commas removed): each a "mailto:" or "https:" URI.
  std::vector<std::string> rua;
  Status error;        // when present && !valid: reason "tlsrpt-invalid"
  int candidates = 0;  // records starting with "v=TLSRPTv1"
  // For people: records a sender skips, e.g. one that mentions TLSRPTv1 but does not start
  // with "v=TLSRPTv1" (the version must be the first field).
  std::vector<std::string> notes;
};

// Judges all TXT strings found at `_smtp._tls.<domain>`, each one record whose
// character-strings are already joined. Order does not matter.
//
// A record is a candidate when it starts with exactly "v=TLSRPTv1" (case-sensitive) followed
// by the end, ';', space or tab; all others are skipped. More than one candidate is invalid.
// The candidate must follow the ABNF of RFC 8460 §3:
//   "v=TLSRPTv1" 1*(*WSP ";" *WSP field) [*WSP ";" *WSP]
// with field names as in MTA-STS (case-sensitive) and unknown fields `name=value` (value: 1 or
// more printable ASCII characters except '=' and ';') ignored. Exactly one `rua` field is
// required: RFC 8460 does not say which of several wins and senders differ, so a repeated rua
// is invalid. Its value is a list of URIs separated by ',' with optional whitespace around
// each ','; each URI is checked by the rules of CheckTlsRptUri.
TlsRptRecord ParseTlsRptRecords(const std::vector<std::string>& txt_records);

// OK when `uri` is a usable rua destination; otherwise reason "tlsrpt-invalid" with a message
// quoting it. The scheme is case-insensitive and must be
//   mailto: followed by local-part "@" host name, optionally "?" and header fields, or
//   https:  followed by "//" host [":" port], then an optional path, query and fragment,
// where the host is an LDH host name (or an IP literal in brackets for https). Only RFC 3986
// URI characters are allowed, '%' must start a %XX escape, and ',' and '!' must be
// percent-encoded (RFC 8460 §3).
Status CheckTlsRptUri(std::string_view uri);

}  // namespace mxtls
