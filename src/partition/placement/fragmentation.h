// GPU fragmentation of a node against a typical workload (FGD, USENIX ATC'23): the expected amount
// of idle GPU capacity that a typical task could not use on this node.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "partition/node_state.h"
#include "partition/placement/typical_workload.h"

namespace flexai::partition {

// A node reduced to what fragmentation depends on. GPU amounts are in thousandths of a GPU.
struct GpuNodeView {
  int64_t cpu_left_milli = 0;
  std::string model;
  std::vector<int> gpu_left_milli;  // per chip, 0..1000 (unhealthy chips count 0)
  int64_t memory_left_mib = 0;      // read only by memory-aware fragmentation

  int64_t idle_milli() const;
};

GpuNodeView ViewOf(const NodeState& node);

// Expected fragmented GPU capacity (milli-GPU) of `node` against `workload`: for each typical
// task, the idle GPU capacity it cannot use here, weighted by its popularity. A task that cannot
// run on the node at all (CPU-only tasks, wrong model, too few GPUs with room, too little CPU)
// leaves all idle GPU capacity fragmented; a task that can run leaves only the GPUs with less room
// than it asks. With `memory`, too little host memory also keeps a task off the node (FGD's
// definition has CPU only; on openb, memory strands as many idle GPUs as CPU does).
double NodeFragmentation(const GpuNodeView& node, const TypicalWorkload& workload,
                         bool memory = false);

// The contribution of one typical task (unweighted).
int64_t TaskFragmentation(const GpuNodeView& node, const TaskShape& task, bool memory = false);

}  // namespace flexai::partition
