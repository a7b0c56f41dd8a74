// Fixtures for the TLS-RPT tests: gzip compression (what reporters send), the sample reports
// in tests/testdata/tlsrpt/, and report JSON built to order.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mxtls::testing {

// gzip (RFC 1952) of `data`, compressed at `level`.
std::string Gzip(std::string_view data, int level = 6);

// The bytes of tests/testdata/tlsrpt/<name>.
std::string TlsRptTestdata(const std::string& name);

// A minimal valid RFC 8460 report: one sts policy for `domain` with the given summary counts
// and one failure-details entry of `failed` sessions typed `result_type` at `mx`.
std::string SimpleTlsRptReport(const std::string& organization, const std::string& report_id,
                               const std::string& domain, uint64_t successful,
                               uint64_t summary_failed, const std::string& result_type,
                               const std::string& mx, uint64_t failed);

// A mail message as large senders send reports: multipart/report; report-type=tlsrpt, a
// text/plain part and the gzip-compressed report as a base64 application/tlsrpt+gzip
// attachment (lines of 76 characters, CRLF line ends).
std::string TlsRptMailMessage(const std::string& report_json, const std::string& domain);

std::string Base64(std::string_view data);

}  // namespace mxtls::testing
