// Which pods to evict from one node so that a higher-priority pod fits there (the extender's
// preempt verb). Plain structs: the caller says which pods may go, their priorities and the
// disruption budgets covering them, and how to test whether the preemptor fits a node state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "partition/node_state.h"

namespace flexai::partition {

// A pod on the node, as preemption sees it.
struct RunningPod {
  std::string uid;
  int32_t priority = 0;
  // Indexes into the budgets' `allowed` vector of the disruption budgets that cover this pod.
  std::vector<size_t> budgets;
};

// What a set of victims costs; smaller is better, compared in this order: disruption-budget
// violations, then number of victims, then the highest victim priority, then the priority sum.
struct VictimCost {
  int64_t pdb_violations = 0;
  int64_t victims = 0;
  int64_t highest_priority = 0;
  int64_t priority_sum = 0;
  auto operator<=>(const VictimCost&) const = default;
};

struct VictimSet {
  std::vector<std::string> uids;  // lowest priority first (ties by uid)
  VictimCost cost;
};

struct VictimSearchLimits {
  // Fit checks spent on improving the greedy answer (the greedy pass itself always completes).
  int max_fit_checks = 512;
};

// Whether the preemptor fits `node` (the same check the filter makes).
using FitCheck = std::function<bool(const NodeState& node)>;

// Chooses victims among `pods` with priority strictly below `preemptor_priority` so that `fits`
// holds once their slices are released from `node`. `budget_allowed[b]` is how many more pods
// budget b lets go (PodDisruptionBudget status.disruptionsAllowed); evicting past it counts as a
// violation. Pods in `pods` that hold nothing on `node` are ignored.
//
// Starts like kube-scheduler's SelectVictimsOnNode (release every candidate, then give back
// ("reprieve") as many as still fit, budget-covered and higher-priority ones first) and then
// searches smaller sets, fewest victims first, within `limits`, keeping the cheapest (VictimCost).
// Returns nullopt when even releasing every candidate does not make room; an empty set when the
// pod fits already. `node` is used as scratch space and is left as it came in.
std::optional<VictimSet> SelectVictims(NodeState& node, int32_t preemptor_priority,
                                       const std::vector<RunningPod>& pods,
                                       const std::vector<int64_t>& budget_allowed,
                                       const FitCheck& fits, VictimSearchLimits limits = {});

// The cost of evicting `victims` (pods of `pods`, by index): violations are counted as
// kube-scheduler does, charging each budget in order of decreasing victim priority.
VictimCost CostOf(const std::vector<RunningPod>& pods, const std::vector<size_t>& victims,
                  const std::vector<int64_t>& budget_allowed);

}  // namespace flexai::partition
