#include "isolation/hook/hook_state.h"

#include <pthread.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>

#include "isolation/hook/cuda_types.h"
#include "isolation/hook/hook_symbols.h"

namespace flexai::isolation {
namespace {

HookState* g_state = nullptr;  // for the fork handlers, which must not re-enter State()

void BeforeFork() {
  if (g_state != nullptr) g_state->allocations.LockForFork();
}
void AfterForkInParent() {
  if (g_state != nullptr) g_state->allocations.UnlockInParent();
}
void AfterForkInChild() {
  if (g_state == nullptr) return;
  g_state->allocations.ResetInChild();
  // The child has one thread: nothing is under way, whatever the parent's threads held at fork
  // (a lock held across fork cannot be released in the child: its owner is another thread id).
  new (&g_state->context_lock) std::shared_mutex();
  g_state->usage->ForgetProcessSlot();
  g_state->activity->ForgetOwnerInChild();
  g_state->device_busy.ResetInChild();
  g_state->calibration.ResetInChild();
}

// Runs at exit (after the program's own atexit handlers, where the CUDA runtime frees what it
// holds): what this process still holds goes back to the container at once, so live usage and
// the next allocation of another process need not wait for a reclaim. Not after _exit or a kill:
// those are reclaimed by the next process (ReclaimDeadProcesses).
__attribute__((destructor)) void ReleaseAtExit() {
  if (g_state == nullptr) return;
  g_state->usage->ReleaseThisProcess();
  g_state->activity->Withdraw();  // its queued work is gone: neighbours stop counting it
}

HookState* BuildState() {
  auto* state = new HookState();  // lives until exit: hooks may run during static destruction
  state->config = ParseHookConfig([](const char* name) { return std::getenv(name); });
  for (const std::string& warning : state->config.warnings) HookLog(warning.c_str());
  std::string warning;
  state->usage = SharedUsage::Open(state->config, warning);
  if (!warning.empty()) HookLog(warning.c_str());
  if (state->usage == nullptr) {
    HookLog("cannot map any accounting memory; aborting rather than running without quotas");
    std::abort();
  }
  if (state->usage->path().empty() && state->config.shared_dir.empty() && state->config.debug) {
    HookLog("FLEXAI_SHARED_DIR is not set; accounting covers this process and its children only");
  }
  state->activity = std::make_unique<DeviceActivity>(
      state->config.shared_dir, state->config.activity_dir, state->config.visible_uuids);
  state->usage->ReclaimEarlierImage();
  state->usage->ReclaimDeadProcesses();
  g_state = state;
  pthread_atfork(&BeforeFork, &AfterForkInParent, &AfterForkInChild);
  return state;
}

}  // namespace

HookState& State() {
  static HookState* state = BuildState();
  return *state;
}

int CurrentDevice() {
  using CtxGetDevice = cuda::CUresult(cuda::CUdevice*);
  static auto* get_device = reinterpret_cast<CtxGetDevice*>(RealLibcudaSymbol("cuCtxGetDevice"));
  cuda::CUdevice device = 0;
  if (get_device == nullptr || get_device(&device) != cuda::CUDA_SUCCESS) return 0;
  return DeviceSlot(device);
}

std::atomic<std::uint64_t>& ContextEpoch() {
  static std::atomic<std::uint64_t> epoch{0};
  return epoch;
}

std::uintptr_t CurrentContext() {
  using CtxGetCurrent = cuda::CUresult(cuda::CUcontext*);
  static auto* get_current = reinterpret_cast<CtxGetCurrent*>(RealLibcudaSymbol("cuCtxGetCurrent"));
  cuda::CUcontext context = nullptr;
  if (get_current == nullptr || get_current(&context) != cuda::CUDA_SUCCESS) return 0;
  return reinterpret_cast<std::uintptr_t>(context);
}

std::string FormatGpuUuid(const unsigned char (&bytes)[16]) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text = "GPU-";
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) text += '-';
    text += kHex[bytes[i] >> 4];
    text += kHex[bytes[i] & 0xf];
  }
  return text;
}

namespace {
using GetUuid = cuda::CUresult(unsigned char (*)[16], cuda::CUdevice);
GetUuid* DriverGetUuid() {
  static auto* get_uuid = [] {
    void* found = RealLibcudaSymbol("cuDeviceGetUuid_v2");
    return reinterpret_cast<GetUuid*>(found != nullptr ? found
                                                       : RealLibcudaSymbol("cuDeviceGetUuid"));
  }();
  return get_uuid;
}
}  // namespace

std::string GpuUuidOfSlot(int slot) {
  const HookConfig& config = State().config;
  if (slot < 0) return {};
  if (!config.visible_uuids.empty()) {
    return static_cast<std::size_t>(slot) < config.visible_uuids.size()
               ? config.visible_uuids[static_cast<std::size_t>(slot)]
               : std::string();
  }
  unsigned char uuid[16] = {};
  GetUuid* get_uuid = DriverGetUuid();
  if (get_uuid == nullptr || get_uuid(&uuid, slot) != cuda::CUDA_SUCCESS) return {};
  return FormatGpuUuid(uuid);
}

int DeviceSlot(int ordinal) {
  constexpr int kCached = 64;
  static std::array<std::atomic<int>, kCached> slots_plus_one{};  // 0: not looked up yet
  if (ordinal < 0 || ordinal >= kCached) return ordinal;
  if (int known = slots_plus_one[ordinal].load(std::memory_order_relaxed); known != 0) {
    return known - 1;
  }
  const HookConfig& config = State().config;
  int slot = ordinal;
  if (!config.visible_uuids.empty()) {
    GetUuid* get_uuid = DriverGetUuid();
    unsigned char uuid[16] = {};
    if (get_uuid == nullptr || get_uuid(&uuid, ordinal) != cuda::CUDA_SUCCESS) {
      return ordinal;  // not cached: the driver may answer later (e.g. before cuInit it cannot)
    }
    if (int position = config.VisibleDeviceOfUuid(FormatGpuUuid(uuid)); position >= 0) {
      slot = position;
    }
  }
  slots_plus_one[ordinal].store(slot + 1, std::memory_order_relaxed);
  return slot;
}

void HookLog(const char* message) {
  std::string line = std::string("flexai-cuda: ") + message + "\n";
  ssize_t ignored = write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace flexai::isolation
