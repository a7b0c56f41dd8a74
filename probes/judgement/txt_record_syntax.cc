#include "probes/judgement/txt_record_syntax.h"

#include <algorithm>

#include "probes/judgement/smtp_reply.h"

namespace mxtls {
namespace {

bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Not std::tolower: record text is ASCII by grammar, and the locale must not matter.
char ToLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlnum(char c) { return IsAlpha(c) || IsDigit(c); }
bool IsWsp(char c) { return c == ' ' || c == '\t'; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && StartsWithIgnoreCase(a, b);
}

bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (ToLower(s[i]) != ToLower(prefix[i])) return false;
  }
  return true;
}

bool ContainsIgnoreCase(std::string_view haystack, std::string_view needle) {
  for (size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
    if (StartsWithIgnoreCase(haystack.substr(i), needle)) return true;
  }
  return false;
}

std::string_view TrimWsp(std::string_view s) {
  while (!s.empty() && IsWsp(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsWsp(s.back())) s.remove_suffix(1);
  return s;
}

std::string Quote(std::string_view text) {
  return "\"" + SanitizeServerText(text, kRecordQuoteMax) + "\"";
}

std::string HexByte(unsigned char c) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  return std::string("0x") + kHex[c >> 4] + kHex[c & 0xF];
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t at = s.find(sep, start);
    if (at == std::string_view::npos) {
      parts.push_back(s.substr(start));
      return parts;
    }
    parts.push_back(s.substr(start, at - start));
    start = at + 1;
  }
}

bool StartsWithVersion(std::string_view record, std::string_view version) {
  if (!record.starts_with(version)) return false;
  if (record.size() == version.size()) return true;
  const char next = record[version.size()];
  return next == ';' || IsWsp(next);
}

bool IsFieldName(std::string_view name) {
  if (name.empty() || name.size() > kMaxRecordFieldNameLength || !IsAlnum(name.front())) {
    return false;
  }
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return IsAlnum(c) || c == '_' || c == '-' || c == '.'; });
}

std::string ExtValueProblem(std::string_view value) {
  if (value.empty()) return "is empty";
  for (char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == ' ' || c == '\t') return "contains whitespace";
    if (c == '=') return "contains '='";
    if (c < 0x21 || c > 0x7E) return "contains the byte " + HexByte(c);
  }
  return "";
}

}  // namespace mxtls
