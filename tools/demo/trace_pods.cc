#include "trace_pods.h"

#include <algorithm>
#include <string>

namespace flexai::e2e {

TracePodSampler::TracePodSampler(const sim::Trace& trace, int chips_per_node,
                                 int64_t chip_memory_mib, uint32_t seed)
    : chip_memory_mib_(chip_memory_mib), rng_(seed) {
  for (const auto& t : trace.tasks) {
    if (t.num_gpu > 0 && t.num_gpu <= chips_per_node && t.gpu_milli > 0) tasks_.push_back(t);
  }
}

PodPlan TracePodSampler::Next(std::chrono::milliseconds min_run,
                              std::chrono::milliseconds max_run) {
  const auto& t = tasks_[std::uniform_int_distribution<size_t>(0, tasks_.size() - 1)(rng_)];
  PodPlan p;
  p.name = "task-" + std::to_string(count_++);
  ContainerAsk ask;
  ask.gpus = t.num_gpu;
  if (t.gpu_milli < 1000) {
    // A share of a chip: that share of its compute and of its memory.
    ask.cores = std::max(1, t.gpu_milli / 10);
    ask.memory_mib = std::max<int64_t>(256, chip_memory_mib_ * t.gpu_milli / 1000 / 256 * 256);
  }
  p.containers = {ask};
  p.run_for = std::chrono::milliseconds(
      std::uniform_int_distribution<int64_t>(min_run.count(), max_run.count())(rng_));
  return p;
}

}  // namespace flexai::e2e
