#include "probes/judgement/mta_sts.h"

#include <algorithm>
#include <charconv>
#include <set>
#include <utility>

#include "probes/judgement/dns_names.h"
#include "probes/judgement/txt_record_syntax.h"

namespace mxtls {
namespace {

constexpr std::string_view kTxtInvalid = "sts-txt-invalid";
constexpr std::string_view kPolicyInvalid = "sts-policy-invalid";
constexpr std::string_view kStsVersion = "v=STSv1";
constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";
constexpr size_t kMaxIdLength = 32;
constexpr size_t kMaxAgeDigits = 10;

bool IsStsId(std::string_view id) {
  return !id.empty() && id.size() <= kMaxIdLength && std::all_of(id.begin(), id.end(), IsAlnum);
}

Status TxtError(std::string message) {
  return Status::Error(kTxtInvalid, "TXT record at _mta-sts: " + std::move(message));
}

// Checks the one candidate against the §3.1 grammar and fills `out->id`. Splitting on ';' is
// exact because no value may contain one; the whitespace the grammar allows sits around each
// ';' and so at the ends of the pieces.
Status ParseCandidate(std::string_view record, StsTxtRecord* out) {
  const std::vector<std::string_view> pieces = Split(record.substr(kStsVersion.size()), ';');
  if (!TrimWsp(pieces[0]).empty()) {
    return TxtError("expected ';' after v=STSv1 in " + Quote(record));
  }
  if (pieces.size() == 1) {
    return TxtError(Quote(record) + " has nothing after v=STSv1; an id field is required");
  }
  std::string wrong_case_id;
  for (size_t i = 1; i < pieces.size(); ++i) {
    const bool last = i + 1 == pieces.size();
    const std::string_view field = TrimWsp(pieces[i]);
    if (field.empty()) {
      if (last) break;  // the optional trailing delimiter
      return TxtError("empty field between two ';' in " + Quote(record));
    }
    // Trailing whitespace is part of a delimiter only when a ';' follows it.
    if (last && IsWsp(pieces[i].back())) {
      return TxtError("whitespace after the last field " + Quote(field) +
                      "; RFC 8461 allows whitespace only around ';'");
    }
    const size_t eq = field.find('=');
    if (eq == std::string_view::npos) {
      return TxtError("field " + Quote(field) + " is not name=value");
    }
    const std::string_view name = field.substr(0, eq);
    const std::string_view value = field.substr(eq + 1);
    if (!IsFieldName(name)) {
      return TxtError("field name " + Quote(name) + " is not valid");
    }
    if (name == "id" && out->id.empty()) {
      if (!IsStsId(value)) {
        return TxtError("id " + Quote(value) + " is not 1 to 32 letters and digits");
      }
      out->id = std::string(value);
      continue;
    }
    if (std::string problem = ExtValueProblem(value); !problem.empty()) {
      return TxtError("value of field " + Quote(name) + " " + problem);
    }
    if (name == "id") {
      // RFC 8461 §3.2 has parsers ignore all but the first of a repeated field (mx aside), in
      // the paragraph that covers TXT records and policies alike.
      out->notes.push_back("second id " + Quote(value) + " ignored; the first, " + Quote(out->id) +
                           ", is used");
    } else if (EqualsIgnoreCase(name, "id") && wrong_case_id.empty()) {
      wrong_case_id = std::string(name);
    }
  }
  if (out->id.empty()) {
    std::string message = "no id field in " + Quote(record);
    if (!wrong_case_id.empty()) {
      message += " (field names are case-sensitive: " + Quote(wrong_case_id) + " is not id)";
    }
    return TxtError(std::move(message));
  }
  return Status();
}

Status PolicyError(size_t line_no, std::string message) {
  std::string prefix = line_no == 0 ? "policy: " : "policy line " + std::to_string(line_no) + ": ";
  return Status::Error(kPolicyInvalid, prefix + std::move(message));
}

// Length of the well-formed UTF-8 sequence (RFC 3629 UTF8-2/3/4) at the start of `s`, or 0.
size_t Utf8SequenceLength(std::string_view s) {
  auto byte = [&](size_t i) { return i < s.size() ? static_cast<unsigned char>(s[i]) : 0u; };
  auto tail = [&](size_t i) { return byte(i) >= 0x80 && byte(i) <= 0xBF; };
  const unsigned lead = byte(0);
  if (lead >= 0xC2 && lead <= 0xDF) return tail(1) ? 2 : 0;
  if (lead >= 0xE0 && lead <= 0xEF) {
    const unsigned lo = lead == 0xE0 ? 0xA0 : 0x80;  // no overlong forms
    const unsigned hi = lead == 0xED ? 0x9F : 0xBF;  // no surrogates
    return byte(1) >= lo && byte(1) <= hi && tail(2) ? 3 : 0;
  }
  if (lead >= 0xF0 && lead <= 0xF4) {
    const unsigned lo = lead == 0xF0 ? 0x90 : 0x80;
    const unsigned hi = lead == 0xF4 ? 0x8F : 0xBF;  // nothing above U+10FFFF
    return byte(1) >= lo && byte(1) <= hi && tail(2) && tail(3) ? 4 : 0;
  }
  return 0;
}

// Why a trimmed `value` is not an sts-policy-ext-value (printable ASCII or UTF-8, spaces
// inside); empty when it is one. Control characters were rejected for the whole line already.
std::string PolicyValueProblem(std::string_view value) {
  if (value.empty()) return "is empty";
  for (size_t i = 0; i < value.size();) {
    const auto c = static_cast<unsigned char>(value[i]);
    if (c == '\t') return "contains a tab";
    if (c < 0x80) {
      ++i;
      continue;
    }
    const size_t len = Utf8SequenceLength(value.substr(i));
    if (len == 0) return "is not valid UTF-8 (byte " + HexByte(c) + ")";
    i += len;
  }
  return "";
}

// The first control character (other than the tab) in a line, as a problem; empty if none.
// This also catches a CR that is not part of a CRLF line ending.
std::string ControlCharProblem(std::string_view line) {
  for (char ch : line) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == 0) return "contains a NUL byte";
    if ((c < 0x20 && c != '\t') || c == 0x7F) return "contains the control character " + HexByte(c);
  }
  return "";
}

