#include "probes/judgement/dns_names.h"

#include <vector>

namespace mxtls {
namespace {

constexpr size_t kMaxNameLength = 253;
constexpr size_t kMaxLabelLength = 63;

bool IsLdhChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

bool IsLdhLabel(std::string_view label) {
  if (label.empty() || label.size() > kMaxLabelLength) return false;
  if (label.front() == '-' || label.back() == '-') return false;
  for (char c : label) {
    if (!IsLdhChar(c)) return false;
  }
  return true;
}

std::string_view StripTrailingDot(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  return name;
}

// Splits on '.', keeping empty labels so that callers can reject them.
std::vector<std::string_view> SplitLabels(std::string_view name) {
  std::vector<std::string_view> labels;
  size_t start = 0;
  while (true) {
    const size_t dot = name.find('.', start);
    if (dot == std::string_view::npos) {
      labels.push_back(name.substr(start));
      return labels;
    }
    labels.push_back(name.substr(start, dot - start));
    start = dot + 1;
  }
}

}  // namespace

std::string NormalizeHostName(std::string_view name) {
  std::string out(StripTrailingDot(name));
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool IsValidHostName(std::string_view name) {
  name = StripTrailingDot(name);
  if (name.empty() || name.size() > kMaxNameLength) return false;
  for (std::string_view label : SplitLabels(name)) {
    if (!IsLdhLabel(label)) return false;
  }
  return true;
}

bool MatchesDnsPattern(std::string_view pattern, std::string_view host) {
  const std::string p = NormalizeHostName(pattern);
  const std::string h = NormalizeHostName(host);
  if (p.empty() || h.empty() || h.find('*') != std::string::npos) return false;

  const std::vector<std::string_view> p_labels = SplitLabels(p);
  const std::vector<std::string_view> h_labels = SplitLabels(h);
  for (std::string_view label : p_labels) {
    if (label.empty()) return false;
  }
  for (std::string_view label : h_labels) {
    if (label.empty()) return false;
  }

  if (p_labels.front() != "*") {
    // No wildcard: a '*' anywhere (partial or not left-most) makes the pattern unusable
    // rather than a literal, as RFC 6125 §6.4.3 leaves such patterns unmatched.
    return p.find('*') == std::string::npos && p == h;
  }
  // "*.com" would cover a whole public suffix: require two labels after the wildcard, as
  // OpenSSL does.
  if (p_labels.size() < 3 || p_labels.size() != h_labels.size()) return false;
  for (size_t i = 1; i < p_labels.size(); ++i) {
    // Like OpenSSL, a wildcard pattern is only a pattern when every other label is an LDH
    // label not starting or ending with '-' ("*.exa_mple.com" matches nothing); this also
    // rejects a second '*'.
    for (char c : p_labels[i]) {
      if (!IsLdhChar(c)) return false;
    }
    if (p_labels[i].front() == '-' || p_labels[i].back() == '-') return false;
    if (p_labels[i] != h_labels[i]) return false;
  }
  // The wildcard covers exactly one label, and (like OpenSSL) only a label of LDH characters.
  for (char c : h_labels.front()) {
    if (!IsLdhChar(c)) return false;
  }
  return true;
}

}  // namespace mxtls
