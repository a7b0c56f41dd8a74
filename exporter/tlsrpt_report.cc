#include "exporter/tlsrpt_report.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <nlohmann/json.hpp>

namespace mxtls {
namespace {

using json = nlohmann::json;

struct Malformed {
  std::string why;
};

[[noreturn]] void Refuse(const std::string& why) { throw Malformed{why}; }

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string HostName(std::string s) {
  s = Lower(std::move(s));
  while (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

const json* Member(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

std::string RequiredString(const json& obj, const char* key, const std::string& where) {
  const json* v = Member(obj, key);
  if (v == nullptr) Refuse(where + key + ": is required");
  if (!v->is_string()) Refuse(where + key + ": must be a string");
  std::string s = v->get<std::string>();
  if (s.empty()) Refuse(where + key + ": must not be empty");
  return s;
}

// Optional strings: absent, null and "" all mean "not sent" (Microsoft sends "" for
// addresses and host names it does not know).
std::string OptionalString(const json& obj, const char* key, const std::string& where) {
  const json* v = Member(obj, key);
  if (v == nullptr) return "";
  if (!v->is_string()) Refuse(where + key + ": must be a string");
  return v->get<std::string>();
}

// Counts are JSON integers >= 0. Some reporters write them as numbers with ".0"; a whole
// float is taken, a fraction or a negative is not a count.
uint64_t Count(const json& obj, const char* key, const std::string& where, bool required) {
  const json* v = Member(obj, key);
  if (v == nullptr) {
    if (required) Refuse(where + key + ": is required");
    return 0;
  }
  if (v->is_number_unsigned()) return v->get<uint64_t>();
  if (v->is_number_integer()) Refuse(where + key + ": must not be negative");
  if (v->is_number_float()) {
    double d = v->get<double>();
    if (d >= 0 && d < 9.0e15 && d == static_cast<double>(static_cast<uint64_t>(d))) {
      return static_cast<uint64_t>(d);
    }
  }
  Refuse(where + key + ": must be a non-negative integer");
}

TlsRptPolicyResult DecodePolicy(const json& entry, const std::string& where) {
  if (!entry.is_object()) Refuse(where + ": must be an object");
  TlsRptPolicyResult r;
  const json* policy = Member(entry, "policy");
  if (policy == nullptr) Refuse(where + ".policy: is required");
  if (!policy->is_object()) Refuse(where + ".policy: must be an object");
  const std::string pw = where + ".policy.";
  r.policy_type = Lower(RequiredString(*policy, "policy-type", pw));
  r.policy_domain = HostName(RequiredString(*policy, "policy-domain", pw));
  if (r.policy_domain.empty()) Refuse(pw + "policy-domain: must not be empty");
  // "policy-string" is an array of strings in the RFC; some reporters send one string.
  if (const json* ps = Member(*policy, "policy-string")) {
    if (!ps->is_array() && !ps->is_string()) {
      Refuse(pw + "policy-string: must be an array of strings");
    }
  }
  if (const json* mx = Member(*policy, "mx-host")) {
    // An array of patterns per the RFC; a single string is taken as one pattern.
    if (mx->is_string()) {
      r.mx_hosts.push_back(HostName(mx->get<std::string>()));
    } else if (mx->is_array()) {
      for (const json& h : *mx) {
        if (!h.is_string()) Refuse(pw + "mx-host: must be an array of strings");
        r.mx_hosts.push_back(HostName(h.get<std::string>()));
      }
    } else {
      Refuse(pw + "mx-host: must be an array of strings");
    }
  }
  const json* summary = Member(entry, "summary");
  if (summary == nullptr) Refuse(where + ".summary: is required");
  if (!summary->is_object()) Refuse(where + ".summary: must be an object");
  const std::string sw = where + ".summary.";
  r.total_successful_session_count = Count(*summary, "total-successful-session-count", sw, true);
  r.total_failure_session_count = Count(*summary, "total-failure-session-count", sw, true);
  if (const json* details = Member(entry, "failure-details")) {
    if (!details->is_array()) Refuse(where + ".failure-details: must be an array");
    for (size_t i = 0; i < details->size(); ++i) {
      const json& d = (*details)[i];
      const std::string dw = where + ".failure-details[" + std::to_string(i) + "].";
      if (!d.is_object()) Refuse(dw.substr(0, dw.size() - 1) + ": must be an object");
      TlsRptFailure f;
      f.result_type = Lower(RequiredString(d, "result-type", dw));
      f.receiving_mx_hostname = HostName(OptionalString(d, "receiving-mx-hostname", dw));
      // Checked for type only: they are not counted.
      OptionalString(d, "sending-mta-ip", dw);
      OptionalString(d, "receiving-ip", dw);
      OptionalString(d, "receiving-mx-helo", dw);
      OptionalString(d, "additional-information", dw);
      OptionalString(d, "failure-reason-code", dw);
      f.failed_session_count = Count(d, "failed-session-count", dw, true);
      r.failures.push_back(std::move(f));
    }
  }
  return r;
}

int DaysFromCivil(int y, unsigned m, unsigned d) {
  // Howard Hinnant's days_from_civil: no dependence on the process's time zone (timegm
  // would do too, but this is pure and bounded).
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int>(doe) - 719468;
}

bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

}  // namespace

std::string TlsRptReceivedReport::DedupKey() const {
  return (organization_name.empty() ? contact_info : organization_name) + "\n" + report_id;
}

bool ParseReportDateTime(std::string_view s, int64_t* seconds) {
  int y, mo, d, h, mi, se;
  if (!Digits(s, 0, 4, &y) || s.size() < 19 || s[4] != '-' || !Digits(s, 5, 2, &mo) ||
      s[7] != '-' || !Digits(s, 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !Digits(s, 11, 2, &h) || s[13] != ':' || !Digits(s, 14, 2, &mi) || s[16] != ':' ||
      !Digits(s, 17, 2, &se)) {
    return false;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return false;
  size_t pos = 19;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    size_t start = pos;
    while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) ++pos;
    if (pos == start) return false;
  }
  int64_t offset = 0;
  if (pos < s.size()) {
    if ((s[pos] == 'Z' || s[pos] == 'z') && pos + 1 == s.size()) {
      pos = s.size();
    } else if (s[pos] == '+' || s[pos] == '-') {
      int oh, om;
      if (s.size() != pos + 6 || !Digits(s, pos + 1, 2, &oh) || s[pos + 3] != ':' ||
          !Digits(s, pos + 4, 2, &om) || oh > 23 || om > 59) {
        return false;
      }
      offset = (s[pos] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
    } else {
      return false;
    }
  }
  *seconds = static_cast<int64_t>(DaysFromCivil(y, mo, d)) * 86400 + h * 3600 + mi * 60 +
             std::min(se, 59) - offset;
  return true;
}

Result<TlsRptReceivedReport> ParseTlsRptReport(std::string_view text) {
  json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Status::Error("malformed", "not JSON");
  try {
    if (!doc.is_object()) Refuse("the report must be a JSON object");
    TlsRptReceivedReport r;
    r.organization_name = RequiredString(doc, "organization-name", "");
    r.contact_info = OptionalString(doc, "contact-info", "");
    r.report_id = RequiredString(doc, "report-id", "");
    const json* range = Member(doc, "date-range");
    if (range == nullptr) Refuse("date-range: is required");
    if (!range->is_object()) Refuse("date-range: must be an object");
    std::string start = RequiredString(*range, "start-datetime", "date-range.");
    std::string end = RequiredString(*range, "end-datetime", "date-range.");
    if (!ParseReportDateTime(start, &r.start_seconds)) {
      Refuse("date-range.start-datetime: not an RFC 3339 date-time: \"" + start + "\"");
    }
    if (!ParseReportDateTime(end, &r.end_seconds)) {
      Refuse("date-range.end-datetime: not an RFC 3339 date-time: \"" + end + "\"");
    }
    const json* policies = Member(doc, "policies");
    if (policies == nullptr) Refuse("policies: is required");
    if (!policies->is_array()) Refuse("policies: must be an array");
    if (policies->empty()) Refuse("policies: must not be empty");
    for (size_t i = 0; i < policies->size(); ++i) {
      r.policies.push_back(DecodePolicy((*policies)[i], "policies[" + std::to_string(i) + "]"));
    }
    return r;
  } catch (const Malformed& m) {
    return Status::Error("malformed", m.why);
  } catch (const json::exception& e) {
    return Status::Error("malformed", e.what());
  }
}

bool LooksGzipped(std::string_view bytes) {
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
         static_cast<unsigned char>(bytes[1]) == 0x8b;
}

Result<std::string> GunzipBounded(std::string_view compressed, size_t max_bytes) {
  if (!LooksGzipped(compressed)) return Status::Error("bad_gzip", "not gzip data");
  z_stream z{};
  // 16 + MAX_WBITS: gzip framing only (no raw deflate, no zlib header).
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) return Status::Error("bad_gzip", "inflateInit2");
  std::string out;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  z.avail_in = static_cast<uInt>(compressed.size());
  char buf[16384];
  Status error;
  for (;;) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof(buf);
    int rc = inflate(&z, Z_NO_FLUSH);
    size_t got = sizeof(buf) - z.avail_out;
    if (out.size() + got > max_bytes) {
      error = Status::Error("decompressed_too_large",
                            "decompresses to more than " + std::to_string(max_bytes) + " bytes");
      break;
    }
    out.append(buf, got);
    if (rc == Z_STREAM_END) {
      // Concatenated members (gzip -c a b) are one stream to a reader of the file.
      if (z.avail_in == 0) break;
      if (inflateReset(&z) != Z_OK) {
        error = Status::Error("bad_gzip", "cannot read the next gzip member");
        break;
      }
      continue;
    }
    if (rc != Z_OK) {
      error = Status::Error("bad_gzip", rc == Z_BUF_ERROR ? "truncated gzip data"
                                                          : "corrupt gzip data");
      break;
    }
    if (got == 0 && z.avail_in == 0) {
      error = Status::Error("bad_gzip", "truncated gzip data");
      break;
    }
  }
  inflateEnd(&z);
  if (!error.ok()) return error;
  return out;
}

std::string NormalizedResultType(std::string_view type) {
  static const char* const kTypes[] = {
      "starttls-not-supported", "certificate-host-mismatch", "certificate-expired",
      "certificate-not-trusted", "validation-failure",       "tlsa-invalid",
      "dnssec-invalid",          "dane-required",            "sts-policy-fetch-error",
      "sts-policy-invalid",      "sts-webpki-invalid"};
  std::string lower = Lower(std::string(type));
  for (const char* t : kTypes) {
    if (lower == t) return lower;
  }
  return "other";
}

std::string NormalizedPolicyType(std::string_view type) {
  std::string lower = Lower(std::string(type));
  if (lower == "sts" || lower == "tlsa" || lower == "no-policy-found") return lower;
  return "other";
}

}  // namespace mxtls
