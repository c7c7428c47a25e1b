#include "device_plugin/inventory_publisher.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "device_plugin/inventory_json.h"

namespace flexai::device_plugin {

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
  std::string inventory = InventoryJson(inventory_.vendor(), inventory_.chips()).dump();
  std::string heartbeat = FormatRfc3339(std::chrono::system_clock::now());
  Status patched = cluster_->PatchNodeAnnotations(
      node_name_, {{kInventoryAnnotation, inventory}, {kHeartbeatAnnotation, heartbeat}});
  if (!patched)
    return Error{"publishing inventory on node " + node_name_ + ": " + patched.message()};
  auto pods = cluster_->ListPodsOnNode(node_name_);
  if (!pods) return Error{"listing pods on node " + node_name_ + ": " + pods.error().message};
  allocator_.Reconcile(*pods);
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
