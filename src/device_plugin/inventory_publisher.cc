#include "device_plugin/inventory_publisher.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <utility>

#include "device_plugin/chip_metrics.h"
#include "device_plugin/inventory_json.h"
#include "kube/protocol.h"

namespace flexai::device_plugin {

namespace {

// Every chip of the inventory, 0 where no slice reports (so the scheduler sees idle chips too).
std::string LiveUsageJson(const std::vector<partition::Chip>& chips,
                          const std::map<std::string, LiveUsage>& live,
                          std::chrono::system_clock::time_point sampled_at) {
  kube::NodeLiveUsage usage;
  usage.sampled_at = sampled_at;
  for (const auto& chip : chips) {
    auto it = live.find(chip.uuid);
    const LiveUsage used = it == live.end() ? LiveUsage{} : it->second;
    usage.chips.push_back(kube::ChipLiveUsage{
        .index = chip.index,
        .uuid = chip.uuid,
        .memory_used_mib = std::llround(used.memory_used_mib),
        .compute_used_percent = used.compute_used_percent,
    });
  }
  return kube::EncodeLiveUsage(usage);
}

}  // namespace

InventoryPublisher::InventoryPublisher(std::string node_name, const ChipInventory& inventory,
                                       Allocator& allocator, ClusterClient* cluster,
                                       std::chrono::milliseconds interval)
    : node_name_(std::move(node_name)),
      inventory_(inventory),
      allocator_(allocator),
      cluster_(cluster),
      interval_(interval) {}

InventoryPublisher::~InventoryPublisher() { Stop(); }

Status InventoryPublisher::PublishOnce() {
  if (cluster_ == nullptr) return Error{"no Kubernetes connection configured"};
  // The pods first: live usage is read from the containers the allocator holds, so it must know
  // those recovered after a restart and forget those that ended before the usage is published.
  auto pods = cluster_->ListPodsOnNode(node_name_);
  if (pods) allocator_.Reconcile(*pods);
  const auto chips = inventory_.chips();
  std::string inventory = InventoryJson(inventory_.vendor(), chips).dump();
  const auto now = std::chrono::system_clock::now();
  std::string heartbeat = FormatRfc3339(now);
  std::string live = LiveUsageJson(chips, ReadLiveUsage(allocator_, chips), now);
  Status patched =
      cluster_->PatchNodeAnnotations(node_name_, {{kInventoryAnnotation, inventory},
                                                  {kHeartbeatAnnotation, heartbeat},
                                                  {std::string(kube::kLiveUsageAnnotation), live}});
  if (!patched)
    return Error{"publishing inventory on node " + node_name_ + ": " + patched.message()};
  if (!pods) return Error{"listing pods on node " + node_name_ + ": " + pods.error().message};
  return Status::Ok();
}

void InventoryPublisher::Start() {
  if (cluster_ == nullptr) {
    spdlog::error(
        "NO KUBERNETES CONNECTION: inventory and heartbeat are NOT published to node {} and "
        "Allocate cannot find assignments. Pass --kubeconfig, or run in-cluster.",
        node_name_);
    return;
  }
  {
    std::lock_guard lock(mu_);
    stop_ = false;
  }
  thread_ = std::thread([this] {
    uint64_t seen = 0;
    std::string last_error;
    while (true) {
      {
        std::lock_guard lock(mu_);
        if (stop_) break;
      }
      seen = inventory_.version();
      Status s = PublishOnce();
      if (!s && s.message() != last_error) spdlog::warn("{}", s.message());
      if (s && !last_error.empty())
        spdlog::info("inventory published to node {} again", node_name_);
      last_error = s.ok() ? "" : s.message();
      // Wakes early on a health change (and on Stop, through WakeAll).
      auto deadline = std::chrono::steady_clock::now() + interval_;
      while (std::chrono::steady_clock::now() < deadline) {
        {
          std::lock_guard lock(mu_);
          if (stop_) break;
        }
        if (inventory_.WaitForChange(seen, std::chrono::milliseconds(200)) != seen) break;
      }
    }
  });
}

void InventoryPublisher::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

}  // namespace flexai::device_plugin
