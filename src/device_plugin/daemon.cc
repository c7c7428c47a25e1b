#include "device_plugin/daemon.h"

#include <prometheus/exposer.h>
#include <spdlog/spdlog.h>

#include <utility>

#include "device_plugin/chip_metrics.h"
#include "device_plugin/device_plugin_service.h"
#include "device_plugin/health_monitor.h"
#include "device_plugin/inventory_publisher.h"
#include "device_plugin/kubelet_connection.h"
#include "device_plugin/periodic_task.h"
#include "isolation/mps_supervisor.h"

namespace flexai::device_plugin {

Result<std::unique_ptr<Daemon>> Daemon::Create(const DaemonOptions& options,
                                               std::unique_ptr<Backend> backend,
                                               std::unique_ptr<ClusterClient> cluster,
                                               const SettingsFor& settings_for) {
  auto chips = backend->Discover();
  if (!chips) return Error{"discovering chips: " + chips.error().message};
  auto settings = settings_for(backend->vendor());
  if (!settings) return settings.error();
  if (chips->empty()) spdlog::warn("no chips found on this node; serving an empty device list");
  std::unique_ptr<Daemon> d(new Daemon());
  d->options_ = options;
  d->settings_ = std::move(*settings);
  d->backend_ = std::move(backend);
  d->cluster_ = std::move(cluster);
  d->inventory_ = std::make_unique<ChipInventory>(d->backend_->vendor(), std::move(*chips));
  d->allocator_ = std::make_unique<Allocator>(options.node_name, *d->inventory_, *d->backend_,
                                              d->settings_, d->cluster_.get());
  d->service_ = std::make_unique<DevicePluginService>(*d->inventory_, *d->allocator_, d->settings_);
  d->kubelet_ = std::make_unique<KubeletConnection>(options.plugin_dir,
                                                    SocketNameFor(d->settings_.resource_name),
                                                    d->settings_.resource_name, d->service_.get());
  d->health_ = std::make_unique<HealthMonitor>(*d->backend_, *d->inventory_);
  d->publisher_ = std::make_unique<InventoryPublisher>(options.node_name, *d->inventory_,
                                                       *d->allocator_, d->cluster_.get());
  return d;
}

Daemon::~Daemon() { Stop(); }

void Daemon::StartMpsDaemons() {
  // One MPS control daemon per GPU for single-GPU slices, plus a node-wide one for containers
  // with several GPUs; pipes under settings_.mps_host_dir (what Allocate mounts).
  std::vector<std::string> gpus;
  for (const auto& chip : inventory_->chips()) gpus.push_back(chip.uuid);
  gpus.push_back(isolation::kAllGpus);
  isolation::MpsSupervisorOptions options;
  options.base_dir = settings_.mps_host_dir;
  mps_ = std::make_unique<isolation::MpsSupervisor>(options, gpus);
  if (Status s = mps_->StartAll(); !s) {
    spdlog::error("MPS isolation: {}; slices will fail to start until the daemons run",
                  s.message());
  }
  mps_checks_ = std::make_unique<PeriodicTask>(std::chrono::seconds(5), [this] { mps_->Check(); });
  mps_checks_->Start();
}

Status Daemon::Start() {
  for (const auto& chip : inventory_->chips()) {
    spdlog::info("chip {}: {} {} {} MiB numa {} link group {} {}", chip.index, chip.uuid,
                 chip.model, chip.memory_mib, chip.numa_node, chip.link_group,
                 partition::HealthName(chip.health));
  }
  spdlog::info("resource {}: {} virtual devices per chip, isolation {}", settings_.resource_name,
               settings_.max_slices_per_chip, IsolationModeName(settings_.isolation));
  health_->CheckOnce();  // start from the live health, not the discovery snapshot
  if (!options_.metrics_listen.empty()) {
    try {
      exposer_ = std::make_unique<prometheus::Exposer>(options_.metrics_listen);
    } catch (const std::exception& e) {
      return Error{"metrics endpoint " + options_.metrics_listen + ": " + e.what()};
    }
    metrics_ = std::make_shared<ChipMetrics>(options_.node_name, *inventory_, *allocator_);
    exposer_->RegisterCollectable(metrics_);
    spdlog::info("metrics on http://{}/metrics", options_.metrics_listen);
  }
  if (settings_.isolation == IsolationMode::kMps &&
      backend_->vendor() == partition::Vendor::kNvidia) {
    StartMpsDaemons();
  }
  if (Status s = kubelet_->Start(); !s) return s;
  health_->Start();
  publisher_->Start();
  return Status::Ok();
}

void Daemon::Stop() {
  if (publisher_) publisher_->Stop();
  if (health_) health_->Stop();
  if (service_) service_->StopStreams();
  if (kubelet_) kubelet_->Stop();
  exposer_.reset();
  if (mps_checks_) mps_checks_->Stop();
  if (mps_) mps_->StopAll();
  mps_checks_.reset();
  mps_.reset();
}

int Daemon::metrics_port() const {
  if (!exposer_) return 0;
  auto ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

}  // namespace flexai::device_plugin
