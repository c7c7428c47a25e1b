// Keeps one `nvidia-cuda-mps-control -d` daemon per GPU alive, each with its own pipe and log
// directory, restarts daemons that die, and reports their state for metrics. Or, with
// run_daemons off, only watches daemons that another process runs on the same directories.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "isolation/process_runner.h"
#include "partition/result.h"

namespace flexai::isolation {

struct MpsSupervisorOptions {
  std::string control_binary = "nvidia-cuda-mps-control";
  std::string base_dir = "/var/lib/flexai/mps";  // <base_dir>/<gpu>/{pipe,log}
  std::chrono::milliseconds command_timeout{10000};
  std::map<std::string, std::string> extra_environment;  // e.g. LD_LIBRARY_PATH for the driver
  // false: the daemons are another process's (the chart's mps-control container, which outlives
  // a restart of the device plugin's): probe and report them, never start, restart or quit them.
  bool run_daemons = true;
};

// Daemon name for one daemon serving every GPU of the node (CUDA_VISIBLE_DEVICES left unset).
inline constexpr const char* kAllGpus = "all";

enum class MpsDaemonState { kStopped, kRunning, kFailed };
const char* MpsDaemonStateName(MpsDaemonState state);

struct MpsDaemonStatus {
  std::string gpu;  // the GPU's UUID or index (or a comma list, or kAllGpus), as given
  MpsDaemonState state = MpsDaemonState::kStopped;
  std::string pipe_dir;
  std::string log_dir;
  std::uint32_t restarts = 0;  // restart attempts after the daemon was found not answering
  std::string last_error;      // empty when healthy
};

class MpsSupervisor {
 public:
  MpsSupervisor(MpsSupervisorOptions options, std::vector<std::string> gpus);
  MpsSupervisor(const MpsSupervisor&) = delete;
  MpsSupervisor& operator=(const MpsSupervisor&) = delete;

  // Starts every GPU's daemon (a daemon already answering is adopted, not started twice). Only
  // probes them when not running daemons; the error then names those that do not answer.
  Status StartAll();
  // Asks every daemon to quit (when running daemons; else only stops watching them).
  void StopAll();
  // Probes every daemon that should run and restarts the ones that stopped answering, logging
  // each; after a failed restart the next waits 5 s, doubling up to 5 min. A daemon whose probe
  // times out (hung) is never started a second time on the same pipe directory. Call it
  // periodically (e.g. every few seconds from the device plugin's health loop). When not running
  // daemons it probes each (no back-off) and logs the changes only.
  void Check();
  // The state as of the last start, stop or check. Never waits for a probe in progress (each may
  // take up to command_timeout), so metrics stay readable while a daemon hangs.
  std::vector<MpsDaemonStatus> Statuses() const;
  // Pipe directory (on the host) of a GPU's daemon, for the container mount; empty if unknown.
  std::string PipeDirectory(const std::string& gpu) const;

 private:
  struct Daemon {
    MpsDaemonStatus status;
    bool wanted = false;      // should be running
    int failed_restarts = 0;  // in a row, for the back-off
    std::chrono::steady_clock::time_point next_restart{};
  };
  enum class Answer { kYes, kNo, kHung };
  std::map<std::string, std::string> DaemonEnvironment(const Daemon& daemon) const;
  CommandOptions DaemonCommand(const Daemon& daemon, std::string stdin_text,
                               std::string output_path) const;
  Answer Answers(const Daemon& daemon) const;
  Status StartLocked(Daemon& daemon);
  Status WatchLocked(Daemon& daemon);  // probe only (run_daemons off)
  void StopLocked(Daemon& daemon);
  // Copies the daemons' statuses where Statuses() reads them (mutex_ held).
  void PublishLocked();

  MpsSupervisorOptions options_;
  mutable std::mutex mutex_;  // held over the control commands
  std::vector<Daemon> daemons_;
  mutable std::mutex published_mutex_;  // never held over a command
  std::vector<MpsDaemonStatus> published_;
};

}  // namespace flexai::isolation
