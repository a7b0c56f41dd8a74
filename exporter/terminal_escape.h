// Makes attacker-controlled text (names from DNS and certificates, server replies) safe to
// print on a terminal: what could move the cursor, recolour, retitle the window, reorder the
// line or break the output's encoding is shown as a visible escape instead of being obeyed.
#pragma once

#include <string>
#include <string_view>

namespace mxtls {

// Returns `text` with every byte sequence that is not printable, valid UTF-8 replaced by a
// visible escape, so that the result holds no control character at all:
//   - C0 controls (including ESC, CR, LF, TAB), DEL and C1 controls (U+0080..U+009F): \xNN
//     for single bytes, \u{NNNN} for C1 code points;
//   - bidirectional overrides and isolates (U+202A..U+202E, U+2066..U+2069) and other
//     invisible format characters that can make a line read differently (U+200B..U+200F,
//     U+2028, U+2029, U+FEFF): \u{NNNN};
//   - bytes that are not part of valid, shortest-form UTF-8 (including encoded surrogates):
//     \xNN, one per byte;
//   - a backslash itself: \\ (so that an escape can never be forged by the text).
// Printable ASCII and valid UTF-8 letters (bücher.example) pass through unchanged.
std::string EscapeForTerminal(std::string_view text);

}  // namespace mxtls
