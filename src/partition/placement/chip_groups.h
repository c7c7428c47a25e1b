// Keeping a pod inside one group of chips: one NUMA node (flexai.io/numa-bind), one NVLink island
// or HCCS ring (flexai.io/island-bind), or both. A chip whose island is unknown (link group -1)
// is an island of its own, so a multi-chip pod never lands across chips not known to be linked.
#pragma once

#include <optional>
#include <vector>

#include "partition/assignment.h"
#include "partition/node_state.h"

namespace flexai::partition {

struct ChipGrouping {
  bool numa = false;
  bool island = false;
  bool any() const { return numa || island; }
};

// The chips for each container of `pod`, all inside one group. Groups are tried by their free
// compute, least first when `busiest_first` (binpack) else most first; within a group chips are
// taken in `order`. nullopt when no group has room for the whole pod.
std::optional<std::vector<ChipSet>> PickChipsInOneGroup(const NodeState& node,
                                                        const PodRequest& pod,
                                                        const std::vector<int>& order,
                                                        ChipGrouping grouping, bool busiest_first);

}  // namespace flexai::partition
