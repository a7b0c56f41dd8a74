// Turns the facts of a probed domain into verdicts: for each endpoint, would an
// opportunistic sender, an MTA-STS-enforcing sender and a strict sender that sends no SNI
// deliver there, and if not why; for each MX host, whether the MTA-STS policy covers it and
// whether all its addresses present the same certificate. Pure: no network, no clock.
#pragma once

#include "probes/judgement/domain_report.h"

namespace mxtls {

// Fills MxHostReport::sts_covered / cert_consistent and every endpoint's verdicts.
void ComputeVerdicts(DomainReport& report);

// The MTA-STS coverage of an MX host name by a policy's mx patterns (RFC 8461 §4.1:
// a wildcard covers exactly one left-most label and never the bare name).
bool PolicyCoversMx(const std::vector<std::string>& mx_patterns, const std::string& mx_host);

}  // namespace mxtls
