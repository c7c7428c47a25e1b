// The table of replaced driver entry points: symbol name, our wrapper, and the real libcuda
// function behind it (learned from dlsym/cuGetProcAddress look-ups, or resolved on first use).
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
  kCount
};

// Index of a replaced symbol by its exact exported name, or -1.
int FindHook(const char* symbol);
const char* HookSymbol(int index);
void* HookWrapper(int index);

// The exported symbol a cuGetProcAddress(name, version, flags) look-up resolves to, e.g.
// ("cuMemAlloc", 12000, 0) -> "cuMemAlloc_v2"; -1 when we do not replace it.
int FindVersionedHook(const char* name, int cuda_version, std::uint64_t flags);

// Remembers the real function behind a hook (ignored when it points into this library).
void StoreReal(int index, void* real);
// The real libcuda function for a hook, resolving it from libcuda.so.1 on first use.
void* RealFunction(HookId id);
template <typename Function>
Function* Real(HookId id) {
  return reinterpret_cast<Function*>(RealFunction(id));
}

// Any libcuda symbol that we do not replace (events, contexts), straight from libcuda.so.1.
void* RealLibcudaSymbol(const char* symbol);

// glibc's dlsym, bypassing our wrapper.
using DlsymFunction = void*(void*, const char*);
DlsymFunction* RealDlsym();
// Whether an address lies inside a library whose file name starts with "libcuda.so".
bool IsInLibcuda(const void* address);
// Whether an address lies inside libflexai-cuda.so itself.
bool IsInThisLibrary(const void* address);

}  // namespace flexai::isolation
