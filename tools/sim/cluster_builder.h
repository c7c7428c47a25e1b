// Turns a trace into the domain core's objects: NodeState per trace node (chips of the node's
// model) and a PodRequest per task.
#pragma once

#include <vector>

#include "partition/assignment.h"
#include "partition/node_state.h"
#include "partition/placement/typical_workload.h"
#include "sim/trace.h"

namespace flexai::sim {

std::vector<partition::NodeState> BuildCluster(const std::vector<TraceNode>& nodes);
partition::PodRequest ToPodRequest(const TraceTask& task, const std::string& uid);
partition::TaskShape ToTaskShape(const TraceTask& task);
// Device memory the simulator gives a chip of `model` (the trace has none; only proportions
// matter because trace tasks ask compute shares).
int64_t ModelMemoryMib(const std::string& model);

}  // namespace flexai::sim
