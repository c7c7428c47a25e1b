#include "isolation/hook/launch_cost_model.h"

namespace flexai::isolation {
namespace {

std::int64_t Blend(std::int64_t previous, std::int64_t sample) {
  if (previous <= 0 || sample < previous) return sample;  // fast down
  return previous + (sample - previous) / 8;              // slow up
}

}  // namespace

std::size_t LaunchCostModel::Hash(const void* key) {
  auto value = reinterpret_cast<std::uintptr_t>(key);
  return static_cast<std::size_t>((value >> 4) * 0x9E3779B97F4A7C15ULL >> 32) % kSlots;
}

const LaunchCostModel::Slot* LaunchCostModel::Find(const void* key) const {
  auto wanted = reinterpret_cast<std::uintptr_t>(key);
  for (std::size_t probe = 0; probe < kProbes; ++probe) {
    const Slot& slot = slots_[(Hash(key) + probe) % kSlots];
    std::uintptr_t held = slot.key.load(std::memory_order_acquire);
    if (held == wanted) return &slot;
    if (held == 0) return nullptr;
  }
  return nullptr;
}

bool LaunchCostModel::HasSample(const void* key) const { return Find(key) != nullptr; }

std::int64_t LaunchCostModel::Estimate(const void* key) const {
  if (const Slot* slot = Find(key)) return slot->cost_ns.load(std::memory_order_relaxed);
  return average_ns_.load(std::memory_order_relaxed);
}

void LaunchCostModel::AddSample(const void* key, std::int64_t measured_ns) {
  if (measured_ns <= 0) measured_ns = 1;
  average_ns_.store((average_ns_.load() * 7 + measured_ns) / 8, std::memory_order_relaxed);
  auto wanted = reinterpret_cast<std::uintptr_t>(key);
  for (std::size_t probe = 0; probe < kProbes; ++probe) {
    Slot& slot = slots_[(Hash(key) + probe) % kSlots];
    std::uintptr_t held = slot.key.load(std::memory_order_acquire);
    if (held == 0) {
      // Publish the cost before the key so a reader never sees a key with cost 0.
      slot.cost_ns.store(measured_ns, std::memory_order_relaxed);
      if (slot.key.compare_exchange_strong(held, wanted, std::memory_order_release)) return;
    }
    if (held == wanted) {
      slot.cost_ns.store(Blend(slot.cost_ns.load(std::memory_order_relaxed), measured_ns),
                         std::memory_order_relaxed);
      return;
    }
  }
  // Table region full: the key keeps using the average.
}

}  // namespace flexai::isolation
