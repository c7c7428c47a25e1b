// Pods for the demo, sampled from the embedded workload (the same task shapes flexai-sim
// replays): each GPU task becomes a pod whose one container asks its chips and its share of each.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "harness/workload.h"
#include "sim/trace.h"

namespace flexai::e2e {

class TracePodSampler {
 public:
  // Keeps the trace's GPU tasks that fit a node of `chips_per_node` chips.
  TracePodSampler(const sim::Trace& trace, int chips_per_node, int64_t chip_memory_mib,
                  uint32_t seed);
  bool empty() const { return tasks_.empty(); }
  // The next pod: a task drawn at random, running for a random time in [min_run, max_run].
  PodPlan Next(std::chrono::milliseconds min_run, std::chrono::milliseconds max_run);

 private:
  std::vector<sim::TraceTask> tasks_;
  int64_t chip_memory_mib_;
  std::mt19937 rng_;
  int count_ = 0;
};

}  // namespace flexai::e2e
