#include "probes/judgement/greeting_host.h"

namespace mxtls {

std::string GreetingHost(const SmtpReply& greeting) {
  if (greeting.lines.empty()) return "";
  const std::string& first = greeting.lines.front();
  // Words are separated by spaces; a tab is not SMTP syntax but some servers send one.
  size_t start = first.find_first_not_of(" \t");
  if (start == std::string::npos) return "";
  size_t end = first.find_first_of(" \t", start);
  std::string host;
  for (size_t i = start; i < (end == std::string::npos ? first.size() : end); ++i) {
    unsigned char c = static_cast<unsigned char>(first[i]);
    // Dropped rather than escaped: this is a value to compare and show, not server text to
    // quote, and an escape sequence would make it look like a different name.
    if (c < 0x21 || c > 0x7e) continue;
    if (host.size() == kGreetingHostMax) break;
    host += static_cast<char>(c);
  }
  return host;
}

}  // namespace mxtls
