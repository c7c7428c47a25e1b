#include "isolation/mps_supervisor.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "isolation/process_runner.h"

namespace flexai::isolation {
namespace {

constexpr int kStartProbes = 50;  // the daemon gets this many 100 ms tries to answer after -d
// After a failed restart the next waits this long, doubling up to the maximum.
constexpr std::chrono::milliseconds kRestartBackoffFirst{5000};
constexpr std::chrono::milliseconds kRestartBackoffMax{300000};

}  // namespace

const char* MpsDaemonStateName(MpsDaemonState state) {
  switch (state) {
    case MpsDaemonState::kStopped:
      return "stopped";
    case MpsDaemonState::kRunning:
      return "running";
    case MpsDaemonState::kFailed:
      return "failed";
  }
  return "unknown";
}

MpsSupervisor::MpsSupervisor(MpsSupervisorOptions options, std::vector<std::string> gpus)
    : options_(std::move(options)) {
  for (std::string& gpu : gpus) {
    Daemon daemon;
    daemon.status.gpu = gpu;
    std::string root = options_.base_dir + "/" + gpu;
    daemon.status.pipe_dir = root + "/pipe";
    daemon.status.log_dir = root + "/log";
    daemons_.push_back(std::move(daemon));
  }
  std::lock_guard lock(mutex_);
  PublishLocked();
}

void MpsSupervisor::PublishLocked() {
  std::vector<MpsDaemonStatus> statuses;
  for (const Daemon& daemon : daemons_) statuses.push_back(daemon.status);
  std::lock_guard lock(published_mutex_);
  published_ = std::move(statuses);
}

CommandOptions MpsSupervisor::DaemonCommand(const Daemon& daemon, std::string stdin_text,
                                            std::string output_path) const {
  CommandOptions command;
  command.environment = DaemonEnvironment(daemon);
  if (daemon.status.gpu == kAllGpus) command.unset_environment = {"CUDA_VISIBLE_DEVICES"};
  command.stdin_text = std::move(stdin_text);
  command.output_path = std::move(output_path);
  command.timeout = options_.command_timeout;
  return command;
}

std::map<std::string, std::string> MpsSupervisor::DaemonEnvironment(const Daemon& daemon) const {
  std::map<std::string, std::string> env = options_.extra_environment;
  // One daemon serves exactly the GPUs named (a UUID, an index, or a comma list); "all" leaves
  // the choice to the driver, for one node-wide daemon that multi-GPU containers can share.
  if (daemon.status.gpu != kAllGpus) env["CUDA_VISIBLE_DEVICES"] = daemon.status.gpu;
  env["CUDA_MPS_PIPE_DIRECTORY"] = daemon.status.pipe_dir;
  env["CUDA_MPS_LOG_DIRECTORY"] = daemon.status.log_dir;
  return env;
}

// A live control daemon answers `get_server_list` with exit status 0; a hung one not in time.
MpsSupervisor::Answer MpsSupervisor::Answers(const Daemon& daemon) const {
  CommandOptions command = DaemonCommand(daemon, "get_server_list\n", "");
  Result<CommandResult> result = RunCommand({options_.control_binary}, command);
  if (result.ok() && result->timed_out) return Answer::kHung;
  return result.ok() && result->exit_code == 0 ? Answer::kYes : Answer::kNo;
}

Status MpsSupervisor::WatchLocked(Daemon& daemon) {
  daemon.wanted = true;
  const MpsDaemonState before = daemon.status.state;
  const Answer answer = Answers(daemon);
  if (answer == Answer::kYes) {
    if (before == MpsDaemonState::kFailed) {
      spdlog::info("MPS control daemon for GPU {} answers again", daemon.status.gpu);
    }
    daemon.status.state = MpsDaemonState::kRunning;
    daemon.status.last_error.clear();
    return Status::Ok();
  }
  daemon.status.state = MpsDaemonState::kFailed;
  daemon.status.last_error =
      "no MPS control daemon for GPU " + daemon.status.gpu + " answers on " +
      daemon.status.pipe_dir + (answer == Answer::kHung ? " (it hangs)" : "") +
      "; they are run by another process here (the mps-control container: is it running?)";
  if (before != MpsDaemonState::kFailed) spdlog::warn("{}", daemon.status.last_error);
  return Error{daemon.status.last_error};
}

Status MpsSupervisor::StartLocked(Daemon& daemon) {
  if (!options_.run_daemons) return WatchLocked(daemon);
  daemon.wanted = true;
  const Answer answer = Answers(daemon);
  if (answer == Answer::kYes) {
    daemon.status.state = MpsDaemonState::kRunning;
    daemon.status.last_error.clear();
    return Status::Ok();
  }
  if (answer == Answer::kHung) {
    // A second daemon on the same pipe directory would only fight the hung one.
    daemon.status.state = MpsDaemonState::kFailed;
    daemon.status.last_error = "daemon for GPU " + daemon.status.gpu + " on " +
                               daemon.status.pipe_dir + " is hung (no answer in " +
                               std::to_string(options_.command_timeout.count() / 1000) +
                               " s); not starting a second one";
    return Error{daemon.status.last_error};
  }
  std::error_code error;
  std::filesystem::create_directories(daemon.status.pipe_dir, error);
  if (!error) std::filesystem::create_directories(daemon.status.log_dir, error);
  // The MPS server runs as its client's user and writes in both directories: a pod that does not
  // run as root needs them writable by all (as NVIDIA's own MPS setups make them).
  for (const std::string& dir : {daemon.status.pipe_dir, daemon.status.log_dir}) {
    if (!error) std::filesystem::permissions(dir, std::filesystem::perms::all, error);
  }
  if (error) {
    daemon.status.state = MpsDaemonState::kFailed;
    daemon.status.last_error = "cannot create " + daemon.status.pipe_dir + ": " + error.message();
    return Error{daemon.status.last_error};
  }
  CommandOptions command = DaemonCommand(daemon, "", daemon.status.log_dir + "/flexai-start.log");
  Result<CommandResult> started = RunCommand({options_.control_binary, "-d"}, command);
  std::string why;
  if (!started.ok()) {
    why = started.error().message;
  } else if (started->exit_code != 0) {
    why = options_.control_binary + " -d exited with " + std::to_string(started->exit_code) +
          " (see " + command.output_path + ")";
  } else {
    for (int probe = 0; probe < kStartProbes; ++probe) {
      const Answer probed = Answers(daemon);
      if (probed == Answer::kYes) {
        daemon.status.state = MpsDaemonState::kRunning;
        daemon.status.last_error.clear();
        return Status::Ok();
      }
      if (probed == Answer::kHung) break;  // waiting longer would hold every other daemon up
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    why = "daemon for GPU " + daemon.status.gpu + " started but does not answer on " +
          daemon.status.pipe_dir;
  }
  daemon.status.state = MpsDaemonState::kFailed;
  daemon.status.last_error = why;
  return Error{why};
}

void MpsSupervisor::StopLocked(Daemon& daemon) {
  daemon.wanted = false;
  daemon.status.state = MpsDaemonState::kStopped;
  if (!options_.run_daemons) return;  // not ours to quit
  CommandOptions command = DaemonCommand(daemon, "quit\n", "");
  // Stopping must fit in a pod's grace period even when daemons hang.
  command.timeout = std::min(command.timeout, std::chrono::milliseconds(2000));
  RunCommand({options_.control_binary}, command);
}

Status MpsSupervisor::StartAll() {
  std::lock_guard lock(mutex_);
  std::string errors;
  for (Daemon& daemon : daemons_) {
    Status started = StartLocked(daemon);
    if (!started.ok()) errors += (errors.empty() ? "" : "; ") + started.message();
  }
  PublishLocked();
  if (!errors.empty()) return Error{errors};
  return Status::Ok();
}

void MpsSupervisor::StopAll() {
  std::lock_guard lock(mutex_);
  for (Daemon& daemon : daemons_) StopLocked(daemon);
  PublishLocked();
}

void MpsSupervisor::Check() {
  std::lock_guard lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  for (Daemon& daemon : daemons_) {
    if (!daemon.wanted) continue;
    if (!options_.run_daemons) {
      WatchLocked(daemon);
      continue;
    }
    // Backing off after a failed restart: not even probed (a hung daemon's probe takes the whole
    // command timeout, and every other daemon's check waits for it).
    if (daemon.status.state == MpsDaemonState::kFailed && now < daemon.next_restart) continue;
    if (Answers(daemon) == Answer::kYes) {
      // Also a daemon whose start failed earlier and that answers now (its GPU came back).
      if (daemon.status.state != MpsDaemonState::kRunning) {
        spdlog::info("MPS control daemon for GPU {} answers again", daemon.status.gpu);
      }
      daemon.status.state = MpsDaemonState::kRunning;
      daemon.status.last_error.clear();
      daemon.failed_restarts = 0;
      continue;
    }
    // Down while it restarts (which may take a while): metrics must not say running meanwhile.
    daemon.status.state = MpsDaemonState::kFailed;
    ++daemon.status.restarts;
    spdlog::warn("MPS control daemon for GPU {} is not answering on {}; restarting (restart {})",
                 daemon.status.gpu, daemon.status.pipe_dir, daemon.status.restarts);
    daemon.status.last_error = "not answering; restarting";
    PublishLocked();
    if (Status started = StartLocked(daemon); started.ok()) {
      spdlog::info("MPS control daemon for GPU {} restarted", daemon.status.gpu);
      daemon.failed_restarts = 0;
    } else {
      const auto wait = std::min(kRestartBackoffMax,
                                 kRestartBackoffFirst * (1 << std::min(daemon.failed_restarts, 6)));
      ++daemon.failed_restarts;
      daemon.next_restart = std::chrono::steady_clock::now() + wait;
      spdlog::error("MPS control daemon for GPU {} did not restart: {}; next try in {} s",
                    daemon.status.gpu, started.message(),
                    std::chrono::duration_cast<std::chrono::seconds>(wait).count());
    }
    PublishLocked();
  }
  PublishLocked();
}

std::vector<MpsDaemonStatus> MpsSupervisor::Statuses() const {
  std::lock_guard lock(published_mutex_);
  return published_;
}

std::string MpsSupervisor::PipeDirectory(const std::string& gpu) const {
  std::lock_guard lock(published_mutex_);
  for (const MpsDaemonStatus& status : published_) {
    if (status.gpu == gpu) return status.pipe_dir;
  }
  return {};
}

}  // namespace flexai::isolation
