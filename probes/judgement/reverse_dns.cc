#include "probes/judgement/reverse_dns.h"

#include <arpa/inet.h>

#include <algorithm>

namespace mxtls {

Result<std::string> ReverseLookupName(std::string_view address) {
  std::string text(address);
  uint8_t bytes[16];
  std::string out;
  if (inet_pton(AF_INET, text.c_str(), bytes) == 1) {
    for (int i = 3; i >= 0; --i) out += std::to_string(bytes[i]) + ".";
    return out + "in-addr.arpa";
  }
  if (inet_pton(AF_INET6, text.c_str(), bytes) == 1) {
    static constexpr char kHex[] = "0123456789abcdef";
    // Least significant nibble first: the low nibble of the last byte leads.
    for (int i = 15; i >= 0; --i) {
      out += kHex[bytes[i] & 0x0F];
      out += '.';
      out += kHex[bytes[i] >> 4];
      out += '.';
    }
    return out + "ip6.arpa";
  }
  return Status::Error("dns_error", "not an IP address: \"" + text + "\"");
}

std::string CanonicalAddress(std::string_view address) {
  std::string text(address);
  uint8_t bytes[16];
  char canonical[INET6_ADDRSTRLEN];
  for (int family : {AF_INET, AF_INET6}) {
    if (inet_pton(family, text.c_str(), bytes) == 1 &&
        inet_ntop(family, bytes, canonical, sizeof(canonical)) != nullptr) {
      return canonical;
    }
  }
  return "";
}

ReverseDnsReport JudgeReverseDns(
    std::string_view address, std::string_view mx_host, const std::vector<std::string>& ptr_names,
    const std::map<std::string, std::vector<std::string>>& forward_addresses,
    std::string_view error) {
  ReverseDnsReport report;
  report.checked = true;
  report.error = std::string(error);
  const std::string self = CanonicalAddress(address);
  const std::string mx = NormalizeQueryName(mx_host);

  // The map's keys may be spelt differently from the PTR names (case, trailing dot).
  std::map<std::string, std::vector<std::string>> forward;
  for (const auto& [name, addresses] : forward_addresses) {
    std::vector<std::string>& into = forward[NormalizeQueryName(name)];
    into.insert(into.end(), addresses.begin(), addresses.end());
  }

  for (const std::string& raw_name : ptr_names) {
    std::string name = NormalizeQueryName(raw_name);
    if (name.empty()) continue;
    if (std::find(report.ptr_names.begin(), report.ptr_names.end(), name) !=
        report.ptr_names.end()) {
      continue;
    }
    report.ptr_names.push_back(name);
    if (!mx.empty() && name == mx) report.matches_mx = true;
    auto it = forward.find(name);
    // An address that is not one (self == "") confirms nothing, even against garbage.
    if (it == forward.end() || self.empty()) continue;
    for (const std::string& a : it->second) {
      if (CanonicalAddress(a) == self) report.forward_confirmed = true;
    }
  }
  return report;
}

}  // namespace mxtls
