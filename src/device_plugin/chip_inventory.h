// The node's chips as this daemon knows them, shared by the health monitor (writer) and the
// kubelet streams, Allocate, metrics and the inventory publisher (readers). Outlives kubelet
// restarts: re-serving the socket never loses health or allocations.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "device_plugin/backend/backend.h"
#include "partition/chip.h"

namespace flexai::device_plugin {

class ChipInventory {
 public:
  ChipInventory(partition::Vendor vendor, std::vector<partition::Chip> chips);

  partition::Vendor vendor() const { return vendor_; }
  std::vector<partition::Chip> chips() const;
  std::optional<partition::Chip> FindByUuid(const std::string& uuid) const;
  // Bumped on every health change (and by MarkChanged); streams compare it to know when to resend.
  uint64_t version() const;
  // Something else of the device list changed (a policy reload changed max slices): bumps the
  // version and wakes waiters, so every stream resends.
  void MarkChanged();

  // Applies a health report; returns the chips whose health changed (and wakes waiters).
  std::vector<partition::Chip> ApplyHealth(const HealthReport& report);
  // Blocks until version() != `seen` or `timeout` passes; returns the version then.
  uint64_t WaitForChange(uint64_t seen, std::chrono::milliseconds timeout) const;
  // Wakes every waiter (used at shutdown).
  void WakeAll() const;

 private:
  const partition::Vendor vendor_;
  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  std::vector<partition::Chip> chips_;
  uint64_t version_ = 1;
};

}  // namespace flexai::device_plugin