// The fields that may appear once; a repeat is ignored (RFC 8461 §3.2).
struct SingleField {
  std::string_view name;
  size_t first_line = 0;  // 0 while not seen
};

Status ParseVersion(std::string_view value, size_t line_no, StsPolicy* policy) {
  if (value != "STSv1") {
    return PolicyError(line_no, "version " + Quote(value) + " is not STSv1");
  }
  policy->version = std::string(value);
  return Status();
}

Status ParseMode(std::string_view value, size_t line_no, StsPolicy* policy) {
  if (value != "enforce" && value != "testing" && value != "none") {
    return PolicyError(
        line_no, "mode " + Quote(value) + " is not one of enforce, testing, none (case-sensitive)");
  }
  policy->mode = std::string(value);
  return Status();
}

Status ParseMaxAge(std::string_view value, size_t line_no, StsPolicy* policy) {
  // sts-policy-max-age-value = 1*10(DIGIT): no sign, no spaces, no exponent.
  if (value.empty() || value.size() > kMaxAgeDigits ||
      !std::all_of(value.begin(), value.end(), IsDigit)) {
    return PolicyError(line_no, "max_age " + Quote(value) + " is not 1 to 10 digits");
  }
  long long seconds = 0;
  std::from_chars(value.data(), value.data() + value.size(), seconds);  // 10 digits always fit
  if (seconds > kStsMaxAgeLimit) {
    return PolicyError(line_no, "max_age " + std::to_string(seconds) + " is over the maximum " +
                                    std::to_string(kStsMaxAgeLimit));
  }
  policy->max_age = seconds;
  return Status();
}

