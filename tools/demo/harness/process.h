// Child processes for the end-to-end harness: each real binary (fake apiserver, device plugin,
// hi-scheduler) runs as its own process, logs to a file, and is killed when its owner goes away.
// Children also get SIGKILL from the kernel if the harness process dies (PR_SET_PDEATHSIG), so a
// crashed or aborted test leaves nothing behind. The kernel ties that signal to the *thread* that
// started the child: start children from a thread that lives as long as they should.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace flexai::e2e {

class ChildProcess {
 public:
  // Starts argv[0] with the other arguments; stdout and stderr go to `log_file` (appended, so a
  // restarted process keeps its earlier lines).
  ChildProcess(std::vector<std::string> argv, std::string log_file);
  ~ChildProcess();  // SIGKILL and reap
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  // Sends `signal` (SIGSTOP/SIGCONT too); no effect once the process has exited.
  void Signal(int signal);
  // SIGKILL now and reap.
  void Kill();
  // SIGTERM, then SIGKILL after `grace`; returns the exit code (-1 when killed by a signal).
  int Terminate(std::chrono::milliseconds grace = std::chrono::seconds(5));
  const std::string& log_file() const { return log_file_; }
  // The last `max_bytes` of the log, for failure messages.
  std::string LogTail(size_t max_bytes = 4000) const;
  const std::vector<std::string>& argv() const { return argv_; }

 private:
  std::vector<std::string> argv_;
  std::string log_file_;
  pid_t pid_ = -1;
  int exit_code_ = -1;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
int FreePort();

// A fresh directory under /tmp (short: unix socket paths are limited to ~108 bytes), removed with
// its contents on destruction unless `keep` is set (to look at logs after a failure).
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "fxe2e");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }
  void keep() { keep_ = true; }

 private:
  std::string path_;
  bool keep_ = false;
};

std::string ReadFile(const std::string& path);
void WriteFileAtomically(const std::string& path, const std::string& text);

}  // namespace flexai::e2e
