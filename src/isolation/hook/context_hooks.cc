// Context hooks: the driver frees every allocation of a context when it is destroyed
// (cuCtxDestroy), when a device's primary context is reset (cuDevicePrimaryCtxReset, which is
// what cudaDeviceReset does), and when its last reference is released. Their quota comes back
// then, not only when each pointer is freed (it never will be).
#include <array>
#include <atomic>

#include "isolation/hook/hook_exports.h"
#include "isolation/hook/hook_state.h"
#include "isolation/hook/hook_symbols.h"

namespace flexai::isolation {
namespace {

using cuda::CUDA_ERROR_NOT_INITIALIZED;
using cuda::CUDA_SUCCESS;
using cuda::CUresult;

// Primary context handle per device ordinal, learned from cuDevicePrimaryCtxRetain (the only way
// a program gets one). The handle stays the same across resets.
constexpr int kMaxOrdinals = 64;
std::array<std::atomic<std::uintptr_t>, kMaxOrdinals> g_primary{};

std::uintptr_t PrimaryContext(cuda::CUdevice device) {
  return device >= 0 && device < kMaxOrdinals ? g_primary[device].load() : 0;
}

void ReturnContextMemory(std::uintptr_t context) {
  HookState& state = State();
  for (const Allocation& allocation : state.allocations.RemoveContext(context)) {
    state.usage->Release(allocation.device, allocation.bytes);
  }
}

// After a successful release: the primary context is gone once it is no longer active.
void AfterPrimaryRelease(cuda::CUdevice device) {
  using GetState = CUresult(cuda::CUdevice, unsigned*, int*);
  static auto* get_state =
      reinterpret_cast<GetState*>(RealLibcudaSymbol("cuDevicePrimaryCtxGetState"));
  unsigned flags = 0;
  int active = 1;
  if (get_state != nullptr && get_state(device, &flags, &active) == CUDA_SUCCESS && !active) {
    ReturnContextMemory(PrimaryContext(device));
  }
}

// Calls the real `id` (which ends a context) with `argument`, counting the end first (launch
// timing samples from before it are dropped); on success `returned()` gives the context's memory
// back.
template <typename Function, typename Argument, typename Returned>
CUresult EndingContext(HookId id, Argument argument, Returned&& returned) {
  auto* real = Real<Function>(id);
  if (real == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  // No allocation or free is halfway through while the context ends and its records go.
  std::unique_lock no_allocation_under_way(State().context_lock);
  ContextEpoch().fetch_add(1);
  CUresult result = real(argument);
  if (result == CUDA_SUCCESS) returned();
  return result;
}

}  // namespace
}  // namespace flexai::isolation

using flexai::isolation::HookId;
using flexai::isolation::Real;
namespace iso = flexai::isolation;

extern "C" {

CUresult cuCtxDestroy_v2(CUcontext context) {
  return iso::EndingContext<decltype(cuCtxDestroy_v2)>(HookId::kCtxDestroy_v2, context, [context] {
    iso::ReturnContextMemory(reinterpret_cast<std::uintptr_t>(context));
  });
}

CUresult cuCtxDestroy(CUcontext context) {
  return iso::EndingContext<decltype(cuCtxDestroy)>(HookId::kCtxDestroy, context, [context] {
    iso::ReturnContextMemory(reinterpret_cast<std::uintptr_t>(context));
  });
}

CUresult cuDevicePrimaryCtxRetain(CUcontext* context, CUdevice device) {
  auto* real = Real<decltype(cuDevicePrimaryCtxRetain)>(HookId::kDevicePrimaryCtxRetain);
  if (real == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  CUresult result = real(context, device);
  if (result == CUDA_SUCCESS && context != nullptr && device >= 0 && device < iso::kMaxOrdinals) {
    iso::g_primary[device].store(reinterpret_cast<std::uintptr_t>(*context));
  }
  return result;
}

CUresult cuDevicePrimaryCtxRelease_v2(CUdevice device) {
  return iso::EndingContext<decltype(cuDevicePrimaryCtxRelease_v2)>(
      HookId::kDevicePrimaryCtxRelease_v2, device, [device] { iso::AfterPrimaryRelease(device); });
}

CUresult cuDevicePrimaryCtxRelease(CUdevice device) {
  return iso::EndingContext<decltype(cuDevicePrimaryCtxRelease)>(
      HookId::kDevicePrimaryCtxRelease, device, [device] { iso::AfterPrimaryRelease(device); });
}

CUresult cuDevicePrimaryCtxReset_v2(CUdevice device) {
  return iso::EndingContext<decltype(cuDevicePrimaryCtxReset_v2)>(
      HookId::kDevicePrimaryCtxReset_v2, device,
      [device] { iso::ReturnContextMemory(iso::PrimaryContext(device)); });
}

CUresult cuDevicePrimaryCtxReset(CUdevice device) {
  return iso::EndingContext<decltype(cuDevicePrimaryCtxReset)>(
      HookId::kDevicePrimaryCtxReset, device,
      [device] { iso::ReturnContextMemory(iso::PrimaryContext(device)); });
}

}  // extern "C"
