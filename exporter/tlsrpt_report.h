// SMTP TLS Reporting reports (RFC 8460 §4) as a pure function: the bytes a reporter sent in,
// the counts they hold out. Also the bounded gzip decompression that reports arrive in
// (application/tlsrpt+gzip). No I/O, no clock.
//
// Lenient where real reporters differ from the RFC (their quirks are tested in
// tests/exporter/tlsrpt_report_test.cc): empty strings for unknown addresses and host names,
// optional fields missing, a single policy-string instead of an array, date-times with or
// without fractional seconds, "Z" or an offset, summaries that disagree with the detail
// counts (both are kept as sent). Strict where a report cannot be counted: not JSON, wrong
// types, organization-name, report-id or policies missing, negative counts.
//
// Reason words produced here (stable; they become label values of
// mxtls_tlsrpt_reports_rejected_total):
//   malformed               ParseTlsRptReport
//   bad_gzip                GunzipBounded
//   decompressed_too_large  GunzipBounded
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace mxtls {

// One failure-details entry.
struct TlsRptFailure {
  std::string result_type;  // as sent, lower case
  std::string receiving_mx_hostname;  // lower case, no trailing dot; empty when not sent
  uint64_t failed_session_count = 0;
};

// One entry of "policies": the policy a sender applied to one domain, and how it went.
struct TlsRptPolicyResult {
  std::string policy_type;    // "sts", "tlsa", "no-policy-found", or as sent (lower case)
  std::string policy_domain;  // lower case, no trailing dot
  std::vector<std::string> mx_hosts;  // the policy's "mx-host" patterns, lower case
  uint64_t total_successful_session_count = 0;
  uint64_t total_failure_session_count = 0;
  std::vector<TlsRptFailure> failures;
};

struct TlsRptReceivedReport {
  std::string organization_name;
  std::string contact_info;
  std::string report_id;
  int64_t start_seconds = 0;  // date-range, seconds since the epoch (UTC)
  int64_t end_seconds = 0;
  std::vector<TlsRptPolicyResult> policies;

  // What identifies a report for de-duplication: report ids are unique per reporter only,
  // so the reporter (organization-name, or contact-info when that is empty) is part of it.
  std::string DedupKey() const;
};

// Parses report JSON. Refusals have reason "malformed" and a message naming the field.
Result<TlsRptReceivedReport> ParseTlsRptReport(std::string_view json);

// Decompresses gzip (one or more members, RFC 1952) into at most `max_bytes`. A stream that
// would grow past that is refused ("decompressed_too_large") as soon as it does, so a gzip
// bomb costs at most `max_bytes` of memory; a corrupt or truncated stream is "bad_gzip".
Result<std::string> GunzipBounded(std::string_view compressed, size_t max_bytes);

// True when `bytes` starts with the gzip magic number.
bool LooksGzipped(std::string_view bytes);

// The RFC 8460 §4.3 result type for a label: the type itself when the RFC defines it,
// "other" for anything else (reporters invent types; the label must stay bounded).
std::string NormalizedResultType(std::string_view result_type);

// "sts", "tlsa", "no-policy-found", or "other".
std::string NormalizedPolicyType(std::string_view policy_type);

// Parses an RFC 3339 date-time as reporters write it: "2016-04-01T00:00:00Z",
// "2016-04-01T00:00:00.123Z", "2016-04-01T00:00:00+02:00", or without zone (taken as UTC).
bool ParseReportDateTime(std::string_view text, int64_t* seconds);

}  // namespace mxtls
