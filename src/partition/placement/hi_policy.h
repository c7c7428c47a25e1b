// The Hi Scheduler's own placement policy (the default). See hi_policy.cc for the design.
#pragma once

#include "partition/placement/fgd_policy.h"
#include "partition/placement/placement_policy.h"

namespace flexai::partition {

class HiPolicy : public PlacementPolicy {
 public:
  explicit HiPolicy(TypicalWorkload workload) : frag_(std::move(workload)) {}
  std::string_view name() const override { return "hi"; }
  std::optional<NodeChoice> Evaluate(const NodeState& node, const PodRequest& pod) const override;

 private:
  FragmentationCache frag_;
};

}  // namespace flexai::partition
