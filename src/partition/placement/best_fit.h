// Simple sharing policies: `bestfit` packs a pod where it leaves the least free chip capacity,
// and `exclusive` is the no-sharing baseline (every chip request becomes whole chips).
#pragma once

#include "partition/placement/placement_policy.h"

namespace flexai::partition {

class BestFitPolicy : public PlacementPolicy {
 public:
  std::string_view name() const override { return "bestfit"; }
  std::optional<NodeChoice> Evaluate(const NodeState& node, const PodRequest& pod) const override;
};

// Rounds every container's per-chip share up to whole, exclusive chips.
PodRequest AsExclusive(const PodRequest& pod);

}  // namespace flexai::partition
