// The workload and cluster of a trace replay: nodes (host resources + GPUs of one model) and
// tasks (host resources + GPU ask), as in Alibaba's openb trace. Plain data, no policy.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "partition/result.h"

namespace flexai::sim {

struct TraceNode {
  std::string name;
  int64_t cpu_milli = 0;
  int64_t memory_mib = 0;
  int gpus = 0;
  std::string model;  // empty for CPU-only nodes
};

struct TraceTask {
  std::string name;
  int64_t cpu_milli = 0;
  int64_t memory_mib = 0;
  int num_gpu = 0;                    // 0 = CPU-only
  int gpu_milli = 0;                  // per GPU, 1..1000 (1000 = whole GPU); 0 for CPU-only
  std::vector<std::string> gpu_spec;  // allowed models; empty = any
  int64_t creation_time = -1;         // seconds; -1 when the file has no timestamps
  int64_t deletion_time = -1;
  int priority = 0;

  // GPU demand in thousandths of a GPU.
  int64_t gpu_demand_milli() const { return static_cast<int64_t>(num_gpu) * gpu_milli; }
};

struct Trace {
  std::vector<TraceNode> nodes;
  std::vector<TraceTask> tasks;
  std::string source;  // where it came from, for the report

  int64_t total_gpus() const;
};

// Readers for the openb CSV files. Errors name `file:line` and the reason; nothing is returned
// half-read.
Result<std::vector<TraceNode>> ReadNodesCsv(const std::string& path);
Result<std::vector<TraceTask>> ReadTasksCsv(const std::string& path);
// Same, from text already in memory (`source` names it in errors).
Result<std::vector<TraceNode>> ParseNodesCsv(const std::string& text, const std::string& source);
Result<std::vector<TraceTask>> ParseTasksCsv(const std::string& text, const std::string& source);

}  // namespace flexai::sim
