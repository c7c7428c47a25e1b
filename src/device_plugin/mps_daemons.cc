#include "device_plugin/mps_daemons.h"

#include <chrono>

#include "device_plugin/mps_shared_memory.h"
#include "kube/periodic_task.h"

namespace flexai::device_plugin {

MpsDaemons::MpsDaemons(const std::vector<partition::Chip>& chips, MpsDaemonsOptions options)
    : options_(std::move(options)) {
  std::vector<std::string> gpus;
  for (const auto& chip : chips) gpus.push_back(chip.uuid);
  gpus.push_back(isolation::kAllGpus);
  isolation::MpsSupervisorOptions supervisor;
  supervisor.base_dir = options_.mps_dir;
  supervisor.control_binary = options_.control_binary;
  supervisor.run_daemons = options_.role == MpsDaemonRole::kRun;
  supervisor_ = std::make_unique<isolation::MpsSupervisor>(supervisor, std::move(gpus));
}

MpsDaemons::~MpsDaemons() { Stop(); }

Status MpsDaemons::Start() {
  Status result = Status::Ok();
  // The daemons' own /dev/shm must be the folder Allocate mounts at /dev/shm in MPS containers;
  // only the process that runs them can check that.
  if (options_.role == MpsDaemonRole::kRun) {
    result = PrepareMpsSharedMemory(options_.mps_dir + "/shm");
  }
  if (Status started = supervisor_->StartAll(); !started) {
    result = result ? started : Error{result.message() + "; " + started.message()};
  }
  if (!checks_) {
    checks_ = std::make_unique<kube::PeriodicTask>(std::chrono::seconds(5),
                                                   [this] { supervisor_->Check(); });
    checks_->Start();
  }
  return result;
}

void MpsDaemons::Stop() {
  if (!checks_) return;  // not started, or stopped already
  checks_->Stop();
  checks_.reset();
  supervisor_->StopAll();
}

std::vector<isolation::MpsDaemonStatus> MpsDaemons::Statuses() const {
  return supervisor_->Statuses();
}

bool MpsDaemons::Running(const std::string& gpu) const {
  for (const auto& status : supervisor_->Statuses()) {
    if (status.gpu == gpu) return status.state == isolation::MpsDaemonState::kRunning;
  }
  return false;
}

}  // namespace flexai::device_plugin
