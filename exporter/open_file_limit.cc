#include "exporter/open_file_limit.h"

#include <sys/resource.h>

#include <cerrno>
#include <cstring>

#include "common/log.h"

namespace mxtls {
namespace {

uint64_t FromRlim(rlim_t v) { return v == RLIM_INFINITY ? UINT64_MAX : static_cast<uint64_t>(v); }

}  // namespace

uint64_t DescriptorsNeeded(int max_sessions, int handler_threads) {
  // Sessions: each SMTP session the limiter admits is one TCP socket until it closes (the
  // slot is held until close, detached QUIT included), so max_sessions bounds them.
  // HTTP: cpp-httplib serves one connection per handler thread; each /probe it serves runs at
  // most one MTA-STS policy fetch at a time (the fetch is not a limiter session), hence two
  // per handler. The rest is small and fixed: the listening sockets, the c-ares UDP and TCP
  // sockets of each event loop, epoll and eventfd descriptors, the config and CA files while
  // they are read, stdio, and connections accepted while every handler is busy.
  return static_cast<uint64_t>(max_sessions > 0 ? max_sessions : 0) +
         2 * static_cast<uint64_t>(handler_threads > 0 ? handler_threads : 0) + kFixedDescriptors;
}

OpenFileLimit RaiseOpenFileLimit() {
  OpenFileLimit out;
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) {
    out.error = std::string("getrlimit: ") + std::strerror(errno);
    return out;
  }
  out.soft_before = out.soft = FromRlim(lim.rlim_cur);
  out.hard = FromRlim(lim.rlim_max);
  if (lim.rlim_cur == lim.rlim_max) return out;
  rlimit raised = lim;
  raised.rlim_cur = lim.rlim_max;
  // An unlimited hard limit is still capped by fs.nr_open, and setrlimit refuses more: keep
  // what we have then (the warning below says whether it is enough).
  if (setrlimit(RLIMIT_NOFILE, &raised) != 0) {
    out.error = std::string("setrlimit: ") + std::strerror(errno);
    return out;
  }
  out.soft = out.hard;
  return out;
}

std::string OpenFileLimitText(uint64_t limit) {
  return limit == UINT64_MAX ? "unlimited" : std::to_string(limit);
}

bool WarnIfOpenFileLimitLow(uint64_t soft, int max_sessions, int handler_threads) {
  const uint64_t needed = DescriptorsNeeded(max_sessions, handler_threads);
  if (soft >= needed) return false;
  log::Warn("open file limit is below what the configured concurrency needs: probes may fail "
            "with too many open files",
            {{"limit", OpenFileLimitText(soft)},
             {"needed", std::to_string(needed)},
             {"max_sessions", std::to_string(max_sessions)},
             {"web_handler_threads", std::to_string(handler_threads)},
             {"hint", "raise LimitNOFILE (systemd) or ulimit -n, or lower engine.max_sessions"}});
  return true;
}

}  // namespace mxtls
