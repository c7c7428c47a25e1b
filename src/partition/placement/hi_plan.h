// Bin-packing plan for shared GPUs, used by the `hi` policy: the typical workload's fractional
// asks are packed offline into GPU "configurations" (e.g. 810+160, 650+320, 470+470), and each
// GPU that a shared task opens is given one configuration as its target. Later shared tasks go
// to a GPU whose target still has a slot of their size. See hi_policy.cc for why.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "partition/node_state.h"
#include "partition/placement/typical_workload.h"

namespace flexai::partition {

// One GPU's planned contents (milli-GPU asks, descending) and how often the plan uses it.
struct BinConfig {
  std::vector<int> sizes;
  double weight = 0;
};

// Minimum-bin-slack packing of the typical fractional asks (each popularity scaled to `scale`
// items): repeatedly take the largest ask left and fill its GPU as fully as the asks left allow.
std::vector<BinConfig> MakeBinPlan(const TypicalWorkload& workload, int scale = 3000);

// Best subset (as a multiset) of `counts` (ask -> how many) that fits `room`; exact knapsack.
std::vector<int> BestFill(const std::map<int, int>& counts, int room);

// Target contents of every shared GPU of the cluster, kept up to date from node changes.
class PlanTracker {
 public:
  explicit PlanTracker(std::vector<BinConfig> plan) : plan_(std::move(plan)) {}
  // The asks still planned on chip `chip` of `node` (empty when none).
  const std::vector<int>& Slots(const NodeState& node, int chip) const;
  bool HasSlot(const NodeState& node, int chip, int milli) const;
  // Whether some configuration of the plan holds `milli`.
  bool Planned(int milli) const;
  // Diffs the node's chips against what was seen last: a chip that took `d` milli loses that
  // slot (a fresh chip gets the least-used configuration holding `d`); a chip that got capacity
  // back forgets its plan.
  void OnNodeChanged(const NodeState& node);
  // Learns a node's chips the first time it is seen (the cluster's size is not given up front).
  void See(const NodeState& node) const;
  // Share of the chips seen that are still wholly free.
  double FreeShare() const;
  // Bumped by every change of what Slots or FreeShare answer (a node seen first, a node changed).
  uint64_t Version() const;
  // Bumped by every change of what Slots answers (a node changed; seeing a node adds no slot).
  uint64_t SlotsVersion() const;
  // Whether some chip ever got capacity back (a task left): the cluster is live, not filling.
  bool ReleasesSeen() const;

 private:
  struct Chip {
    int left = 1000;
    std::vector<int> slots;
  };
  std::vector<int> OpenBin(int milli);

  std::vector<BinConfig> plan_;
  std::vector<int> opened_;  // per configuration, GPUs given it so far
  mutable std::mutex mu_;
  mutable std::unordered_map<std::string, std::vector<Chip>> chips_;
  mutable int64_t chips_seen_ = 0;
  mutable int64_t chips_used_ = 0;  // chips seen with less than a whole GPU free
  mutable uint64_t version_ = 0;
  uint64_t slots_version_ = 0;
  bool releases_seen_ = false;
};

}  // namespace flexai::partition
