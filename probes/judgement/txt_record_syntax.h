// The small lexical pieces of the "v=<version>; name=value; ..." TXT record grammar that the
// MTA-STS record (RFC 8461 §3.1) and the TLS-RPT record (RFC 8460 §3) share, with the ASCII
// helpers their parsers use. Pure, locale-independent functions over bytes.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace mxtls {

// The longest piece of a record, line or value quoted into a message: enough to recognize it
// (the text comes from whoever runs the domain).
inline constexpr size_t kRecordQuoteMax = 120;
// Field names are at most this long (the grammar's "*31" after the first character).
inline constexpr size_t kMaxRecordFieldNameLength = 32;

// ASCII character classes (RFC 5234 core rules).
bool IsDigit(char c);
bool IsAlnum(char c);
bool IsWsp(char c);  // WSP: space or horizontal tab

// ASCII case-insensitive comparisons.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix);
bool ContainsIgnoreCase(std::string_view haystack, std::string_view needle);

// `s` without leading and trailing WSP.
std::string_view TrimWsp(std::string_view s);
// `text` sanitized, cut to kRecordQuoteMax and in double quotes, for messages.
std::string Quote(std::string_view text);
// "0x7F" for a byte in a message.
std::string HexByte(unsigned char c);
// The pieces of `s` between each `sep`, empty ones kept: "a;;b" gives {"a", "", "b"}.
std::vector<std::string_view> Split(std::string_view s, char sep);

// Whether `record` starts with exactly `version` (case-sensitive) followed by the end, ';' or
// WSP: the records senders consider, valid or not.
bool StartsWithVersion(std::string_view record, std::string_view version);
// An extension field name: (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / "."). Every known
// field name fits it.
bool IsFieldName(std::string_view name);
// Why `value` is not an extension value, 1*(%x21-3A / %x3C / %x3E-7E), as a phrase to follow
// the field ("is empty", "contains '='"); empty when it is one.
std::string ExtValueProblem(std::string_view value);

}  // namespace mxtls
