// The "typical tasks" a cluster expects: the most frequent task shapes covering a share (95% by
// default) of observed tasks, with their popularity. Fragmentation is measured against it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace flexai::partition {

// The part of a task that matters for fragmentation: host CPU and memory and the GPU ask.
struct TaskShape {
  int64_t cpu_milli = 0;
  int gpu_milli = 0;  // per GPU, 1..1000; 0 for CPU-only tasks
  int num_gpu = 0;
  std::string gpu_spec;    // allowed models joined by '|', empty = any
  int64_t memory_mib = 0;  // host memory; not part of a typical task's identity (see below)

  bool operator==(const TaskShape&) const = default;
};

struct TypicalTask {
  TaskShape shape;
  double popularity = 0;  // sums to 1 over the workload
};

struct TypicalWorkload {
  std::vector<TypicalTask> tasks;
};

// Groups `observed` by shape (CPU, GPU ask, spec), sorts by count (ties: larger cpu, gpu_milli,
// num_gpu, spec first), keeps the shortest prefix whose count reaches `coverage` of the total, and
// renormalises. A typical task's memory is the median memory of its group: memory varies too much
// to split groups by it (FGD's typical tasks, which ignore memory, stay as the paper has them).
TypicalWorkload BuildTypicalWorkload(const std::vector<TaskShape>& observed,
                                     double coverage = 0.95);

// True when a node whose chips are of `model` may host a task restricted to `gpu_spec`.
bool ModelAllowed(const std::string& gpu_spec, const std::string& model);

}  // namespace flexai::partition
