// Small hand-built nodes and pods for placement tests, in the trace's units.
#pragma once

#include <string>
#include <vector>

#include "partition/node_state.h"

namespace flexai::partition::testing {

inline NodeState GpuNode(const std::string& name, int gpus, int64_t cpu_milli,
                         const std::string& model = "T4", int64_t memory_mib = 1 << 20) {
  std::vector<Chip> chips;
  std::vector<ChipCapacity> caps;
  for (int i = 0; i < gpus; ++i) {
    Chip c;
    c.index = i;
    c.uuid = name + "-gpu" + std::to_string(i);
    c.model = model;
    c.memory_mib = 10000;
    chips.push_back(c);
    ChipCapacity cap;
    cap.memory_mib = 10000;
    caps.push_back(cap);
  }
  return NodeState(name, {cpu_milli, memory_mib}, chips, caps);
}

// A task in the trace's terms: per-GPU share in milli (1000 = whole), GPU count, CPU milli.
inline PodRequest Task(const std::string& uid, int gpu_milli, int num_gpu, int64_t cpu_milli) {
  PodRequest p;
  p.uid = uid;
  p.host = {cpu_milli, 0};
  if (num_gpu > 0) {
    SliceRequest s;
    s.chips = num_gpu;
    if (gpu_milli < 1000) s.cores = gpu_milli / 10;
    p.containers.push_back({"main", s});
  }
  return p;
}

// Places `pod` on the chips given, failing the test if it does not apply.
inline void Place(NodeState& node, const PodRequest& pod, ChipSet chips) {
  Status s = node.Apply(node.MakeAssignment(pod, {chips}));
  if (!s.ok()) throw std::runtime_error(s.message());
}

}  // namespace flexai::partition::testing
