// The node's MPS control daemons: one per GPU for single-GPU slices plus the node-wide one for
// containers with several GPUs, under <mps_dir>/<gpu>/{pipe,log}, checked every 5 s. Either run
// here (started, restarted when they die, quit at Stop) or only watched: the chart runs them in
// their own container (flexai-device-plugin --mps-daemons-only), so that a restart of the
// device plugin's container does not take every MPS container's server down with it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "isolation/mps_supervisor.h"
#include "partition/chip.h"
#include "partition/result.h"

namespace flexai::kube {
class PeriodicTask;
}

namespace flexai::device_plugin {

enum class MpsDaemonRole { kRun, kWatch };

struct MpsDaemonsOptions {
  std::string mps_dir = "/var/run/flexai/mps";
  std::string control_binary = "nvidia-cuda-mps-control";
  MpsDaemonRole role = MpsDaemonRole::kRun;
};

class MpsDaemons {
 public:
  MpsDaemons(const std::vector<partition::Chip>& chips, MpsDaemonsOptions options);
  ~MpsDaemons();
  MpsDaemons(const MpsDaemons&) = delete;
  MpsDaemons& operator=(const MpsDaemons&) = delete;

  // kRun: prepares the shared /dev/shm folder (<mps_dir>/shm) and starts the daemons; kWatch:
  // probes them. The periodic checks start either way; the errors are returned.
  Status Start();
  // Stops the checks; kRun also quits the daemons.
  void Stop();
  std::vector<isolation::MpsDaemonStatus> Statuses() const;
  // Whether the daemon named `gpu` (a chip UUID or isolation::kAllGpus) answered last time.
  bool Running(const std::string& gpu) const;

 private:
  MpsDaemonsOptions options_;
  std::unique_ptr<isolation::MpsSupervisor> supervisor_;
  std::unique_ptr<kube::PeriodicTask> checks_;
};

}  // namespace flexai::device_plugin
