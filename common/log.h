// Process-wide structured logging in logfmt (the Prometheus ecosystem default) or JSON.
// Thread-safe; writes one line per call to stderr (or a sink set by tests).
#pragma once

#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace mxtls::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class Format { kLogfmt, kJson };

using Field = std::pair<std::string_view, std::string>;

// Parses "debug" | "info" | "warn" | "error". Returns false on anything else.
bool ParseLevel(std::string_view text, Level* level);
// Parses "logfmt" | "json".
bool ParseFormat(std::string_view text, Format* format);

void SetLevel(Level level);
void SetFormat(Format format);
// Replaces stderr as the destination (tests). Pass nullptr to restore stderr.
void SetSink(std::function<void(const std::string& line)> sink);

bool Enabled(Level level);
void Write(Level level, std::string_view msg, std::initializer_list<Field> fields = {});

inline void Debug(std::string_view msg, std::initializer_list<Field> f = {}) {
  Write(Level::kDebug, msg, f);
}
inline void Info(std::string_view msg, std::initializer_list<Field> f = {}) {
  Write(Level::kInfo, msg, f);
}
inline void Warn(std::string_view msg, std::initializer_list<Field> f = {}) {
  Write(Level::kWarn, msg, f);
}
inline void Error(std::string_view msg, std::initializer_list<Field> f = {}) {
  Write(Level::kError, msg, f);
}

// Quotes a value for logfmt when it needs quoting (spaces, '=', '"', control characters).
std::string LogfmtValue(std::string_view value);
// Escapes a string for inclusion inside JSON double quotes.
std::string JsonEscape(std::string_view value);

}  // namespace mxtls::log
