#include "exporter/terminal_escape.h"

#include <cstdint>
#include <cstdio>

namespace mxtls {
namespace {

void AppendByteEscape(std::string* out, unsigned char byte) {
  char buf[5];
  std::snprintf(buf, sizeof buf, "\\x%02x", byte);
  out->append(buf);
}

void AppendCodePointEscape(std::string* out, uint32_t cp) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "\\u{%04x}", static_cast<unsigned>(cp));
  out->append(buf);
}

// Code points that are valid UTF-8 but must not reach a terminal as they are: C1 controls
// (a terminal may take U+009B as CSI) and the invisible characters that reorder or hide text
// (the "Trojan Source" class, CVE-2021-42574).
bool MustEscape(uint32_t cp) {
  if (cp >= 0x80 && cp <= 0x9f) return true;
  if (cp >= 0x200b && cp <= 0x200f) return true;
  if (cp >= 0x202a && cp <= 0x202e) return true;
  if (cp >= 0x2066 && cp <= 0x2069) return true;
  return cp == 0x2028 || cp == 0x2029 || cp == 0xfeff;
}

// Decodes one shortest-form UTF-8 sequence at text[i]. Returns its length and sets *cp, or
// returns 0 when the bytes there are not valid UTF-8 (overlong forms, surrogates, code points
// above U+10FFFF and truncated sequences included).
size_t DecodeUtf8(std::string_view text, size_t i, uint32_t* cp) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char b0 = byte(i);
  size_t len;
  uint32_t min;
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    len = 2, min = 0x80, *cp = b0 & 0x1f;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    len = 3, min = 0x800, *cp = b0 & 0x0f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    len = 4, min = 0x10000, *cp = b0 & 0x07;
  } else {
    return 0;
  }
  if (i + len > text.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    unsigned char b = byte(i + k);
    if ((b & 0xc0) != 0x80) return 0;
    *cp = (*cp << 6) | (b & 0x3f);
  }
  if (*cp < min || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff)) return 0;
  return len;
}

}  // namespace

std::string EscapeForTerminal(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    unsigned char b = static_cast<unsigned char>(text[i]);
    if (b < 0x80) {
      if (b == '\\') {
        out.append("\\\\");
      } else if (b < 0x20 || b == 0x7f) {
        AppendByteEscape(&out, b);
      } else {
        out.push_back(static_cast<char>(b));
      }
      ++i;
      continue;
    }
    uint32_t cp = 0;
    size_t len = DecodeUtf8(text, i, &cp);
    if (len == 0) {
      AppendByteEscape(&out, b);
      ++i;
    } else if (MustEscape(cp)) {
      AppendCodePointEscape(&out, cp);
      i += len;
    } else {
      out.append(text.substr(i, len));
      i += len;
    }
  }
  return out;
}

}  // namespace mxtls
