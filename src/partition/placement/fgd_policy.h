// Fragmentation Gradient Descent (FGD, USENIX ATC'23): place a task where it increases the node's
// expected GPU fragmentation the least, measured against the typical workload.
#pragma once

#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "partition/placement/fragmentation.h"
#include "partition/placement/placement_policy.h"

namespace flexai::partition {

// Memoised NodeFragmentation: fragmentation depends only on the model, on which typical tasks'
// CPU asks still fit, and on the multiset of chip leftovers, so equal nodes share one entry.
class FragmentationCache {
 public:
  // `memory`: host memory counts too (NodeFragmentation's `memory`).
  explicit FragmentationCache(TypicalWorkload workload, bool memory = false);
  double Of(const GpuNodeView& view) const;
  const TypicalWorkload& workload() const { return workload_; }

 private:
  TypicalWorkload workload_;
  bool memory_;
  std::vector<int64_t> cpu_thresholds_;     // distinct typical CPU asks, ascending
  std::vector<int64_t> memory_thresholds_;  // distinct typical memory asks (when memory_)
  mutable std::mutex mu_;
  mutable std::unordered_map<std::string, double> memo_;
};

class FgdPolicy : public PlacementPolicy {
 public:
  explicit FgdPolicy(TypicalWorkload workload) : frag_(std::move(workload)) {}
  std::string_view name() const override { return "fgd"; }
  std::optional<NodeChoice> Evaluate(const NodeState& node, const PodRequest& pod) const override;

 private:
  FragmentationCache frag_;
};

// sigmoid((before - after) / 1000) * 100, truncated: 50 means no change, higher is better.
int64_t FragGradientScore(double frag_before, double frag_after);

}  // namespace flexai::partition
