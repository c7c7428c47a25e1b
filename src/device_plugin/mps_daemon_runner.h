// flexai-device-plugin --mps-daemons-only: the node's MPS control daemons run (and restarted)
// in a process of their own, with their /metrics, so that the chart can keep them in a container
// beside the device plugin's: a crash, OOM kill or liveness restart of the device plugin then
// leaves the MPS servers of running pods alone. The device plugin watches them (--mps-daemons
// watch) on the same --mps-dir.
#pragma once

#include <memory>

#include "device_plugin/backend/backend.h"
#include "device_plugin/daemon_options.h"
#include "device_plugin/mps_daemons.h"
#include "partition/result.h"

namespace prometheus {
class Exposer;
}

namespace flexai::device_plugin {

class MpsMetrics;

class MpsDaemonRunner {
 public:
  // Discovers the GPUs (NVIDIA only), starts their daemons and the metrics endpoint. A daemon
  // that does not start is logged and retried by the checks; discovery and the metrics port are
  // fatal.
  static Result<std::unique_ptr<MpsDaemonRunner>> Start(const DaemonOptions& options,
                                                        Backend& backend);
  ~MpsDaemonRunner();
  // Quits the daemons.
  void Stop();
  std::vector<isolation::MpsDaemonStatus> Statuses() const { return daemons_->Statuses(); }
  int metrics_port() const;  // 0 without an endpoint

 private:
  MpsDaemonRunner() = default;
  std::unique_ptr<MpsDaemons> daemons_;
  std::shared_ptr<MpsMetrics> metrics_;
  std::unique_ptr<prometheus::Exposer> exposer_;
};

}  // namespace flexai::device_plugin
