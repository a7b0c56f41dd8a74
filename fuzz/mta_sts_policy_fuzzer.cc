// Fuzz target: the MTA-STS policy parser and the `_mta-sts` TXT record parser
// (probes/judgement/mta_sts.h), plus the media-type and mx-pattern helpers used on the same bytes.
//
// Input: the policy body as served over HTTPS. The same bytes, split at NUL bytes, are also
// read as the list of TXT records found at _mta-sts.<domain> (a NUL never occurs in a valid
// policy, so both views stay meaningful).
//
// Checks beyond "no crash":
//   - a parsed policy has version STSv1, a known mode, 0 <= max_age <= kStsMaxAgeLimit, only
//     valid mx patterns and at least one unless mode is none; it covers every literal mx
//     pattern it lists (in any case, with a trailing dot) and one extra label under each
//     "*.<two or more labels>" pattern; PolicyFingerprint is stable and printable;
//   - a TXT verdict is consistent (valid => present, one candidate, an id of 1-32 letters and
//     digits, OK status; present && !valid => reason sts-txt-invalid);
//   - error messages and notes are printable ASCII (record text is quoted, sanitized).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "probes/judgement/dns_names.h"
#include "probes/judgement/mta_sts.h"

namespace {

using mxtls_fuzz::IsPrintableAscii;

std::vector<std::string> SplitAtNul(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    const size_t nul = text.find('\0', start);
    out.emplace_back(text.substr(start, nul == std::string_view::npos ? nul : nul - start));
    if (nul == std::string_view::npos) return out;
    start = nul + 1;
  }
}

bool IsAlnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

std::string Upper(std::string s) {
  for (char& c : s) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return s;
}

void CheckPolicy(std::string_view body) {
  mxtls::Result<mxtls::StsPolicy> parsed = mxtls::ParseStsPolicy(body);
  if (!parsed.ok()) {
    FUZZ_CHECK(parsed.status().reason() == "sts-policy-invalid");
    FUZZ_CHECK(IsPrintableAscii(parsed.status().message()));
    return;
  }
  const mxtls::StsPolicy& p = *parsed;
  FUZZ_CHECK(p.version == "STSv1");
  FUZZ_CHECK(p.mode == "enforce" || p.mode == "testing" || p.mode == "none");
  FUZZ_CHECK(p.max_age >= 0 && p.max_age <= mxtls::kStsMaxAgeLimit);
  FUZZ_CHECK(!p.mx.empty() || p.mode == "none");
  for (const std::string& note : p.notes) FUZZ_CHECK(IsPrintableAscii(note));

  for (const std::string& pattern : p.mx) FUZZ_CHECK(mxtls::IsValidStsMxPattern(pattern));
  // Coverage checks on the first patterns only: each is a pass over all patterns, and a
  // 64 KiB policy can hold 16000 of them.
  std::vector<std::string> hosts;
  for (size_t i = 0; i < p.mx.size() && i < 16; ++i) {
    const std::string& pattern = p.mx[i];
    if (pattern.rfind("*.", 0) != 0) {
      hosts.push_back(pattern);
      FUZZ_CHECK(mxtls::StsPolicyCoversMx(p, pattern));
      FUZZ_CHECK(mxtls::StsPolicyCoversMx(p, Upper(pattern) + "."));
      continue;
    }
    const std::string base = pattern.substr(2);
    if (std::count(base.begin(), base.end(), '.') >= 1) {
      FUZZ_CHECK(mxtls::StsPolicyCoversMx(p, "mx1." + base));
      hosts.push_back("mx1." + base);
    }
    // The wildcard never covers the base name itself, but another literal pattern may.
    if (!mxtls::StsPolicyCoversMx(p, base)) hosts.push_back(base);
  }
  const std::vector<std::string> uncovered = mxtls::UncoveredMxHosts(p, hosts);
  for (const std::string& h : uncovered) FUZZ_CHECK(!mxtls::StsPolicyCoversMx(p, h));

  const std::string fingerprint = mxtls::PolicyFingerprint(p);
  FUZZ_CHECK(IsPrintableAscii(fingerprint));
  FUZZ_CHECK(fingerprint.rfind("version=STSv1;mode=" + p.mode + ";max_age=", 0) == 0);
  mxtls::StsPolicy reordered = p;
  std::reverse(reordered.mx.begin(), reordered.mx.end());
  reordered.notes.clear();
  FUZZ_CHECK(mxtls::PolicyFingerprint(reordered) == fingerprint);
}

void CheckTxt(const std::vector<std::string>& records) {
  const mxtls::StsTxtRecord r = mxtls::ParseStsTxtRecords(records);
  FUZZ_CHECK(r.present == (r.candidates > 0));
  FUZZ_CHECK(r.candidates >= 0 && static_cast<size_t>(r.candidates) <= records.size());
  for (const std::string& note : r.notes) FUZZ_CHECK(IsPrintableAscii(note));
  if (!r.present) {
    FUZZ_CHECK(!r.valid && r.error.ok() && r.id.empty());
    return;
  }
  if (r.valid) {
    FUZZ_CHECK(r.candidates == 1 && r.error.ok());
    FUZZ_CHECK(!r.id.empty() && r.id.size() <= 32 && std::all_of(r.id.begin(), r.id.end(), IsAlnum));
  } else {
    FUZZ_CHECK(r.error.reason() == "sts-txt-invalid");
    FUZZ_CHECK(IsPrintableAscii(r.error.message()));
    FUZZ_CHECK(r.id.empty());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = mxtls_fuzz::AsText(data, size);
  CheckPolicy(text);
  CheckTxt(SplitAtNul(text));

  // The helpers, on the first line (a Content-Type value, an mx pattern).
  const std::string_view first_line = text.substr(0, text.find_first_of("\r\n"));
  const bool plain = mxtls::IsTextPlainMediaType(first_line);
  if (plain) FUZZ_CHECK(first_line.size() >= 10);
  if (mxtls::IsValidStsMxPattern(first_line)) {
    FUZZ_CHECK(first_line.find_first_of(" \t\r\n") == std::string_view::npos);
    if (first_line.rfind("*.", 0) != 0) {
      FUZZ_CHECK(mxtls::IsValidHostName(first_line));
      FUZZ_CHECK(mxtls::MatchesDnsPattern(first_line, first_line));
    }
  }
  return 0;
}
