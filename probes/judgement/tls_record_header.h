// Whether the first bytes a server sent after the STARTTLS 220 can start a TLS record. Lets
// the endpoint probe tell "the server spoke something else than TLS" (plain text injected
// after the 220, an HTTP error from a confused proxy) from "a TLS handshake that failed",
// whatever TCP segmentation delivered those bytes with.
#pragma once

#include <string_view>

namespace mxtls {

// How many bytes StartsLikeTlsRecord can use: the record header (RFC 8446 §5.1).
inline constexpr size_t kTlsRecordHeaderSize = 5;

// True when `first_bytes` (the first bytes received, possibly fewer than a header, never
// empty when it matters) can be the start of a TLS record a server sends during a handshake:
// content type change_cipher_spec (20), alert (21), handshake (22) or application_data (23),
// then a legacy version with major 3 (SSL 3.0 to TLS 1.3 all put 0x03 there). Only the
// bytes present are judged. Empty input is not a TLS record.
bool StartsLikeTlsRecord(std::string_view first_bytes);

}  // namespace mxtls
