// Finds the TLS-RPT report in a mail message (RFC 8460 §5.3): the application/tlsrpt+gzip
// or application/tlsrpt+json part of a `multipart/report; report-type=tlsrpt` message, as
// large senders send them, base64 encoded. A pure function over the message's bytes.
//
// A small, strict reader of just what that needs (RFC 2045/2046): header unfolding,
// Content-Type with its parameters, Content-Transfer-Encoding base64 / quoted-printable /
// 7bit / 8bit / binary, nested multiparts. No Debian-packaged C++ MIME library is
// maintained well enough to be a dependency for this (GMime is C and GLib-based; vmime and
// mimetic are not in Debian 12 or unmaintained), and what is needed here is small enough to
// test completely. Bounded: at most kMaxDepth nested multiparts and kMaxParts parts, and the
// decoded report at most `max_bytes`.
//
// Reason words (labels of mxtls_tlsrpt_reports_rejected_total):
//   bad_mime    no report part, or a part that cannot be decoded
//   too_large   the decoded report part is larger than max_bytes
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace mxtls {

struct MimeReportPart {
  std::string body;  // decoded bytes of the part
  bool gzip = false;  // application/tlsrpt+gzip (or application/gzip) rather than JSON
};

constexpr int kMimeMaxDepth = 4;
constexpr int kMimeMaxParts = 64;

// The first report part of `message` (a whole RFC 5322 message, CRLF or LF line ends).
// Parts typed application/tlsrpt+gzip, application/tlsrpt+json, application/gzip,
// application/x-gzip and application/json count as report parts.
Result<MimeReportPart> ExtractTlsRptPart(std::string_view message, size_t max_bytes);

// Strict base64 (RFC 4648 alphabet; line breaks and blanks skipped; '=' only as final
// padding). False on anything else or when the result would exceed max_bytes.
bool DecodeBase64(std::string_view text, size_t max_bytes, std::string* out);

}  // namespace mxtls
