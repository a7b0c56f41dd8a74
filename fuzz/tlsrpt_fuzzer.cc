// Fuzz target: the TLS-RPT record parser (probes/judgement/tlsrpt.h). The input, split at NUL bytes, is
// the list of TXT records found at _smtp._tls.<domain> (each one already joined from its
// character-strings, as InterpretTxtAnswer returns them); the whole input is also checked as
// one rua URI.
//
// Checks beyond "no crash":
//   - valid => present, exactly one candidate, OK status and a non-empty rua list whose
//     every entry passes CheckTlsRptUri, starts with mailto: or https: and has no whitespace
//     at its ends;
//   - present && !valid => reason tlsrpt-invalid and an empty rua list;
//   - !present => no candidates, OK status;
//   - messages and notes are printable ASCII (record text is quoted, sanitized).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "probes/judgement/tlsrpt.h"

namespace {

using mxtls_fuzz::IsPrintableAscii;

bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = mxtls_fuzz::AsText(data, size);
  std::vector<std::string> records;
  for (size_t start = 0;;) {
    const size_t nul = text.find('\0', start);
    records.emplace_back(text.substr(start, nul == std::string_view::npos ? nul : nul - start));
    if (nul == std::string_view::npos) break;
    start = nul + 1;
  }

  const mxtls::TlsRptRecord r = mxtls::ParseTlsRptRecords(records);
  FUZZ_CHECK(r.present == (r.candidates > 0));
  FUZZ_CHECK(r.candidates >= 0 && static_cast<size_t>(r.candidates) <= records.size());
  for (const std::string& note : r.notes) FUZZ_CHECK(IsPrintableAscii(note));
  if (!r.present) {
    FUZZ_CHECK(!r.valid && r.error.ok() && r.rua.empty());
  } else if (r.valid) {
    FUZZ_CHECK(r.candidates == 1 && r.error.ok() && !r.rua.empty());
    for (const std::string& uri : r.rua) {
      FUZZ_CHECK(mxtls::CheckTlsRptUri(uri).ok());
      FUZZ_CHECK(StartsWithIgnoreCase(uri, "mailto:") || StartsWithIgnoreCase(uri, "https:"));
      FUZZ_CHECK(!uri.empty() && uri.front() != ' ' && uri.front() != '\t' &&
                 uri.back() != ' ' && uri.back() != '\t');
      FUZZ_CHECK(uri.find_first_of(",; \t") == std::string::npos);
    }
  } else {
    FUZZ_CHECK(r.error.reason() == "tlsrpt-invalid");
    FUZZ_CHECK(IsPrintableAscii(r.error.message()));
    FUZZ_CHECK(r.rua.empty());
  }

  const mxtls::Status uri = mxtls::CheckTlsRptUri(text);
  if (!uri.ok()) {
    FUZZ_CHECK(uri.reason() == "tlsrpt-invalid");
    FUZZ_CHECK(IsPrintableAscii(uri.message()));
  } else {
    FUZZ_CHECK(StartsWithIgnoreCase(text, "mailto:") || StartsWithIgnoreCase(text, "https:"));
  }
  return 0;
}
