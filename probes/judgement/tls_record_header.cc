#include "probes/judgement/tls_record_header.h"

namespace mxtls {

bool StartsLikeTlsRecord(std::string_view first_bytes) {
  if (first_bytes.empty()) return false;
  unsigned char type = static_cast<unsigned char>(first_bytes[0]);
  // Heartbeat (24) is never the first thing a server sends, and OpenSSL does not speak it.
  if (type < 20 || type > 23) return false;
  if (first_bytes.size() >= 2 && static_cast<unsigned char>(first_bytes[1]) != 3) return false;
  return true;
}

}  // namespace mxtls
