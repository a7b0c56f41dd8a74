// Lower-case hexadecimal text of bytes: certificate fingerprints, TLSA association data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace mxtls {

inline std::string LowerHex(const uint8_t* data, size_t len) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (size_t i = 0; i < len; ++i) {
    out.push_back(kDigits[data[i] >> 4]);
    out.push_back(kDigits[data[i] & 0x0f]);
  }
  return out;
}

}  // namespace mxtls
