#include "tests/support/exporter_process.h"

#include <fcntl.h>
#include <httplib.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace mxtls::testing {
namespace {

constexpr auto kStartTimeout = std::chrono::seconds(10);

// Like cert_factory: a failure here is a broken test environment, so it throws and Catch2
// reports the message.
[[noreturn]] void Fail(const std::string& what) {
  throw std::runtime_error("exporter_process: " + what);
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) Fail("cannot write " + path);
}

int DecodeWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Forks and execs the binary with `args` (argv[0] is added here). The child's stderr goes to
// `stderr_fd` and its stdout to `stdout_fd` (-1: inherited). Both descriptors, like every
// pipe this file creates, are close-on-exec, so one child never holds another's pipe open.
pid_t Spawn(const std::vector<std::string>& args, int stdout_fd, int stderr_fd) {
  // Everything the child needs is prepared before fork(): after it, the child of a
  // multi-threaded process may only make async-signal-safe calls.
  std::vector<std::string> all = {MXTLS_EXPORTER_BINARY};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  sigset_t none;
  sigemptyset(&none);

  pid_t pid = fork();
  if (pid < 0) Fail(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    // Never outlive a test binary that crashed.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (stdout_fd >= 0) dup2(stdout_fd, STDOUT_FILENO);
    dup2(stderr_fd, STDERR_FILENO);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

}  // namespace

ExporterProcess::ExporterProcess(const std::string& config_yaml,
                                 const std::vector<std::string>& extra_args) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "mxtls_http_test.XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) Fail(std::string("mkdtemp: ") + std::strerror(errno));
  dir_ = tmpl;
  config_path_ = dir_ + "/config.yml";
  int fds[2];
  try {
    WriteFile(config_path_, config_yaml);
    if (pipe2(fds, O_CLOEXEC) != 0) Fail(std::string("pipe2: ") + std::strerror(errno));
  } catch (...) {
    Cleanup();
    throw;
  }

  std::vector<std::string> args = {"--config.file=" + config_path_,
                                   "--web.listen-address=127.0.0.1:0"};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  try {
    pid_ = Spawn(args, -1, fds[1]);
  } catch (...) {
    close(fds[0]);
    close(fds[1]);
    Cleanup();
    throw;
  }
  close(fds[1]);
  reader_ = std::thread([this, fd = fds[0]] { ReadStderr(fd); });

  // The port is in the first "listening" line:
  //   ts=... level=info msg=listening address=127.0.0.1:41219
  std::string line;
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, kStartTimeout, [this, &line] {
      size_t at = logs_.find("msg=listening ");
      if (at != std::string::npos) {
        size_t begin = logs_.rfind('\n', at);
        size_t end = logs_.find('\n', at);
        if (end != std::string::npos) {
          begin = begin == std::string::npos ? 0 : begin + 1;
          line = logs_.substr(begin, end - begin);
          return true;
        }
      }
      return eof_;
    });
  }
  size_t address = line.find(" address=");
  if (address != std::string::npos) {
    std::string value = line.substr(address + 9);
    value = value.substr(0, value.find(' '));
    size_t colon = value.rfind(':');
    if (colon != std::string::npos) port_ = std::atoi(value.c_str() + colon + 1);
  }
  if (port_ <= 0) {
    std::string why = line.empty() ? "did not log \"msg=listening\" within 10 s"
                                   : "logged no port in \"" + line + "\"";
    Cleanup();
    Fail("mxtls_exporter " + why + "; its log:\n" + Logs());
  }
}

ExporterProcess::~ExporterProcess() { Cleanup(); }

