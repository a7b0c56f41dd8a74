// Helpers shared by the fuzz targets in this directory: an always-on check that turns a
// broken invariant into a crash libFuzzer records (like a sanitizer report), and the
// printable-ASCII test used on every message that may reach a log.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

// Unlike assert(), never compiled out. The message names the broken invariant so that a
// crash file in fuzz/crashes/ can be read without a debugger.
#define FUZZ_CHECK(cond)                                                                   \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      std::fprintf(stderr, "FUZZ_CHECK failed: %s\n  at %s:%d\n", #cond, __FILE__,         \
                   __LINE__);                                                              \
      std::abort();                                                                        \
    }                                                                                      \
  } while (0)

namespace mxtls_fuzz {

// True when every byte is printable ASCII (0x20-0x7E). Status messages built from network
// text must pass it: the parsers promise to quote server text through SanitizeServerText.
inline bool IsPrintableAscii(std::string_view s) {
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

// Semantic checks (beyond memory safety and the basic contract) have names, so that one whose
// finding is known and not fixed yet can be switched off while fuzzing for others:
//   MXTLS_FUZZ_SKIP=smtp_reason_stable,san_match_diff bash fuzz/run.sh 300
// fuzz/README.md lists the names.
inline bool CheckEnabled(std::string_view name) {
  static const std::string skip = [] {
    const char* env = std::getenv("MXTLS_FUZZ_SKIP");
    return "," + std::string(env != nullptr ? env : "") + ",";
  }();
  return skip.find("," + std::string(name) + ",") == std::string::npos;
}

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return std::string_view(reinterpret_cast<const char*>(data), size);
}

}  // namespace mxtls_fuzz
