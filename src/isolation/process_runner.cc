#include "isolation/process_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

extern char** environ;

namespace flexai::isolation {
namespace {

// Everything the child needs is built before fork: after fork only async-signal-safe calls.
std::vector<std::string> MergedEnvironment(const std::map<std::string, std::string>& extra,
                                           const std::vector<std::string>& unset) {
  std::vector<std::string> merged;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    std::string name(text.substr(0, text.find('=')));
    bool dropped = std::find(unset.begin(), unset.end(), name) != unset.end();
    if (extra.find(name) == extra.end() && !dropped) merged.emplace_back(text);
  }
  for (const auto& [name, value] : extra) merged.push_back(name + "=" + value);
  return merged;
}

std::vector<char*> Pointers(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (std::string& text : strings) pointers.push_back(text.data());
  pointers.push_back(nullptr);
  return pointers;
}

void CloseBoth(int fds[2]) {
  close(fds[0]);
  close(fds[1]);
}

}  // namespace

Result<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                 const CommandOptions& options) {
  if (argv.empty()) return Error{"no program to run"};
  std::vector<std::string> args = argv;
  std::vector<std::string> env = MergedEnvironment(options.environment, options.unset_environment);
  std::vector<char*> arg_pointers = Pointers(args);
  std::vector<char*> env_pointers = Pointers(env);

  int input[2], output[2];
  if (pipe2(input, O_CLOEXEC) != 0) return Error{std::string("pipe: ") + std::strerror(errno)};
  if (pipe2(output, O_CLOEXEC) != 0) {
    CloseBoth(input);
    return Error{std::string("pipe: ") + std::strerror(errno)};
  }
  int log_fd = -1;
  if (!options.output_path.empty()) {
    log_fd = open(options.output_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) {
      CloseBoth(input);
      CloseBoth(output);
      return Error{"cannot open " + options.output_path + ": " + std::strerror(errno)};
    }
  }
  pid_t pid = fork();
  if (pid == 0) {
    // The daemon blocks SIGINT/SIGTERM for its sigwait and gRPC ignores SIGPIPE; both survive
    // exec, so a child (an MPS control daemon) could not be stopped with kill. Reset them.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    int out = log_fd >= 0 ? log_fd : output[1];
    dup2(input[0], STDIN_FILENO);
    dup2(out, STDOUT_FILENO);
    dup2(out, STDERR_FILENO);
    execvpe(arg_pointers[0], arg_pointers.data(), env_pointers.data());
    _exit(127);
  }
  close(input[0]);
  close(output[1]);
  if (log_fd >= 0) close(log_fd);
  if (pid < 0) {
    close(input[1]);
    close(output[0]);
    return Error{std::string("fork: ") + std::strerror(errno)};
  }
  signal(SIGPIPE, SIG_IGN);  // a program that exits without reading stdin must not kill us
  ssize_t written = write(input[1], options.stdin_text.data(), options.stdin_text.size());
  (void)written;
  close(input[1]);

  CommandResult result;
  auto deadline = std::chrono::steady_clock::now() + options.timeout;
  fcntl(output[0], F_SETFL, O_NONBLOCK);
  char buffer[4096];
  int status = 0;
  while (true) {
    pollfd ready{output[0], POLLIN, 0};
    poll(&ready, 1, 20);
    ssize_t count;
    while ((count = read(output[0], buffer, sizeof(buffer))) > 0)
      result.output.append(buffer, static_cast<std::size_t>(count));
    if (waitpid(pid, &status, WNOHANG) == pid) break;
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      result.timed_out = true;
      break;
    }
  }
  ssize_t count;
  while ((count = read(output[0], buffer, sizeof(buffer))) > 0)
    result.output.append(buffer, static_cast<std::size_t>(count));
  close(output[0]);
  result.exit_code = !result.timed_out && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (result.exit_code == 127 && !result.timed_out) {
    return Error{"cannot run " + argv[0] + " (not found or not executable)"};
  }
  return result;
}

}  // namespace flexai::isolation
