// Runs the built mxtls_exporter binary as a child process for end-to-end tests: writes its
// config to a private temp directory, binds it to an ephemeral loopback port, captures its
// log, and signals, waits for or kills it. Also small helpers for reading exposition text.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace httplib {
class Client;
}

namespace mxtls::testing {

// One running exporter. Construction returns once the exporter has logged the address it
// listens on, and throws std::runtime_error (with the captured log) if that does not happen
// within 10 s. The destructor SIGKILLs a child that is still running, reaps it and removes
// the temp directory. Not thread-safe, except Logs()/LogSize()/WaitForLog(), which any
// thread may call.
class ExporterProcess {
 public:
  // `config_yaml` is written to <tmpdir>/config.yml; the binary runs with
  // --config.file=<that> --web.listen-address=127.0.0.1:0 followed by `extra_args`.
  explicit ExporterProcess(const std::string& config_yaml,
                           const std::vector<std::string>& extra_args = {});
  ~ExporterProcess();
  ExporterProcess(const ExporterProcess&) = delete;
  ExporterProcess& operator=(const ExporterProcess&) = delete;

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::string& config_path() const { return config_path_; }

  // Replaces the config file atomically (write + rename), so that a reload racing with the
  // rewrite sees the old file or the new one, never half of one. Does not trigger a reload.
  void RewriteConfig(const std::string& yaml);

  // Sends `sig` to the child (no-op once it has been reaped).
  void Signal(int sig);

  // Waits up to `timeout` for the child to exit. Returns its exit code, 128 + the signal
  // number if a signal ended it, or -1 if it had to be SIGKILLed because the time ran out.
  int WaitForExit(std::chrono::milliseconds timeout);

  // Everything the child wrote to stderr so far.
  std::string Logs() const;
  // Length of Logs(); pass it as `from` to wait only for lines logged after this point.
  size_t LogSize() const;
  // True once Logs() contains `substr` at or after offset `from`; false after `timeout` or
  // when the child closed stderr without logging it.
  bool WaitForLog(const std::string& substr, std::chrono::milliseconds timeout,
                  size_t from = 0) const;

  // A client for this exporter with the suite's timeouts (connect 5 s, read/write 30 s).
  std::unique_ptr<httplib::Client> NewClient() const;

 private:
  void ReadStderr(int fd);
  void Reap(int status);
  void Cleanup();

  std::string dir_;
  std::string config_path_;
  pid_t pid_ = -1;
  bool reaped_ = false;
  int port_ = 0;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::string logs_;  // guarded by mu_
  bool eof_ = false;  // guarded by mu_
  std::thread reader_;
};

// The result of running the binary to completion (--config.check, --version, bad flags).
struct CommandResult {
  int exit_code = -1;  // as ExporterProcess::WaitForExit
  std::string out;     // stdout
  std::string err;     // stderr
};

// Runs MXTLS_EXPORTER_BINARY with `args` (no implicit flags) and waits up to `timeout` for
// it to exit, SIGKILLing it after that.
CommandResult RunExporter(const std::vector<std::string>& args,
                          std::chrono::milliseconds timeout = std::chrono::seconds(10));

// An httplib client for 127.0.0.1:`port` with the suite's timeouts and keep-alive off.
std::unique_ptr<httplib::Client> NewLoopbackClient(int port);

// The value of the sample written exactly as `name_with_labels` (e.g. `probe_success` or
// `mxtls_x{a="b",c="d"}`, labels in exposition order) in text-format `exposition`; NaN if
// there is no such sample.
double MetricValue(const std::string& exposition, const std::string& name_with_labels);

// True if some sample line (not a # comment) of `exposition` starts with `name_prefix`.
bool HasMetric(const std::string& exposition, const std::string& name_prefix);

}  // namespace mxtls::testing
