// The open-file limit (RLIMIT_NOFILE) against the concurrency the exporter is configured for:
// every SMTP session, policy fetch, DNS socket and HTTP connection is a file descriptor, and
// running out of them shows up as probes failing at connect with "too many open files".
#pragma once

#include <cstdint>
#include <string>

namespace mxtls {

// What the exporter's concurrency is configured to: the engine's session limit, and per HTTP
// listener (each --web.listen-address has its own) its handler threads and the keep-alive
// connections it parks between requests (HttpLimits::max_idle_connections).
struct DescriptorDemand {
  int max_sessions = 0;
  int handler_threads = 0;
  int listeners = 1;
  uint64_t idle_connections_per_listener = 0;
};

// Descriptors that concurrency can hold at once, with the reasoning in the .cc:
// max_sessions (one socket per SMTP session) + per listener 2 x handler_threads (an HTTP
// connection per handler and, for a /probe it serves, at most one MTA-STS policy fetch in
// flight) and its parked idle connections + kFixedDescriptors (DNS sockets, the event loops'
// epoll and eventfds, files, and HTTP connections queued for a handler).
inline constexpr uint64_t kFixedDescriptors = 128;
uint64_t DescriptorsNeeded(const DescriptorDemand& demand);

struct OpenFileLimit {
  uint64_t soft_before = 0;  // the soft limit the process started with
  uint64_t soft = 0;         // the soft limit now
  uint64_t hard = 0;         // RLIM_INFINITY as UINT64_MAX
  std::string error;         // why raising failed (empty when it worked or was not needed)
};

// Raises the soft RLIMIT_NOFILE to the hard limit, as Go programs do at start (the soft
// default of 1024 is kept by the kernel for programs that use select(); this one does not).
// Never lowers it. Returns the limits in force afterwards.
OpenFileLimit RaiseOpenFileLimit();

// "unlimited" for UINT64_MAX, else the number: for log lines.
std::string OpenFileLimitText(uint64_t limit);

// Logs a warning when `soft` is below DescriptorsNeeded(demand), naming both numbers and the
// settings that produce them; returns whether it warned.
bool WarnIfOpenFileLimitLow(uint64_t soft, const DescriptorDemand& demand);

}  // namespace mxtls