Status ParsePolicyLine(std::string_view line, size_t line_no, SingleField (&singles)[3],
                       StsPolicy* policy) {
  if (std::string problem = ControlCharProblem(line); !problem.empty()) {
    return PolicyError(line_no, problem);
  }
  if (TrimWsp(line).empty()) {
    // The RFC 8461 grammar has no blank lines, but a stray empty line (often a doubled final
    // newline) is common in real policies and widely deployed senders skip it; calling the
    // policy invalid for it would be an alarm that no sender would agree with.
    policy->notes.push_back("line " + std::to_string(line_no) +
                            ": blank line skipped (not in the RFC 8461 grammar)");
    return Status();
  }
  if (IsWsp(line.front())) {
    return PolicyError(line_no, "starts with whitespace: " + Quote(line));
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) {
    return PolicyError(line_no, "no ':' in " + Quote(line));
  }
  const std::string_view name = line.substr(0, colon);
  if (!IsFieldName(name)) {
    if (!name.empty() && IsWsp(name.back())) {
      return PolicyError(line_no, "whitespace before ':' in " + Quote(line));
    }
    return PolicyError(line_no, "field name " + Quote(name) + " is not valid");
  }
  const std::string_view value = TrimWsp(line.substr(colon + 1));
  if (value.empty()) {
    return PolicyError(line_no, "field " + Quote(name) + " has no value");
  }

  if (name == "mx") {
    if (!IsValidStsMxPattern(value)) {
      return PolicyError(
          line_no, "mx " + Quote(value) + " is neither a host name nor \"*.\" and a host name");
    }
    policy->mx.emplace_back(value);
    return Status();
  }
  for (SingleField& single : singles) {
    if (single.name != name) continue;
    if (single.first_line != 0) {
      // Ignored, but it must still be a syntactically valid field (as an extension would be).
      if (std::string problem = PolicyValueProblem(value); !problem.empty()) {
        return PolicyError(line_no, "value of " + Quote(name) + " " + problem);
      }
      policy->notes.push_back("line " + std::to_string(line_no) + ": repeated " +
                              std::string(name) + " " + Quote(value) + " ignored; line " +
                              std::to_string(single.first_line) + " wins");
      return Status();
    }
    single.first_line = line_no;
    if (name == "version") return ParseVersion(value, line_no, policy);
    if (name == "mode") return ParseMode(value, line_no, policy);
    return ParseMaxAge(value, line_no, policy);
  }
  if (std::string problem = PolicyValueProblem(value); !problem.empty()) {
    return PolicyError(line_no, "value of " + Quote(name) + " " + problem);
  }
  policy->notes.push_back("line " + std::to_string(line_no) + ": unknown field " + Quote(name) +
                          " ignored");
  return Status();
}

}  // namespace

StsTxtRecord ParseStsTxtRecords(const std::vector<std::string>& txt_records) {
  StsTxtRecord out;
  std::string_view candidate;
  for (const std::string& record : txt_records) {
    if (StartsWithVersion(record, kStsVersion)) {
      ++out.candidates;
      candidate = record;
    } else if (ContainsIgnoreCase(record, "STSv1")) {
      // Senders skip it, and so do we, but its author probably meant it as the policy record.
      out.notes.push_back("TXT record " + Quote(record) +
                          " ignored: it does not start with v=STSv1 (case-sensitive)");
    }
  }
  out.present = out.candidates > 0;
  if (!out.present) return out;
  if (out.candidates > 1) {
    // RFC 8461 §3.1: senders then assume there is no policy, so which one is right is moot.
    out.error = TxtError(std::to_string(out.candidates) +
                         " records start with v=STSv1; exactly one is allowed");
    return out;
  }
  out.error = ParseCandidate(candidate, &out);
  out.valid = out.error.ok();
  if (!out.valid) out.id.clear();
  return out;
}

