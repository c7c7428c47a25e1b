#include "sim/embedded_workload.h"

#include <cstdio>

namespace flexai::sim {
namespace {

struct EmbeddedNodeType {
  int count;
  int64_t cpu_milli;
  int64_t memory_mib;
  int gpus;
  const char* model;
};

struct EmbeddedTaskShape {
  int count;
  int64_t cpu_milli;
  int64_t memory_mib;
  int num_gpu;
  int gpu_milli;
  const char* gpu_spec;
};

#include "sim/embedded_table.inc"

std::string Numbered(const char* prefix, size_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%s%04zu", prefix, i);
  return buf;
}

}  // namespace

Trace EmbeddedDefaultTrace() {
  Trace trace;
  trace.source = "embedded default (openb default composition)";
  for (const auto& type : kEmbeddedNodeTypes) {
    for (int i = 0; i < type.count; ++i) {
      trace.nodes.push_back({Numbered("sim-node-", trace.nodes.size()), type.cpu_milli,
                             type.memory_mib, type.gpus, type.model});
    }
  }
  for (const auto& shape : kEmbeddedTaskShapes) {
    for (int i = 0; i < shape.count; ++i) {
      TraceTask t;
      t.name = Numbered("sim-task-", trace.tasks.size());
      t.cpu_milli = shape.cpu_milli;
      t.memory_mib = shape.memory_mib;
      t.num_gpu = shape.num_gpu;
      t.gpu_milli = shape.gpu_milli;
      if (shape.gpu_spec[0] != '\0') t.gpu_spec.emplace_back(shape.gpu_spec);
      trace.tasks.push_back(std::move(t));
    }
  }
  return trace;
}

}  // namespace flexai::sim
