#include "device_plugin/preferred_allocation.h"

#include <algorithm>
#include <map>
#include <set>

#include "device_plugin/device_id.h"

namespace flexai::device_plugin {
namespace {

// Closeness of two chips: sharing a link group counts more than sharing a NUMA node.
int Affinity(const partition::Chip& a, const partition::Chip& b) {
  int score = 0;
  if (a.link_group >= 0 && a.link_group == b.link_group) score += 2;
  if (a.numa_node >= 0 && a.numa_node == b.numa_node) score += 1;
  return score;
}

struct Pool {
  std::map<std::string, const partition::Chip*> chips;         // by uuid
  std::map<std::string, std::vector<std::string>> free_slots;  // uuid -> device IDs, sorted
};

// Grows `chosen` (chip UUIDs) to `want` distinct chips, each step adding the chip closest to
// those already chosen; ties go to the lower chip index.
void GrowClosest(const Pool& pool, std::vector<std::string>& chosen, size_t want) {
  while (chosen.size() < want) {
    const partition::Chip* best = nullptr;
    int best_score = -1;
    for (const auto& [uuid, slots] : pool.free_slots) {
      if (slots.empty() || std::find(chosen.begin(), chosen.end(), uuid) != chosen.end()) continue;
      const partition::Chip* chip = pool.chips.at(uuid);
      int score = 0;
      for (const auto& c : chosen) score += Affinity(*chip, *pool.chips.at(c));
      if (score > best_score || (score == best_score && chip->index < best->index)) {
        best = chip;
        best_score = score;
      }
    }
    if (best == nullptr) return;
    chosen.push_back(best->uuid);
  }
}

int TotalAffinity(const Pool& pool, const std::vector<std::string>& chosen) {
  int total = 0;
  for (size_t i = 0; i < chosen.size(); ++i) {
    for (size_t j = i + 1; j < chosen.size(); ++j) {
      total += Affinity(*pool.chips.at(chosen[i]), *pool.chips.at(chosen[j]));
    }
  }
  return total;
}

}  // namespace

std::vector<std::string> ChoosePreferredDevices(const std::vector<partition::Chip>& chips,
                                                const PreferredAllocationInput& input) {
  Pool pool;
  for (const auto& chip : chips) pool.chips[chip.uuid] = &chip;
  std::set<std::string> must(input.must_include.begin(), input.must_include.end());
  for (const auto& id : input.available) {
    auto parsed = ParseDeviceId(id);
    if (!parsed || !pool.chips.contains(parsed->chip_uuid) || must.contains(id)) continue;
    pool.free_slots[parsed->chip_uuid].push_back(id);
  }
  for (auto& [uuid, slots] : pool.free_slots) std::sort(slots.begin(), slots.end());

  std::vector<std::string> result(input.must_include.begin(), input.must_include.end());
  const size_t size = static_cast<size_t>(std::max(input.size, 0));
  if (result.size() >= size) return result;

  // Chips already fixed by must_include, then the pending assignment's chips.
  std::vector<std::string> fixed;
  for (const auto& id : input.must_include) {
    auto parsed = ParseDeviceId(id);
    if (parsed && pool.chips.contains(parsed->chip_uuid) &&
        std::find(fixed.begin(), fixed.end(), parsed->chip_uuid) == fixed.end()) {
      fixed.push_back(parsed->chip_uuid);
    }
  }
  size_t distinct_wanted = fixed.size() + (size - result.size());
  for (const auto& uuid : input.hint_chips) {
    if (fixed.size() >= distinct_wanted) break;
    auto it = pool.free_slots.find(uuid);
    if (it != pool.free_slots.end() && !it->second.empty() &&
        std::find(fixed.begin(), fixed.end(), uuid) == fixed.end()) {
      fixed.push_back(uuid);
    }
  }

  // Try every free chip as the seed next to the fixed ones; keep the closest-knit set.
  std::vector<std::string> best = fixed;
  GrowClosest(pool, best, distinct_wanted);
  int best_score = TotalAffinity(pool, best);
  for (const auto& [uuid, slots] : pool.free_slots) {
    if (slots.empty() || std::find(fixed.begin(), fixed.end(), uuid) != fixed.end()) continue;
    if (fixed.size() >= distinct_wanted) break;
    std::vector<std::string> candidate = fixed;
    candidate.push_back(uuid);
    GrowClosest(pool, candidate, distinct_wanted);
    int score = TotalAffinity(pool, candidate);
    if (candidate.size() > best.size() || (candidate.size() == best.size() && score > best_score)) {
      best = std::move(candidate);
      best_score = score;
    }
  }

  // One free slot from each chosen chip that has none yet among the must-includes.
  std::set<std::string> covered;
  for (const auto& id : input.must_include) {
    if (auto parsed = ParseDeviceId(id)) covered.insert(parsed->chip_uuid);
  }
  std::map<std::string, size_t> next_slot;
  for (const auto& uuid : best) {
    if (result.size() >= size) break;
    if (covered.contains(uuid)) continue;
    auto& slots = pool.free_slots[uuid];
    if (slots.empty()) continue;
    result.push_back(slots[next_slot[uuid]++]);
    covered.insert(uuid);
  }
  // Not enough distinct chips: take further slots, from the chosen chips first.
  for (const auto& uuid : best) {
    auto& slots = pool.free_slots[uuid];
    while (result.size() < size && next_slot[uuid] < slots.size()) {
      result.push_back(slots[next_slot[uuid]++]);
    }
  }
  for (auto& [uuid, slots] : pool.free_slots) {
    while (result.size() < size && next_slot[uuid] < slots.size()) {
      result.push_back(slots[next_slot[uuid]++]);
    }
  }
  return result;
}

}  // namespace flexai::device_plugin
