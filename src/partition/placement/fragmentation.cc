#include "partition/placement/fragmentation.h"

#include <numeric>

namespace flexai::partition {

int64_t GpuNodeView::idle_milli() const {
  return std::accumulate(gpu_left_milli.begin(), gpu_left_milli.end(), int64_t{0});
}

GpuNodeView ViewOf(const NodeState& node) {
  GpuNodeView view;
  view.cpu_left_milli = node.host_free().cpu_milli;
  view.memory_left_mib = node.host_free().memory_mib;
  view.model = node.chip_count() ? node.chip(0).model : "";
  view.gpu_left_milli.reserve(static_cast<size_t>(node.chip_count()));
  for (int i = 0; i < node.chip_count(); ++i) {
    const ChipLedger& l = node.ledger(i);
    bool usable = node.chip(i).healthy() && !l.held_exclusively();
    view.gpu_left_milli.push_back(usable ? l.free_cores() * 10 : 0);
  }
  return view;
}

int64_t TaskFragmentation(const GpuNodeView& node, const TaskShape& task, bool memory) {
  const int64_t idle = node.idle_milli();
  if (task.gpu_milli == 0) return idle;  // a CPU-only task uses no idle GPU
  if (!ModelAllowed(task.gpu_spec, node.model)) return idle;
  int roomy = 0;
  int64_t too_small = 0;
  for (int left : node.gpu_left_milli) {
    if (left >= task.gpu_milli) {
      ++roomy;
    } else {
      too_small += left;
    }
  }
  if (roomy < task.num_gpu) return idle;
  if (node.cpu_left_milli < task.cpu_milli) return idle;
  if (memory && node.memory_left_mib < task.memory_mib) return idle;
  return too_small;
}

double NodeFragmentation(const GpuNodeView& node, const TypicalWorkload& workload, bool memory) {
  double frag = 0;
  for (const auto& t : workload.tasks) {
    frag += t.popularity * static_cast<double>(TaskFragmentation(node, t.shape, memory));
  }
  return frag;
}

}  // namespace flexai::partition