void ExporterProcess::Cleanup() {
  if (pid_ > 0 && !reaped_) {
    kill(pid_, SIGKILL);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
  }
  // The pipe reaches EOF once the child is gone.
  if (reader_.joinable()) reader_.join();
  if (!dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

void ExporterProcess::ReadStderr(int fd) {
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    std::lock_guard<std::mutex> lock(mu_);
    if (n <= 0) {
      eof_ = true;
      cv_.notify_all();
      break;
    }
    logs_.append(buf, static_cast<size_t>(n));
    cv_.notify_all();
  }
  close(fd);
}

void ExporterProcess::RewriteConfig(const std::string& yaml) {
  std::string tmp = config_path_ + ".tmp";
  WriteFile(tmp, yaml);
  if (std::rename(tmp.c_str(), config_path_.c_str()) != 0) {
    Fail("rename " + tmp + ": " + std::strerror(errno));
  }
}

void ExporterProcess::Signal(int sig) {
  if (pid_ > 0 && !reaped_) kill(pid_, sig);
}

int ExporterProcess::WaitForExit(std::chrono::milliseconds timeout) {
  if (reaped_) Fail("WaitForExit called twice");
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  for (;;) {
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      return DecodeWaitStatus(status);
    }
    if (r < 0 && errno != EINTR) Fail(std::string("waitpid: ") + std::strerror(errno));
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid_, SIGKILL);
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  return -1;
}

std::string ExporterProcess::Logs() const {
  std::lock_guard<std::mutex> lock(mu_);
  return logs_;
}

size_t ExporterProcess::LogSize() const {
  std::lock_guard<std::mutex> lock(mu_);
  return logs_.size();
}

bool ExporterProcess::WaitForLog(const std::string& substr, std::chrono::milliseconds timeout,
                                 size_t from) const {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] {
    return logs_.find(substr, from) != std::string::npos || eof_;
  }) && logs_.find(substr, from) != std::string::npos;
}

std::unique_ptr<httplib::Client> ExporterProcess::NewClient() const {
  return NewLoopbackClient(port_);
}

CommandResult RunExporter(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0) Fail(std::string("pipe2: ") + std::strerror(errno));
  if (pipe2(err, O_CLOEXEC) != 0) {
    close(out[0]);
    close(out[1]);
    Fail(std::string("pipe2: ") + std::strerror(errno));
  }
  pid_t pid;
  try {
    pid = Spawn(args, out[1], err[1]);
  } catch (...) {
    for (int fd : {out[0], out[1], err[0], err[1]}) close(fd);
    throw;
  }
  close(out[1]);
  close(err[1]);

  CommandResult result;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool killed = false;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open = 2;
  while (open > 0) {
    int wait_ms = -1;
    if (!killed) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      wait_ms = static_cast<int>(std::max<long long>(0, left.count()));
    }
    int n = poll(fds, 2, wait_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 && !killed) {
      // Out of time: kill it; the pipes then reach EOF and the loop ends.
      kill(pid, SIGKILL);
      killed = true;
      continue;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buf[4096];
      ssize_t r = read(fds[i].fd, buf, sizeof(buf));
      if (r > 0) {
        sinks[i]->append(buf, static_cast<size_t>(r));
      } else if (r == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open;
      }
    }
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = killed ? -1 : DecodeWaitStatus(status);
  return result;
}

std::unique_ptr<httplib::Client> NewLoopbackClient(int port) {
  auto client = std::make_unique<httplib::Client>("127.0.0.1", port);
  client->set_connection_timeout(5, 0);
  client->set_read_timeout(30, 0);
  client->set_write_timeout(30, 0);
  client->set_keep_alive(false);
  return client;
}

double MetricValue(const std::string& exposition, const std::string& name_with_labels) {
  std::istringstream lines(exposition);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line.size() > name_with_labels.size() && line[name_with_labels.size()] == ' ' &&
        line.compare(0, name_with_labels.size(), name_with_labels) == 0) {
      // strtod reads the exposition's "+Inf", "-Inf" and "NaN" too; a timestamp may follow.
      const char* value = line.c_str() + name_with_labels.size() + 1;
      char* end = nullptr;
      double v = std::strtod(value, &end);
      if (end == value) return std::numeric_limits<double>::quiet_NaN();
      return v;
    }
  }
  return std::numeric_limits<double>::quiet_NaN();
}

bool HasMetric(const std::string& exposition, const std::string& name_prefix) {
  std::istringstream lines(exposition);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty() && line[0] != '#' && line.rfind(name_prefix, 0) == 0) return true;
  }
  return false;
}

}  // namespace mxtls::testing
