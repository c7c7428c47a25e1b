// Helpers shared by the placement policies: the GPU ask of a pod in the FGD paper's terms and
// the common ways of choosing chips on a node once the node is picked.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "partition/assignment.h"
#include "partition/node_state.h"
#include "partition/placement/placement_policy.h"
#include "partition/placement/typical_workload.h"

namespace flexai::partition {

// Milli-GPU per chip and chip count of a pod's first chip-asking container (the trace's pods have
// one); 0/0 for a pod that asks no chip.
struct GpuAsk {
  int milli = 0;
  int num = 0;
  int64_t total_milli() const { return static_cast<int64_t>(milli) * num; }
  bool cpu_only() const { return num == 0; }
  bool shared() const { return num == 1 && milli < 1000; }
};
GpuAsk AskOf(const PodRequest& pod);
TaskShape ShapeOf(const PodRequest& pod);
// The same shape read back from a placed pod (no model restriction: an assignment has none).
TaskShape ShapeOf(const PodAssignment& placed);

// Idle milli-GPU of chip i as the scheduler sees it (0 when unhealthy or held whole).
int ChipLeftMilli(const NodeState& node, int i);
int64_t NodeLeftMilli(const NodeState& node);

// Chip indexes ordered by least idle first, index order among equals: the paper's "best" GPU.
std::vector<int> TightestFirst(const NodeState& node);
// Picks chips in `order` and wraps them with `score`; nullopt when they do not fit.
std::optional<NodeChoice> ChooseInOrder(const NodeState& node, const PodRequest& pod,
                                        const std::vector<int>& order, double score);

// Node is worth scoring: host resources fit and every container has enough feasible chips.
bool Fits(const NodeState& node, const PodRequest& pod);

}  // namespace flexai::partition
