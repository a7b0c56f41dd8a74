// The terminal view of `mxtls_exporter check`: every MX host (preference, CNAME), every
// address, then every check's verdict worst first, with the diagnosis of each failure in an
// expert's words, and the alerts the shipped rules would raise. Every string that comes from
// DNS, a certificate or a server is passed through EscapeForTerminal.
#pragma once

#include <string>

#include "exporter/check_result.h"

namespace mxtls {

struct TextStyle {
  bool color = false;  // ANSI colours for the verdict words and headings
};

// One domain's section, ending with a newline.
std::string RenderCheckText(const CheckedDomain& domain, const TextStyle& style);

// The lines shown once for the whole run, after the domains ("" when there is nothing to say).
std::string RenderRunSummaryText(const CheckRun& run, const TextStyle& style);

// Shown (on stderr and in the text) when outbound port 25 looks blocked.
extern const char kPort25BlockedMessage[];

}  // namespace mxtls
