#include "isolation/hook/hook_state.h"

#include <pthread.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
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
  g_state->usage->ForgetProcessSlot();
}

// Runs at exit (after the program's own atexit handlers, where the CUDA runtime frees what it
// holds): what this process still holds goes back to the container at once, so live usage and
// the next allocation of another process need not wait for a reclaim. Not after _exit or a kill:
// those are reclaimed by the next process (ReclaimDeadProcesses).
__attribute__((destructor)) void ReleaseAtExit() {
  if (g_state != nullptr) g_state->usage->ReleaseThisProcess();
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
  return device;
}

void HookLog(const char* message) {
  std::string line = std::string("flexai-cuda: ") + message + "\n";
  ssize_t ignored = write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace flexai::isolation
