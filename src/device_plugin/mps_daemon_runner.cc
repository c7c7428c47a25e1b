#include "device_plugin/mps_daemon_runner.h"

#include <prometheus/exposer.h>
#include <spdlog/spdlog.h>

#include "device_plugin/chip_metrics.h"
#include "device_plugin/metrics_endpoint.h"

namespace flexai::device_plugin {

Result<std::unique_ptr<MpsDaemonRunner>> MpsDaemonRunner::Start(const DaemonOptions& options,
                                                                Backend& backend) {
  auto chips = backend.Discover();
  if (!chips) return Error{"discovering GPUs: " + chips.error().message};
  if (backend.vendor() != partition::Vendor::kNvidia) {
    return Error{"--mps-daemons-only: MPS is for NVIDIA GPUs; backend " + options.backend +
                 " found " + std::string(partition::VendorName(backend.vendor())) + " chips"};
  }
  std::unique_ptr<MpsDaemonRunner> runner(new MpsDaemonRunner());
  if (!options.metrics_listen.empty()) {
    auto exposer = ListenForMetrics(options.metrics_listen);
    if (!exposer) return exposer.error();
    runner->exposer_ = std::move(*exposer);
  }
  MpsDaemonsOptions daemons;
  daemons.mps_dir = options.mps_dir;
  daemons.control_binary = options.mps_control;
  daemons.role = MpsDaemonRole::kRun;
  runner->daemons_ = std::make_unique<MpsDaemons>(*chips, daemons);
  spdlog::info("running the MPS control daemons of {} GPU(s) and the node-wide one under {}",
               chips->size(), options.mps_dir);
  if (Status started = runner->daemons_->Start(); !started) {
    spdlog::error("MPS: {} (daemons that did not start are retried)", started.message());
  }
  if (runner->exposer_) {
    MpsDaemons* watched = runner->daemons_.get();
    runner->metrics_ =
        std::make_shared<MpsMetrics>(options.node_name, [watched] { return watched->Statuses(); });
    runner->exposer_->RegisterCollectable(runner->metrics_);
  }
  return runner;
}

MpsDaemonRunner::~MpsDaemonRunner() { Stop(); }

void MpsDaemonRunner::Stop() {
  exposer_.reset();  // no scrape reads the daemons from here on
  if (daemons_) daemons_->Stop();
}

int MpsDaemonRunner::metrics_port() const {
  if (!exposer_) return 0;
  auto ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

}  // namespace flexai::device_plugin