Result<StsPolicy> ParseStsPolicy(std::string_view body) {
  if (body.size() > kStsMaxPolicyBytes) {
    return PolicyError(0, "body is " + std::to_string(body.size()) + " bytes, over the limit of " +
                              std::to_string(kStsMaxPolicyBytes));
  }
  if (body.empty()) return PolicyError(0, "body is empty");
  if (body.starts_with(kUtf8Bom)) {
    // A sender sees "\xEF\xBB\xBFversion" as the first field name, so version goes missing.
    return PolicyError(1, "starts with a UTF-8 byte order mark, which the grammar does not allow");
  }

  StsPolicy policy;
  SingleField singles[3] = {{"version"}, {"mode"}, {"max_age"}};
  size_t pos = 0;
  for (size_t line_no = 1; pos < body.size(); ++line_no) {
    const size_t lf = body.find('\n', pos);
    std::string_view line =
        lf == std::string_view::npos ? body.substr(pos) : body.substr(pos, lf - pos);
    pos = lf == std::string_view::npos ? body.size() : lf + 1;
    if (lf != std::string_view::npos && line.ends_with('\r')) line.remove_suffix(1);
    Status status = ParsePolicyLine(line, line_no, singles, &policy);
    if (!status.ok()) return status;
  }

  for (const SingleField& single : singles) {
    if (single.first_line == 0) {
      return PolicyError(0, "no " + std::string(single.name) + " field");
    }
  }
  // RFC 8461 §3.2: mx is "required at least once, except when mode is 'none'".
  if (policy.mx.empty() && policy.mode != "none") {
    return PolicyError(0, "mode " + policy.mode + " requires at least one mx field");
  }
  return policy;
}

bool IsValidStsMxPattern(std::string_view pattern) {
  // sts-policy-mx-value = ["*."] Domain, with Domain from RFC 5321, which has no trailing dot.
  if (pattern.starts_with("*.")) pattern.remove_prefix(2);
  if (pattern.empty() || pattern.back() == '.') return false;
  return IsValidHostName(pattern);
}

bool IsTextPlainMediaType(std::string_view content_type) {
  // RFC 7231 §3.1.1.1: type "/" subtype *( OWS ";" OWS parameter ), case-insensitive type and
  // subtype, no whitespace around "/". The parameters do not change what the body is.
  const std::string_view media_type = TrimWsp(content_type.substr(0, content_type.find(';')));
  return EqualsIgnoreCase(media_type, "text/plain");
}

bool StsPolicyCoversMx(const StsPolicy& policy, std::string_view mx_host) {
  return std::any_of(policy.mx.begin(), policy.mx.end(), [&](const std::string& pattern) {
    return MatchesDnsPattern(pattern, mx_host);
  });
}

std::vector<std::string> UncoveredMxHosts(const StsPolicy& policy,
                                          const std::vector<std::string>& mx_hosts) {
  std::vector<std::string> uncovered;
  for (const std::string& host : mx_hosts) {
    if (!StsPolicyCoversMx(policy, host)) uncovered.push_back(host);
  }
  return uncovered;
}

std::string PolicyFingerprint(const StsPolicy& policy) {
  // Only what changes a sender's behaviour: mx is a set (§4.1 tries each pattern, order and
  // repeats do not matter), and names compare case-insensitively.
  std::set<std::string> mx;
  for (const std::string& pattern : policy.mx) mx.insert(NormalizeHostName(pattern));
  std::string out = "version=" + policy.version + ";mode=" + policy.mode +
                    ";max_age=" + std::to_string(policy.max_age) + ";mx=";
  bool first = true;
  for (const std::string& pattern : mx) {
    if (!first) out += ',';
    out += pattern;
    first = false;
  }
  return out;
}

}  // namespace mxtls
