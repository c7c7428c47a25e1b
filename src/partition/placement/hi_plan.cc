#include "partition/placement/hi_plan.h"

#include <algorithm>
#include <cmath>

#include "partition/placement/gpu_ask.h"

namespace flexai::partition {
namespace {

constexpr int kGpu = 1000;

// Fractional asks of the typical workload, by milli-GPU, as item counts out of `scale`.
std::map<int, int> SharedCounts(const TypicalWorkload& workload, int scale) {
  std::map<int, double> popularity;
  for (const auto& t : workload.tasks) {
    if (t.shape.num_gpu == 1 && t.shape.gpu_milli > 0 && t.shape.gpu_milli < kGpu)
      popularity[t.shape.gpu_milli] += t.popularity;
  }
  std::map<int, int> counts;
  for (const auto& [milli, p] : popularity) {
    int n = static_cast<int>(std::lround(p * scale));
    if (n > 0) counts[milli] = n;
  }
  return counts;
}

const std::vector<int> kNoSlots;

}  // namespace

std::vector<int> BestFill(const std::map<int, int>& counts, int room) {
  // reach[f] = the last ask added to reach fill f (0 = unreachable), with its predecessor fill.
  std::vector<int> last(static_cast<size_t>(room) + 1, 0), prev(static_cast<size_t>(room) + 1, -1);
  prev[0] = 0;
  for (auto it = counts.rbegin(); it != counts.rend(); ++it) {
    const auto [milli, n] = *it;
    for (int k = 0; k < n; ++k) {
      bool grew = false;
      for (int f = room - milli; f >= 0; --f) {
        auto from = static_cast<size_t>(f), to = static_cast<size_t>(f + milli);
        if (prev[from] < 0 || prev[to] >= 0) continue;
        prev[to] = f, last[to] = milli, grew = true;
      }
      if (!grew) break;
    }
  }
  int best = room;
  while (prev[static_cast<size_t>(best)] < 0) --best;
  std::vector<int> fill;
  for (int f = best; f > 0; f = prev[static_cast<size_t>(f)])
    fill.push_back(last[static_cast<size_t>(f)]);
  return fill;
}

std::vector<BinConfig> MakeBinPlan(const TypicalWorkload& workload, int scale) {
  std::map<int, int> counts = SharedCounts(workload, scale);
  std::map<std::vector<int>, int> configs;
  while (!counts.empty()) {
    auto largest = std::prev(counts.end());
    std::vector<int> bin = {largest->first};
    if (--largest->second == 0) counts.erase(largest);
    for (int milli : BestFill(counts, kGpu - bin[0])) {
      bin.push_back(milli);
      if (--counts[milli] == 0) counts.erase(milli);
    }
    std::sort(bin.rbegin(), bin.rend());
    ++configs[bin];
  }
  std::vector<BinConfig> plan;
  for (auto& [sizes, n] : configs) plan.push_back({sizes, static_cast<double>(n)});
  return plan;
}

const std::vector<int>& PlanTracker::Slots(const NodeState& node, int chip) const {
  std::lock_guard lock(mu_);
  auto it = chips_.find(node.name());
  if (it == chips_.end() || static_cast<size_t>(chip) >= it->second.size()) return kNoSlots;
  return it->second[static_cast<size_t>(chip)].slots;
}

bool PlanTracker::HasSlot(const NodeState& node, int chip, int milli) const {
  const auto& slots = Slots(node, chip);
  return std::find(slots.begin(), slots.end(), milli) != slots.end();
}

bool PlanTracker::Planned(int milli) const {
  return std::any_of(plan_.begin(), plan_.end(), [&](const BinConfig& c) {
    return std::find(c.sizes.begin(), c.sizes.end(), milli) != c.sizes.end();
  });
}

std::vector<int> PlanTracker::OpenBin(int milli) {
  if (opened_.empty()) opened_.assign(plan_.size(), 0);
  // The configuration holding `milli` that is furthest behind its planned share.
  int best = -1;
  double best_ratio = 0;
  for (size_t c = 0; c < plan_.size(); ++c) {
    const auto& sizes = plan_[c].sizes;
    if (std::find(sizes.begin(), sizes.end(), milli) == sizes.end()) continue;
    double ratio = (opened_[c] + 1) / plan_[c].weight;
    if (best < 0 || ratio < best_ratio) best = static_cast<int>(c), best_ratio = ratio;
  }
  if (best < 0) return {};
  ++opened_[static_cast<size_t>(best)];
  std::vector<int> slots = plan_[static_cast<size_t>(best)].sizes;
  slots.erase(std::find(slots.begin(), slots.end(), milli));
  return slots;
}

void PlanTracker::See(const NodeState& node) const {
  std::lock_guard lock(mu_);
  if (chips_.count(node.name())) return;
  ++version_;
  auto& chips = chips_[node.name()];
  for (int i = 0; i < node.chip_count(); ++i) {
    chips.push_back({ChipLeftMilli(node, i), {}});
    ++chips_seen_;
    if (chips.back().left < kGpu) ++chips_used_;
  }
}

double PlanTracker::FreeShare() const {
  std::lock_guard lock(mu_);
  return chips_seen_ ? 1 - static_cast<double>(chips_used_) / static_cast<double>(chips_seen_) : 1;
}

uint64_t PlanTracker::Version() const {
  std::lock_guard lock(mu_);
  return version_;
}

bool PlanTracker::ReleasesSeen() const {
  std::lock_guard lock(mu_);
  return releases_seen_;
}

uint64_t PlanTracker::SlotsVersion() const {
  std::lock_guard lock(mu_);
  return slots_version_;
}

void PlanTracker::OnNodeChanged(const NodeState& node) {
  std::lock_guard lock(mu_);
  ++version_;
  ++slots_version_;
  auto [entry, unseen] = chips_.try_emplace(node.name());
  auto& chips = entry->second;
  if (unseen) {  // changed before it was ever evaluated: take its chips as having been free
    chips.assign(static_cast<size_t>(node.chip_count()), Chip{});
    chips_seen_ += node.chip_count();
  }
  for (int i = 0; i < node.chip_count() && static_cast<size_t>(i) < chips.size(); ++i) {
    Chip& c = chips[static_cast<size_t>(i)];
    const int left = ChipLeftMilli(node, i);
    const int taken = c.left - left;
    chips_used_ += (left < kGpu) - (c.left < kGpu);
    if (taken > 0 && left > 0) {
      auto slot = std::find(c.slots.begin(), c.slots.end(), taken);
      if (slot != c.slots.end()) {
        c.slots.erase(slot);
      } else if (c.left == kGpu) {
        c.slots = OpenBin(taken);
      }
    }
    if (taken < 0) releases_seen_ = true;
    if (left <= 0 || taken < 0) c.slots.clear();
    // A slot that no longer fits (an unplanned ask took its room) is dropped, largest first.
    int planned = 0;
    for (int s : c.slots) planned += s;
    std::sort(c.slots.rbegin(), c.slots.rend());
    while (planned > left && !c.slots.empty())
      planned -= c.slots.front(), c.slots.erase(c.slots.begin());
    c.left = left;
  }
}

}  // namespace flexai::partition
