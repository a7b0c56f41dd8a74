// The JSON view of `mxtls_exporter check --output=json`: one document
// {"schema_version": 1, "domains": [...]} with the facts and findings of every domain. Its
// JSON Schema is docs/check-output.schema.json; tests validate the output against it, so a
// change here that breaks the schema fails the build's tests, and a change of meaning bumps
// kCheckJsonSchemaVersion.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "common/clock.h"
#include "exporter/check_result.h"

namespace mxtls {

inline constexpr int kCheckJsonSchemaVersion = 1;

nlohmann::json CheckDomainJson(const CheckedDomain& domain);
nlohmann::json CheckRunJson(const CheckRun& run, WallTime generated_at);

// The document as text, indented, with a trailing newline. Invalid UTF-8 from DNS or
// certificates is replaced by U+FFFD (JSON cannot carry raw bytes); control characters are
// escaped by the JSON encoding itself.
std::string RenderCheckJson(const CheckRun& run, WallTime generated_at);

}  // namespace mxtls
