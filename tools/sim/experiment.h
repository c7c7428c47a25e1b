// One replay of the FGD paper's protocol (USENIX ATC'23): shuffle the tasks with the seed, append
// tasks sampled with replacement until the GPU request reaches `inflation` x cluster capacity,
// place them one by one with a policy; tasks never leave and a task that does not fit fails.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "partition/result.h"
#include "sim/trace.h"

namespace flexai::sim {

struct CurvePoint {
  double arrived_pct = 0;    // GPU request arrived so far / cluster GPU capacity
  double allocated_pct = 0;  // GPU capacity taken / capacity
  double frag_pct = 0;       // fragmented GPU capacity / capacity (FGD measure)
};

struct RunResult {
  std::string policy;
  uint64_t seed = 0;
  double unallocated_pct_at_100 = 0;
  double allocated_pct_at_100 = 0;
  double frag_pct_at_75 = 0;
  double served_gpu_demand_pct = 0;  // placed tasks' requested GPU share / capacity, at the end
  int64_t tasks_arrived = 0;
  int64_t tasks_placed = 0;
  int64_t gpu_tasks_placed = 0;
  double median_decision_us = 0;
  std::vector<CurvePoint> points;  // one per whole percent of arrived GPU request
};

struct ExperimentOptions {
  double inflation = 1.3;
  std::map<std::string, double> weights;  // placement policy knobs (see PolicyContext)
};

// Runs `policy` (a name from KnownPolicies()) on `trace` with `seed`.
Result<RunResult> RunOnce(const Trace& trace, const std::string& policy, uint64_t seed,
                          const ExperimentOptions& options = {});

// Policy names the simulator accepts ("exclusive" plus the placement policies).
std::vector<std::string> KnownPolicies();

}  // namespace flexai::sim
