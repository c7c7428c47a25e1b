#include "sim/cluster_builder.h"

#include <map>

namespace flexai::sim {

int64_t ModelMemoryMib(const std::string& model) {
  static const std::map<std::string, int64_t> known = {
      {"V100M16", 16384}, {"V100M32", 32768}, {"P100", 16384}, {"T4", 15360},
      {"A10", 24576},     {"H100", 81559},    {"A100", 81920}};
  auto it = known.find(model);
  return it == known.end() ? 32768 : it->second;
}

std::vector<partition::NodeState> BuildCluster(const std::vector<TraceNode>& nodes) {
  std::vector<partition::NodeState> cluster;
  cluster.reserve(nodes.size());
  for (const auto& n : nodes) {
    std::vector<partition::Chip> chips;
    std::vector<partition::ChipCapacity> capacities;
    for (int g = 0; g < n.gpus; ++g) {
      partition::Chip chip;
      chip.vendor = partition::Vendor::kSim;
      chip.index = g;
      chip.uuid = n.name + "-gpu" + std::to_string(g);
      chip.model = n.model;
      chip.memory_mib = ModelMemoryMib(n.model);
      chip.numa_node = g < n.gpus / 2 ? 0 : 1;
      chip.link_group = n.gpus >= 8 ? g / 4 : 0;
      chips.push_back(std::move(chip));
      partition::ChipCapacity cap;
      cap.memory_mib = ModelMemoryMib(n.model);
      capacities.push_back(cap);
    }
    cluster.emplace_back(n.name, partition::HostResources{n.cpu_milli, n.memory_mib},
                         std::move(chips), std::move(capacities));
  }
  return cluster;
}

partition::PodRequest ToPodRequest(const TraceTask& task, const std::string& uid) {
  partition::PodRequest pod;
  pod.uid = uid;
  pod.host = {task.cpu_milli, task.memory_mib};
  if (task.num_gpu > 0) {
    partition::ContainerRequest c;
    c.name = "main";
    c.slice.chips = task.num_gpu;
    // Trace shares are thousandths of a GPU; round up to whole percent so nothing is under-asked.
    if (task.gpu_milli < 1000) c.slice.cores = (task.gpu_milli + 9) / 10;
    c.slice.allowed_models = task.gpu_spec;
    pod.containers.push_back(std::move(c));
  }
  return pod;
}

partition::TaskShape ToTaskShape(const TraceTask& task) {
  partition::TaskShape shape{task.cpu_milli, task.gpu_milli, task.num_gpu, "", task.memory_mib};
  for (size_t i = 0; i < task.gpu_spec.size(); ++i) {
    if (i) shape.gpu_spec += "|";
    shape.gpu_spec += task.gpu_spec[i];
  }
  return shape;
}

}  // namespace flexai::sim
