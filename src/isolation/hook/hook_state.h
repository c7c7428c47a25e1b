// Everything the hooks of one process share: the parsed environment, the shared accounting file,
// the live allocations and the launch cost model. Built on the first intercepted call, so that
// processes which never touch CUDA pay nothing for having the library preloaded.
#pragma once

#include <time.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>

#include "isolation/hook/allocation_table.h"
#include "isolation/hook/device_activity.h"
#include "isolation/hook/device_busy.h"
#include "isolation/hook/hook_config.h"
#include "isolation/hook/launch_cost_model.h"
#include "isolation/hook/share_calibration.h"
#include "isolation/hook/shared_usage.h"

namespace flexai::isolation {

struct HookState {
  HookConfig config;
  std::unique_ptr<SharedUsage> usage;  // never null once built (anonymous fallback)
  AllocationTable allocations;
  LaunchCostModel costs;
  std::unique_ptr<DeviceActivity> activity;  // never null once built (may have no boards)
  ShareCalibration calibration;
  DeviceBusy device_busy;
  // Shared by an allocation (driver call and record) and a free (record and driver call);
  // exclusive for a context end (driver call and the return of the context's records), so that
  // neither ever happens halfway through the other.
  std::shared_mutex context_lock;
};

HookState& State();

// CLOCK_MONOTONIC in ns: the clock of launch timing, activity boards and share windows.
inline std::int64_t NowNs() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<std::int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

// The accounting slot of the device of the calling thread's current context (0 when there is
// none): see DeviceSlot.
int CurrentDevice();

// Counts context destructions (cuCtxDestroy, primary context resets and last releases), bumped
// before the driver is asked: a launch timing sample recorded under an older value may hold
// events of a context that no longer exists, and is dropped without touching them.
std::atomic<std::uint64_t>& ContextEpoch();

// The calling thread's current CUcontext as a number (0 when there is none).
std::uintptr_t CurrentContext();

// The accounting slot (index into FLEXAI_MEMORY_LIMIT_MIB, FLEXAI_CORES_LIMIT and usage.bin) of
// a CUDA device ordinal: the position of the device's UUID in FLEXAI_VISIBLE_DEVICES, so that a
// process that renumbers its GPUs (CUDA_VISIBLE_DEVICES=1, as launchers give each worker one) is
// held to, and charged against, the right chip. The ordinal itself when the list is not given or
// does not name the device.
int DeviceSlot(int ordinal);

// The UUID of the GPU behind an accounting slot: its FLEXAI_VISIBLE_DEVICES entry, else (no list:
// slots are ordinals) the driver's answer. Empty when unknown.
std::string GpuUuidOfSlot(int slot);

// "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", as NVML and nvidia-smi spell a GPU's UUID.
std::string FormatGpuUuid(const unsigned char (&bytes)[16]);

// Prints "flexai-cuda: <message>" on stderr.
void HookLog(const char* message);

}  // namespace flexai::isolation
