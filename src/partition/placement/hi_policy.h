// The Hi Scheduler's own placement policy (the default). See hi_policy.cc for the design.
#pragma once

#include <map>
#include <string>

#include "partition/placement/fgd_policy.h"
#include "partition/placement/placement_policy.h"
#include "partition/placement/simple_policies.h"

namespace flexai::partition {

class HiPolicy : public PlacementPolicy {
 public:
  // `weights` are the scheduler knobs of the slice policy (unknown names are ignored).
  HiPolicy(TypicalWorkload workload, const std::map<std::string, double>& weights = {});
  std::string_view name() const override { return "hi"; }
  std::optional<NodeChoice> Evaluate(const NodeState& node, const PodRequest& pod) const override;

 private:
  FragmentationCache frag_;
  double cpu_weight_ = 0.3;  // preference for nodes left with less free CPU, among equal grades
  double fit_weight_ = 0.5;  // preference for nodes left with less idle GPU, among equal grades
};

}  // namespace flexai::partition
