#include "config/domain_name.h"

#include <idn2.h>

#include <cstdlib>
#include <memory>
#include <vector>

namespace mxtls::config {
namespace {

constexpr size_t kMaxNameOctets = 253;  // without the trailing dot (RFC 1035: 255 on the wire)
constexpr size_t kMaxLabelOctets = 63;

// UTS #46 non-transitional processing with NFC input, as libidn2's documentation recommends
// for compatibility with browsers and mail clients. Not IDN2_USE_STD3_ASCII_RULES: libidn2
// 2.3.3 silently drops the characters that rule disallows ("a_b" becomes "ab"), which would
// probe another domain than the one written; the LDH check after conversion refuses them.
constexpr int kIdnaFlags = IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT;

struct FreeDeleter {
  void operator()(char* p) const { std::free(p); }
};
using IdnString = std::unique_ptr<char, FreeDeleter>;

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = s[i];
    size_t n;
    char32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    for (size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return false;
      unsigned char cc = s[i + k];
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and code points past U+10FFFF are not UTF-8.
    static const char32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

// The name or label quoted for an error message: control bytes (and every byte of input that
// is not UTF-8) as \xNN, so a hostile name cannot rewrite a terminal line or a log.
std::string Quote(std::string_view s) {
  bool utf8 = IsValidUtf8(s);
  static const char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7F || (c >= 0x80 && !utf8)) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

char ToLowerAscii(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool StartsWithAcePrefix(std::string_view label) {
  return label.size() >= 4 && ToLowerAscii(label[0]) == 'x' && ToLowerAscii(label[1]) == 'n' &&
         label[2] == '-' && label[3] == '-';
}

// Splits on the label separators of UTS #46 section 2.3: U+002E and the ideographic,
// fullwidth and halfwidth full stops.
std::vector<std::string_view> SplitLabels(std::string_view name) {
  static const std::string_view kWideDots[] = {"\xE3\x80\x82", "\xEF\xBC\x8E", "\xEF\xBD\xA1"};
  std::vector<std::string_view> labels;
  size_t start = 0;
  size_t i = 0;
  while (i < name.size()) {
    size_t sep = 0;
    if (name[i] == '.') {
      sep = 1;
    } else {
      for (std::string_view d : kWideDots) {
        if (name.substr(i, d.size()) == d) sep = d.size();
      }
    }
    if (sep == 0) {
      ++i;
      continue;
    }
    labels.push_back(name.substr(start, i - start));
    i += sep;
    start = i;
  }
  labels.push_back(name.substr(start));
  return labels;
}

// What a libidn2 error code means for the person who wrote the name.
std::string DescribeIdnaError(int rc) {
  switch (rc) {
    case IDN2_ENCODING_ERROR:
      return "is not valid UTF-8";
    case IDN2_NFC:
    case IDN2_NOT_NFC:
      return "cannot be normalised to Unicode NFC";
    case IDN2_PUNYCODE_BAD_INPUT:
    case IDN2_PUNYCODE_OVERFLOW:
    case IDN2_INVALID_ALABEL:
    case IDN2_UALABEL_MISMATCH:
    case IDN2_ALABEL_ROUNDTRIP_FAILED:
      return "is not a valid A-label: its \"xn--\" Punycode does not decode to a valid U-label";
    case IDN2_PUNYCODE_BIG_OUTPUT:
    case IDN2_TOO_BIG_LABEL:
      return "is longer than 63 octets in its A-label form";
    case IDN2_TOO_BIG_DOMAIN:
      return "is longer than 253 octets in its A-label form";
    case IDN2_2HYPHEN:
      return "has hyphens in the third and fourth positions, which IDNA reserves for "
             "\"xn--\" A-labels";
    case IDN2_HYPHEN_STARTEND:
      return "starts or ends with a hyphen";
    case IDN2_LEADING_COMBINING:
      return "starts with a combining mark";
    case IDN2_DISALLOWED:
    case IDN2_UNASSIGNED:
    case IDN2_INVALID_NONTRANSITIONAL:
    case IDN2_INVALID_TRANSITIONAL:
      return "holds a code point that IDNA2008 does not allow in domain names (such as an "
             "emoji, a symbol or an unassigned code point)";
    case IDN2_CONTEXTJ:
    case IDN2_CONTEXTJ_NO_RULE:
      return "holds a zero width joiner or non-joiner where the CONTEXTJ rules of IDNA2008 "
             "(RFC 5892) forbid it";
    case IDN2_CONTEXTO:
    case IDN2_CONTEXTO_NO_RULE:
      return "holds a character whose CONTEXTO rule of IDNA2008 (RFC 5892) is not met";
    case IDN2_BIDI:
      return "mixes right-to-left and left-to-right characters as the bidi rule of IDNA2008 "
             "(RFC 5893) forbids";
    case IDN2_DOT_IN_LABEL:
      return "holds a character that maps to a dot";
    default:
      return std::string("is refused by libidn2 (") + idn2_strerror_name(rc) + ")";
  }
}

Status Invalid(std::string message) { return Status::Error("invalid_domain", std::move(message)); }

// The LDH rule of RFC 1123 on a name in A-label form (lower case, no trailing dot).
Status CheckLdh(std::string_view ascii) {
  if (ascii.empty()) return Invalid("is empty");
  if (ascii.size() > kMaxNameOctets) {
    return Invalid("is " + std::to_string(ascii.size()) + " octets long in its A-label form; " +
                   "a domain name has at most 253");
  }
  for (std::string_view label : SplitLabels(ascii)) {
    if (label.empty()) return Invalid("has an empty label (two dots in a row, or a leading dot)");
    if (label.size() > kMaxLabelOctets) {
      return Invalid("label " + Quote(label) + " is " + std::to_string(label.size()) +
                     " octets long in its A-label form; a label has at most 63");
    }
    for (char c : label) {
      bool ldh = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
      if (!ldh) {
        return Invalid("label " + Quote(label) +
                       " holds characters other than letters, digits and hyphens (a mail domain "
                       "has no underscores, spaces or punctuation)");
      }
    }
    if (label.front() == '-' || label.back() == '-') {
      return Invalid("label " + Quote(label) + " starts or ends with a hyphen");
    }
  }
  return Status();
}

// `name` without one trailing separator ('.' or a wide full stop), if it ends in one.
std::string_view StripTrailingDot(std::string_view name) {
  std::vector<std::string_view> labels = SplitLabels(name);
  if (labels.size() > 1 && labels.back().empty()) {
    size_t sep = name.size() - (labels[labels.size() - 2].data() +
                                labels[labels.size() - 2].size() - name.data());
    return name.substr(0, name.size() - sep);
  }
  return name;
}

}  // namespace

std::string DomainName::Display() const { return DisplayDomain(ascii, unicode); }

std::string DisplayDomain(std::string_view ascii, std::string_view unicode) {
  if (unicode.empty() || unicode == ascii) return std::string(ascii);
  return std::string(unicode) + " (" + std::string(ascii) + ")";
}

Result<DomainName> ParseDomainName(std::string_view input) {
  if (input.empty()) return Invalid("is empty");
  if (input.find('\0') != std::string_view::npos) return Invalid("holds a NUL byte");
  if (!IsValidUtf8(input)) return Invalid("is not valid UTF-8");
  std::string_view name = StripTrailingDot(input);
  if (name.empty()) return Invalid("is the DNS root, not a domain name");

  bool needs_idna = false;
  for (std::string_view label : SplitLabels(name)) {
    if (StartsWithAcePrefix(label)) needs_idna = true;
    for (unsigned char c : label) {
      if (c >= 0x80) needs_idna = true;
    }
  }

  DomainName out;
  if (!needs_idna) {
    // Plain LDH: IDNA would only lower-case it (and refuse "ab--cd", which DNS allows).
    out.ascii.reserve(name.size());
    for (char c : name) out.ascii += ToLowerAscii(c);
    if (Status s = CheckLdh(out.ascii); !s.ok()) return s;
    out.unicode = out.ascii;
    return out;
  }

  std::string owned(name);
  char* raw = nullptr;
  int rc = idn2_to_ascii_8z(owned.c_str(), &raw, kIdnaFlags);
  IdnString ascii(raw);
  if (rc != IDN2_OK) {
    // libidn2 judges the whole name; name the first label that fails alone so the person
    // knows where to look. (A bidi failure can span labels; then no label fails alone.)
    for (std::string_view label : SplitLabels(name)) {
      if (label.empty()) continue;
      std::string one(label);
      char* lraw = nullptr;
      int lrc = idn2_to_ascii_8z(one.c_str(), &lraw, kIdnaFlags);
      IdnString discard(lraw);
      if (lrc != IDN2_OK) return Invalid("label " + Quote(label) + " " + DescribeIdnaError(lrc));
    }
    return Invalid(DescribeIdnaError(rc));
  }
  out.ascii = ascii.get();
  // A trailing wide full stop is a dot only after mapping; strip the one that may remain.
  if (!out.ascii.empty() && out.ascii.back() == '.') out.ascii.pop_back();
  for (char& c : out.ascii) c = ToLowerAscii(c);
  if (Status s = CheckLdh(out.ascii); !s.ok()) return s;

  char* uraw = nullptr;
  rc = idn2_to_unicode_8z8z(out.ascii.c_str(), &uraw, 0);
  IdnString unicode(uraw);
  if (rc != IDN2_OK) return Invalid(DescribeIdnaError(rc));
  out.unicode = unicode.get();
  return out;
}

}  // namespace mxtls::config
