// Everything the hooks of one process share: the parsed environment, the shared accounting file,
// the live allocations and the launch cost model. Built on the first intercepted call, so that
// processes which never touch CUDA pay nothing for having the library preloaded.
#pragma once

#include <memory>

#include "isolation/hook/allocation_table.h"
#include "isolation/hook/hook_config.h"
#include "isolation/hook/launch_cost_model.h"
#include "isolation/hook/shared_usage.h"

namespace flexai::isolation {

struct HookState {
  HookConfig config;
  std::unique_ptr<SharedUsage> usage;  // never null once built (anonymous fallback)
  AllocationTable allocations;
  LaunchCostModel costs;
};

HookState& State();

// Ordinal of the device of the calling thread's current context (0 when there is none).
int CurrentDevice();

// Prints "flexai-cuda: <message>" on stderr.
void HookLog(const char* message);

}  // namespace flexai::isolation
