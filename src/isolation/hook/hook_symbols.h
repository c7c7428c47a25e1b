// The table of replaced entry points: symbol name, our wrapper, the library it replaces (libcuda,
// or libnvidia-ml for the NVML memory queries) and the real function behind it (learned from
// dlsym/cuGetProcAddress look-ups, or resolved on first use).
#pragma once

#include <cstdint>

namespace flexai::isolation {

enum class HookId : int {
  kMemAlloc,
  kMemAlloc_v2,
  kMemAllocPitch,
  kMemAllocPitch_v2,
  kMemAllocManaged,
  kMemAllocAsync,
  kMemAllocAsync_ptsz,
  kMemAllocFromPoolAsync,
  kMemAllocFromPoolAsync_ptsz,
  kMemCreate,
  kArrayCreate,
  kArrayCreate_v2,
  kArray3DCreate,
  kArray3DCreate_v2,
  kMipmappedArrayCreate,
  kMemFree,
  kMemFree_v2,
  kMemFreeAsync,
  kMemFreeAsync_ptsz,
  kMemRelease,
  kMemRetainAllocationHandle,
  kMemMap,
  kMemUnmap,
  kArrayDestroy,
  kMipmappedArrayDestroy,
  kMemGetInfo,
  kMemGetInfo_v2,
  kDeviceTotalMem,
  kDeviceTotalMem_v2,
  kLaunchKernel,
  kLaunchKernel_ptsz,
  kLaunchKernelEx,
  kLaunchKernelEx_ptsz,
  kLaunchCooperativeKernel,
  kLaunchCooperativeKernel_ptsz,
  kLaunch,
  kLaunchGrid,
  kLaunchGridAsync,
  kGraphLaunch,
  kGraphLaunch_ptsz,
  kGetProcAddress,
  kGetProcAddress_v2,
  kCtxDestroy,
  kCtxDestroy_v2,
  kDevicePrimaryCtxRetain,
  kDevicePrimaryCtxRelease,
  kDevicePrimaryCtxRelease_v2,
  kDevicePrimaryCtxReset,
  kDevicePrimaryCtxReset_v2,
  kNvmlDeviceGetMemoryInfo,
  kNvmlDeviceGetMemoryInfo_v2,
  kCount
};

// Index of a replaced symbol by its exact exported name, or -1.
int FindHook(const char* symbol);
const char* HookSymbol(int index);
void* HookWrapper(int index);

// Whether `address` lies in the library the hook replaces a function of: a file named
// libcuda.so* for driver entry points, libnvidia-ml.so* for the NVML ones.
bool IsInHookedLibrary(int index, const void* address);

// The exported driver symbol a cuGetProcAddress(name, version, flags) look-up resolves to, e.g.
// ("cuMemAlloc", 12000, 0) -> "cuMemAlloc_v2"; -1 when we do not replace it.
int FindVersionedHook(const char* name, int cuda_version, std::uint64_t flags);

// Remembers the real function behind a hook (ignored when it points into this library).
void StoreReal(int index, void* real);
// The real function for a hook, resolving it on first use: from libcuda.so.1 for driver entry
// points; for NVML from libnvidia-ml.so.1 if it is loaded (never loading it), else RTLD_NEXT.
void* RealFunction(HookId id);
template <typename Function>
Function* Real(HookId id) {
  return reinterpret_cast<Function*>(RealFunction(id));
}

// Any libcuda symbol that we do not replace (events, contexts), straight from libcuda.so.1.
void* RealLibcudaSymbol(const char* symbol);

// Another symbol of the library that holds `function` (a real NVML function), without loading
// anything: e.g. the nvmlDeviceGetUUID next to the real nvmlDeviceGetMemoryInfo. Null if none.
void* SiblingSymbol(const void* function, const char* symbol);

// glibc's dlsym, bypassing our wrapper.
using DlsymFunction = void*(void*, const char*);
DlsymFunction* RealDlsym();
// Whether an address lies inside a library whose file name starts with "libcuda.so".
bool IsInLibcuda(const void* address);
// Whether an address lies inside libflexai-cuda.so itself.
bool IsInThisLibrary(const void* address);

}  // namespace flexai::isolation
