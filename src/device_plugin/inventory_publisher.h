// Keeps the node object current: writes the inventory, a heartbeat and the chips' live usage
// (flexai.io/live-usage, summed from the slices' usage.bin) to the node's annotations every
// interval and right after a health change, and reconciles the allocator's usage with the pods on
// the node. Without a cluster client it only complains, loudly, at start.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "device_plugin/allocator.h"
#include "device_plugin/chip_inventory.h"
#include "device_plugin/cluster_client.h"

namespace flexai::device_plugin {

class InventoryPublisher {
 public:
  InventoryPublisher(std::string node_name, const ChipInventory& inventory, Allocator& allocator,
                     ClusterClient* cluster,
                     std::chrono::milliseconds interval = std::chrono::seconds(10));
  ~InventoryPublisher();
  InventoryPublisher(const InventoryPublisher&) = delete;
  InventoryPublisher& operator=(const InventoryPublisher&) = delete;

  void Start();
  void Stop();
  // One publish (inventory, heartbeat, live usage) + reconcile, synchronously.
  Status PublishOnce();

 private:
  const std::string node_name_;
  const ChipInventory& inventory_;
  Allocator& allocator_;
  ClusterClient* const cluster_;
  const std::chrono::milliseconds interval_;
  std::mutex mu_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace flexai::device_plugin
