#include "device_plugin/daemon.h"

#include <prometheus/exposer.h>
#include <spdlog/spdlog.h>

#include <utility>

#include "device_plugin/chip_metrics.h"
#include "device_plugin/device_plugin_service.h"
#include "device_plugin/health_monitor.h"
#include "device_plugin/inventory_publisher.h"
#include "device_plugin/kubelet_connection.h"
#include "device_plugin/metrics_endpoint.h"
#include "device_plugin/mps_daemons.h"
#include "kube/config_file_watcher.h"
#include "kube/periodic_task.h"

namespace flexai::device_plugin {

Result<std::unique_ptr<Daemon>> Daemon::Create(const DaemonOptions& options,
                                               std::unique_ptr<Backend> backend,
                                               std::unique_ptr<ClusterClient> cluster,
                                               const SettingsFor& settings_for) {
  auto chips = backend->Discover();
  if (!chips) return Error{"discovering chips: " + chips.error().message};
  auto settings = settings_for(backend->vendor());
  if (!settings) return settings.error();
  settings->device_list_as_volume_mounts = options.device_list_strategy == "volume-mounts";
  settings->mps_host_dir = options.mps_dir;
  if (chips->empty()) spdlog::warn("no chips found on this node; serving an empty device list");
  std::unique_ptr<Daemon> d(new Daemon());
  d->options_ = options;
  d->settings_for_ = settings_for;
  const std::string resource = settings->resource_name;
  d->settings_ = std::make_shared<SettingsStore>(std::move(*settings));
  d->backend_ = std::move(backend);
  d->cluster_ = std::move(cluster);
  d->inventory_ = std::make_unique<ChipInventory>(d->backend_->vendor(), std::move(*chips));
  d->allocator_ = std::make_unique<Allocator>(options.node_name, *d->inventory_, *d->backend_,
                                              d->settings_, d->cluster_.get());
  Daemon* daemon = d.get();
  d->allocator_->SetMpsReadiness([daemon](const std::string& name) {
    std::lock_guard lock(daemon->mps_mu_);
    // No MPS daemons: this backend runs none (sim, NPUs), nothing to wait for.
    return !daemon->mps_ || daemon->mps_->Running(name);
  });
  d->service_ = std::make_unique<DevicePluginService>(*d->inventory_, *d->allocator_, d->settings_);
  d->kubelet_ = std::make_unique<KubeletConnection>(options.plugin_dir, SocketNameFor(resource),
                                                    resource, d->service_.get());
  d->health_ = std::make_unique<HealthMonitor>(*d->backend_, *d->inventory_);
  d->publisher_ = std::make_unique<InventoryPublisher>(options.node_name, *d->inventory_,
                                                       *d->allocator_, d->cluster_.get());
  if (!options.policy.empty() && options.policy_poll_seconds > 0) {
    // Created now, so the content just loaded is the baseline; polling starts with Start().
    Daemon* self = d.get();
    d->policy_watcher_ = std::make_unique<kube::ConfigFileWatcher>(
        options.policy, std::chrono::seconds(options.policy_poll_seconds),
        [self] { self->ReloadPolicy(); });
    if (d->cluster_) {
      d->label_checks_ = std::make_unique<kube::PeriodicTask>(
          std::chrono::seconds(options.policy_poll_seconds), [self] { self->CheckNodeLabels(); });
    }
  }
  return d;
}

Daemon::~Daemon() { Stop(); }

Status Daemon::StartMpsDaemons(const PluginSettings& settings) {
  // Pipes under the settings' mps_host_dir: what Allocate mounts.
  MpsDaemonsOptions options;
  options.mps_dir = settings.mps_host_dir;
  options.control_binary = options_.mps_control;
  options.role = options_.mps_daemons == "watch" ? MpsDaemonRole::kWatch : MpsDaemonRole::kRun;
  auto daemons = std::make_unique<MpsDaemons>(inventory_->chips(), options);
  Status result = daemons->Start();
  std::lock_guard lock(mps_mu_);
  mps_ = std::move(daemons);
  return result;
}

void Daemon::StopMpsDaemons() {
  std::unique_ptr<MpsDaemons> daemons;
  {
    std::lock_guard lock(mps_mu_);
    daemons = std::move(mps_);
  }
  if (daemons) daemons->Stop();  // quits them only when they are run here
}

Status Daemon::Start() {
  for (const auto& chip : inventory_->chips()) {
    spdlog::info("chip {}: {} {} {} MiB numa {} cpus {} link group {} {}", chip.index, chip.uuid,
                 chip.model, chip.memory_mib, chip.numa_node,
                 chip.cpu_affinity.empty() ? "?" : chip.cpu_affinity, chip.link_group,
                 partition::HealthName(chip.health));
  }
  const auto settings = settings_->Current();
  spdlog::info("resource {}: {} virtual devices per chip, isolation {}", settings->resource_name,
               settings->max_slices_per_chip, IsolationModeName(settings->isolation));
  health_->CheckOnce();  // start from the live health, not the discovery snapshot
  if (!options_.metrics_listen.empty()) {
    auto exposer = ListenForMetrics(options_.metrics_listen);
    if (!exposer) return exposer.error();
    exposer_ = std::move(*exposer);
    metrics_ = std::make_shared<ChipMetrics>(options_.node_name, *inventory_, *allocator_);
    exposer_->RegisterCollectable(metrics_);
    // Watched daemons are reported by the process that runs them (restarts are counted there).
    if (options_.mps_daemons != "watch") {
      mps_metrics_ = std::make_shared<MpsMetrics>(options_.node_name, [this] {
        std::lock_guard lock(mps_mu_);
        return mps_ ? mps_->Statuses() : std::vector<isolation::MpsDaemonStatus>{};
      });
      exposer_->RegisterCollectable(mps_metrics_);
    }
  }
  if (settings->isolation == IsolationMode::kMps &&
      backend_->vendor() == partition::Vendor::kNvidia) {
    if (Status mps = StartMpsDaemons(*settings); !mps) {
      spdlog::error("MPS isolation: {}; MPS slices on them are refused until the daemons run",
                    mps.message());
    }
  }
  if (Status s = kubelet_->Start(); !s) return s;
  health_->Start();
  publisher_->Start();
  if (policy_watcher_) {
    policy_watcher_->Start();
    spdlog::info("watching {} for policy changes every {} s", options_.policy,
                 options_.policy_poll_seconds);
  }
  if (label_checks_) {
    CheckNodeLabels();  // the labels the settings were just chosen with, give or take a moment
    label_checks_->Start();
  }
  return Status::Ok();
}

Status Daemon::ReloadPolicy() {
  std::lock_guard lock(reload_mu_);
  auto loaded = settings_for_(backend_->vendor());
  if (!loaded) return RefuseReload(loaded.error().message);
  const auto current = settings_->Current();
  PluginSettings next = std::move(*loaded);
  if (next.resource_name != current->resource_name) {
    spdlog::warn(
        "the policy now names resource {}, but {} is registered with kubelet: a resource "
        "change takes a restart; other settings are applied",
        next.resource_name, current->resource_name);
    next.resource_name = current->resource_name;
  }
  // Host paths are the daemon's own layout, not the policy's.
  next.hook_library_host_dir = current->hook_library_host_dir;
  next.shared_host_dir = current->shared_host_dir;
  next.mps_host_dir = current->mps_host_dir;
  next.device_list_as_volume_mounts = current->device_list_as_volume_mounts;
  const bool slices_changed = next.max_slices_per_chip != current->max_slices_per_chip;
  const bool mps_now = next.isolation == IsolationMode::kMps &&
                       current->isolation != IsolationMode::kMps &&
                       backend_->vendor() == partition::Vendor::kNvidia;
  if (mps_now && !mps_) {
    // Before the switch: MPS containers must find their daemons and shared memory ready.
    if (Status mps = StartMpsDaemons(next); !mps) {
      if (options_.mps_daemons != "watch") {
        StopMpsDaemons();
        return RefuseReload("isolation mps cannot start: " + mps.message());
      }
      // Run by another container, which may still be starting: MPS slices wait for them.
      spdlog::warn("isolation mps: {}; MPS slices on them are refused until they answer",
                   mps.message());
    }
  }
  spdlog::info(
      "policy reloaded from {}: {} virtual devices per chip (was {}), isolation {} (was {})",
      options_.policy, next.max_slices_per_chip, current->max_slices_per_chip,
      IsolationModeName(next.isolation), IsolationModeName(current->isolation));
  settings_->Replace(std::move(next));
  if (slices_changed) inventory_->MarkChanged();  // every ListAndWatch stream sends the new list
  return Status::Ok();
}

bool Daemon::CheckNodeLabels() {
  if (!cluster_) return false;
  auto labels = cluster_->NodeLabels(options_.node_name);
  if (!labels) return false;  // the settings loader warns about unreadable labels
  std::lock_guard lock(labels_mu_);
  if (!labels_seen_) {
    labels_seen_ = std::move(*labels);
    return false;
  }
  if (*labels == *labels_seen_) return false;
  labels_seen_ = std::move(*labels);
  spdlog::info("labels of node {} changed: choosing the policy's node overrides again",
               options_.node_name);
  return ReloadPolicy().ok();
}

Status Daemon::RefuseReload(const std::string& reason) {
  const std::string why = "policy reload refused, previous policy kept: " + reason;
  spdlog::error("{}", why);
  if (cluster_) {
    Status posted =
        cluster_->RecordNodeEvent(options_.node_name, "Warning", "FlexaiPolicyRejected", why);
    if (!posted) spdlog::warn("{}", posted.message());
  }
  return Error{why};
}

void Daemon::Stop() {
  if (label_checks_) label_checks_->Stop();
  if (policy_watcher_) policy_watcher_->Stop();
  if (publisher_) publisher_->Stop();
  if (health_) health_->Stop();
  if (service_) service_->StopStreams();
  if (kubelet_) kubelet_->Stop();
  exposer_.reset();
  StopMpsDaemons();
}

int Daemon::metrics_port() const {
  if (!exposer_) return 0;
  auto ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

}  // namespace flexai::device_plugin
