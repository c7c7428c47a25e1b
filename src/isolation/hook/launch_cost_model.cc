#include "isolation/hook/launch_cost_model.h"

namespace flexai::isolation {

std::size_t LaunchCostModel::Hash(const void* key) {
  auto value = reinterpret_cast<std::uintptr_t>(key);
  return static_cast<std::size_t>((value >> 4) * 0x9E3779B97F4A7C15ULL >> 32) % kSlots;
}

const LaunchCostModel::Slot* LaunchCostModel::Find(const void* key, bool* full) const {
  auto wanted = reinterpret_cast<std::uintptr_t>(key);
  if (full != nullptr) *full = false;
  for (std::size_t probe = 0; probe < kProbes; ++probe) {
    const Slot& slot = slots_[(Hash(key) + probe) % kSlots];
    std::uintptr_t held = slot.key.load(std::memory_order_acquire);
    if (held == wanted) return &slot;
    if (held == 0) return nullptr;
  }
  if (full != nullptr) *full = true;
  return nullptr;
}

LaunchCostModel::Slot* LaunchCostModel::Claim(const void* key) {
  auto wanted = reinterpret_cast<std::uintptr_t>(key);
  for (std::size_t probe = 0; probe < kProbes; ++probe) {
    Slot& slot = slots_[(Hash(key) + probe) % kSlots];
    std::uintptr_t held = slot.key.load(std::memory_order_acquire);
    if (held == 0 && slot.key.compare_exchange_strong(held, wanted, std::memory_order_acq_rel))
      return &slot;
    if (held == wanted) return &slot;
  }
  return nullptr;  // region full: the key keeps using the average
}

bool LaunchCostModel::HasSample(const void* key) const {
  const Slot* slot = Find(key);
  return slot != nullptr && slot->cost_ns.load(std::memory_order_relaxed) > 0;
}

std::int64_t LaunchCostModel::Estimate(const void* key, bool* sampled) const {
  bool full = false;
  if (const Slot* slot = Find(key, &full)) {
    std::int64_t cost = slot->cost_ns.load(std::memory_order_relaxed);
    if (sampled != nullptr) *sampled = cost > 0;
    if (cost > 0) return cost;
  }
  // A key the table has no room for keeps the average: timing it would teach nothing.
  if (sampled != nullptr) *sampled = full;
  return average_ns_.load(std::memory_order_relaxed);
}

void LaunchCostModel::AddSample(const void* key, std::int64_t measured_ns, int contenders) {
  if (measured_ns <= 0) measured_ns = 1;
  Slot* slot = Claim(key);
  const std::int64_t estimate = slot == nullptr ? 0 : slot->cost_ns.load(std::memory_order_relaxed);
  // The first sample of a kernel is taken whatever it is (better than the average of others).
  // A contended sample is an upper bound of the cost: news only when below the estimate. (No
  // useful lower bound follows from it: a kernel shorter than a time slice may wait a whole
  // slice of each neighbour.)
  if (contenders > 0 && estimate > 0 && measured_ns >= estimate) return;
  const std::int64_t average = average_ns_.load(std::memory_order_relaxed);
  if (contenders == 0 || measured_ns < average)  // the average follows the same rule
    average_ns_.store((average * 7 + measured_ns) / 8, std::memory_order_relaxed);
  if (slot == nullptr) return;
  slot->recent[slot->next.fetch_add(1, std::memory_order_relaxed) % kWindow].store(
      measured_ns, std::memory_order_relaxed);
  std::int64_t shortest = 0;
  for (const auto& sample : slot->recent) {
    std::int64_t value = sample.load(std::memory_order_relaxed);
    if (value > 0 && (shortest == 0 || value < shortest)) shortest = value;
  }
  slot->cost_ns.store(shortest, std::memory_order_relaxed);
}

}  // namespace flexai::isolation
