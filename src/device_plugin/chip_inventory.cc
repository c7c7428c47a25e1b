#include "device_plugin/chip_inventory.h"

#include <utility>

namespace flexai::device_plugin {

ChipInventory::ChipInventory(partition::Vendor vendor, std::vector<partition::Chip> chips)
    : vendor_(vendor), chips_(std::move(chips)) {}

std::vector<partition::Chip> ChipInventory::chips() const {
  std::lock_guard lock(mu_);
  return chips_;
}

std::optional<partition::Chip> ChipInventory::FindByUuid(const std::string& uuid) const {
  std::lock_guard lock(mu_);
  for (const auto& chip : chips_) {
    if (chip.uuid == uuid) return chip;
  }
  return std::nullopt;
}

uint64_t ChipInventory::version() const {
  std::lock_guard lock(mu_);
  return version_;
}

std::vector<partition::Chip> ChipInventory::ApplyHealth(const HealthReport& report) {
  std::vector<partition::Chip> changed;
  {
    std::lock_guard lock(mu_);
    for (auto& chip : chips_) {
      auto it = report.find(chip.uuid);
      if (it == report.end() || it->second == chip.health) continue;
      chip.health = it->second;
      changed.push_back(chip);
    }
    if (!changed.empty()) ++version_;
  }
  if (!changed.empty()) changed_.notify_all();
  return changed;
}

uint64_t ChipInventory::WaitForChange(uint64_t seen, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  changed_.wait_for(lock, timeout, [&] { return version_ != seen; });
  return version_;
}

void ChipInventory::MarkChanged() {
  {
    std::lock_guard lock(mu_);
    ++version_;
  }
  changed_.notify_all();
}

void ChipInventory::WakeAll() const { changed_.notify_all(); }

}  // namespace flexai::device_plugin
