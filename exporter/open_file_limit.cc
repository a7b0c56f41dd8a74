#include "exporter/open_file_limit.h"

#include <sys/resource.h>

#include <cerrno>
#include <cstring>

#include "common/log.h"

namespace mxtls {
namespace {

uint64_t FromRlim(rlim_t v) { return v == RLIM_INFINITY ? UINT64_MAX : static_cast<uint64_t>(v); }

}  // namespace

uint64_t DescriptorsNeeded(const DescriptorDemand& d) {
  auto count = [](int n) { return static_cast<uint64_t>(n > 0 ? n : 0); };
  // Sessions: each SMTP session the limiter admits is one TCP socket until it closes (the
  // slot is held until close, detached QUIT included), so max_sessions bounds them.
  // HTTP, per listener: one connection per handler thread while it is served; each /probe
  // runs at most one MTA-STS policy fetch at a time (the fetch is not a limiter session),
  // hence two per handler. Between requests a keep-alive connection holds no thread but still
  // a descriptor, in the listener's parker, which closes any beyond its bound; Prometheus
  // keeps an idle connection per target it scrapes through us, so with thousands of targets
  // these are the larger part. The rest is small and fixed: the listening sockets, the
  // c-ares UDP and TCP sockets of each event loop, epoll and eventfd descriptors, the config
  // and CA files while they are read, stdio, and connections accepted while every handler is
  // busy.
  return count(d.max_sessions) +
         count(d.listeners) * (2 * count(d.handler_threads) + d.idle_connections_per_listener) +
         kFixedDescriptors;
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

bool WarnIfOpenFileLimitLow(uint64_t soft, const DescriptorDemand& demand) {
  const uint64_t needed = DescriptorsNeeded(demand);
  if (soft >= needed) return false;
  log::Warn("open file limit is below what the configured concurrency needs: probes may fail "
            "with too many open files",
            {{"limit", OpenFileLimitText(soft)},
             {"needed", std::to_string(needed)},
             {"max_sessions", std::to_string(demand.max_sessions)},
             {"web_handler_threads", std::to_string(demand.handler_threads)},
             {"listeners", std::to_string(demand.listeners)},
             {"idle_connections_per_listener",
              std::to_string(demand.idle_connections_per_listener)},
             {"hint", "raise LimitNOFILE (systemd) or ulimit -n, or lower engine.max_sessions"}});
  return true;
}

}  // namespace mxtls
