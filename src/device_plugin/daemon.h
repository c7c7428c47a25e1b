// The whole node daemon, wired: backend -> chip inventory -> health monitor; allocator + gRPC
// service served to kubelet; inventory publisher to the node object; Prometheus metrics; the
// policy file watcher that reloads the settings without a restart.
// main.cc only parses flags and builds one of these; tests build it in-process with fakes.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "device_plugin/allocator.h"
#include "device_plugin/backend/backend.h"
#include "device_plugin/chip_inventory.h"
#include "device_plugin/cluster_client.h"
#include "device_plugin/daemon_options.h"
#include "device_plugin/plugin_settings.h"
#include "device_plugin/settings_store.h"

namespace prometheus {
class Exposer;
}
namespace flexai::kube {
class ConfigFileWatcher;
class PeriodicTask;
}  // namespace flexai::kube

namespace flexai::device_plugin {

class ChipMetrics;
class MpsDaemons;
class MpsMetrics;
class DevicePluginService;
class HealthMonitor;
class InventoryPublisher;
class KubeletConnection;

class Daemon {
 public:
  // Settings depend on the vendor, known only once the backend has discovered its chips. Called
  // again on every change of the policy file (options.policy), so it must outlive the daemon.
  using SettingsFor = std::function<Result<PluginSettings>(partition::Vendor)>;

  // Discovers the chips (an error when none can be read). `cluster` may be null.
  static Result<std::unique_ptr<Daemon>> Create(const DaemonOptions& options,
                                                std::unique_ptr<Backend> backend,
                                                std::unique_ptr<ClusterClient> cluster,
                                                const SettingsFor& settings_for);
  ~Daemon();

  // Serves kubelet, starts health checks, inventory publishing, metrics and the policy watcher.
  Status Start();
  void Stop();
  // Reads the policy again and applies it (the watcher calls this when the file changes). A
  // policy that does not load is refused: the old settings stay, an error is logged and a
  // Warning Event FlexaiPolicyRejected is posted on the node. The same holds for a switch to MPS
  // isolation whose shared memory or control daemons cannot be set up (those are prepared first).
  // The resource name and host paths are fixed at start; a new max slices per chip is streamed
  // to kubelet.
  Status ReloadPolicy();
  // Reads this node's labels and, when they differ from those last read, reloads the policy so
  // that its node overrides are selected again (the first call only records them). Runs every
  // --policy-poll-seconds with a policy file and a cluster connection. Returns true on a reload.
  bool CheckNodeLabels();

  ChipInventory& inventory() { return *inventory_; }
  Allocator& allocator() { return *allocator_; }
  std::shared_ptr<const PluginSettings> settings() const { return settings_->Current(); }
  KubeletConnection& kubelet() { return *kubelet_; }
  // Port the metrics endpoint listens on (0 when disabled).
  int metrics_port() const;

 private:
  Daemon() = default;
  // Starts (--mps-daemons run: prepares the MPS shared memory folder and starts) or watches the
  // control daemons for `settings`; they stay checked, and the first error is returned.
  Status StartMpsDaemons(const PluginSettings& settings);
  void StopMpsDaemons();
  Status RefuseReload(const std::string& reason);

  DaemonOptions options_;
  SettingsFor settings_for_;
  std::shared_ptr<SettingsStore> settings_;
  std::mutex reload_mu_;  // one reload at a time
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<ClusterClient> cluster_;
  std::unique_ptr<ChipInventory> inventory_;
  std::unique_ptr<Allocator> allocator_;
  std::unique_ptr<DevicePluginService> service_;
  std::unique_ptr<KubeletConnection> kubelet_;
  std::unique_ptr<HealthMonitor> health_;
  std::unique_ptr<InventoryPublisher> publisher_;
  std::shared_ptr<ChipMetrics> metrics_;
  std::shared_ptr<MpsMetrics> mps_metrics_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::mutex mps_mu_;  // guards the mps_ pointer against a scrape (not the supervisor itself)
  std::unique_ptr<MpsDaemons> mps_;
  std::unique_ptr<kube::ConfigFileWatcher> policy_watcher_;
  std::unique_ptr<kube::PeriodicTask> label_checks_;
  std::mutex labels_mu_;
  std::optional<std::map<std::string, std::string>> labels_seen_;  // by CheckNodeLabels
};

}  // namespace flexai::device_plugin
