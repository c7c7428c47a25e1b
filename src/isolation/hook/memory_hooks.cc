// Allocation, free and memory-info hooks: every device allocation reserves quota in the shared
// accounting before it reaches the driver and is refused with CUDA_ERROR_OUT_OF_MEMORY past it.
// The driver's memory queries report the quota instead of the whole GPU.
#include <algorithm>
#include <optional>
#include <utility>

#include "isolation/hook/hook_exports.h"
#include "isolation/hook/hook_state.h"
#include "isolation/hook/hook_symbols.h"

namespace flexai::isolation {
namespace {

using cuda::CUDA_ERROR_NOT_INITIALIZED;
using cuda::CUDA_ERROR_OUT_OF_MEMORY;
using cuda::CUDA_SUCCESS;
using cuda::CUresult;

constexpr int kLocationDevice = 1;  // CU_MEM_LOCATION_TYPE_DEVICE
constexpr std::uint64_t kPitchAlignment = 512;

bool ReserveOrRefuse(HookState& state, int device, std::uint64_t bytes) {
  bool enforce = state.config.EnforcesMemory();
  if (state.usage->Reserve(device, bytes, enforce)) return true;
  // Memory of processes that died without freeing may be what stands in the way.
  if (state.usage->ReclaimDeadProcesses() > 0 && state.usage->Reserve(device, bytes, enforce))
    return true;
  state.usage->CountRefusal(device);
  if (state.config.debug) HookLog("allocation refused: past the device memory quota");
  return false;
}

// Reserves `bytes`, runs `allocate` (which returns the driver result and the new object's key)
// and records the allocation, or gives the reservation back if the driver failed.
template <typename AllocateFn>
CUresult Allocate(AllocationKind kind, int device, std::uint64_t bytes, AllocateFn&& allocate) {
  HookState& state = State();
  if (!ReserveOrRefuse(state, device, bytes)) return CUDA_ERROR_OUT_OF_MEMORY;
  std::shared_lock no_context_end(state.context_lock);
  auto [result, key] = allocate();
  if (result != CUDA_SUCCESS) {
    state.usage->Release(device, bytes);
    return result;
  }
  std::uintptr_t context = kind == AllocationKind::kHandle ? 0 : CurrentContext();
  if (!state.allocations.Add(kind, key, Allocation{device, bytes, context})) {
    // The driver handed out a handle number we still track (released, still mapped): that
    // record keeps its charge, and this one is not charged twice.
    state.usage->Release(device, bytes);
    if (state.config.debug) HookLog("handle number reused while still tracked; kept its record");
  }
  return result;
}

// Forgets the allocation before the driver frees it (so a concurrent allocation that reuses the
// address is not mistaken for it) and restores it if the free failed.
template <typename FreeFn>
CUresult Release(AllocationKind kind, std::uint64_t key, FreeFn&& free) {
  HookState& state = State();
  std::shared_lock no_context_end(state.context_lock);
  std::optional<Allocation> allocation = state.allocations.Remove(kind, key);
  CUresult result = free();
  if (!allocation) return result;
  if (result == CUDA_SUCCESS) {
    state.usage->Release(allocation->device, allocation->bytes);
  } else {
    state.allocations.Add(kind, key, *allocation);
  }
  return result;
}

// Size arithmetic saturates: a request whose size overflows is charged "everything" and refused,
// never charged a wrapped-around small number.
std::uint64_t Times(std::uint64_t a, std::uint64_t b) {
  std::uint64_t product = 0;
  return __builtin_mul_overflow(a, b, &product) ? ~std::uint64_t{0} : product;
}
std::uint64_t Plus(std::uint64_t a, std::uint64_t b) {
  std::uint64_t sum = 0;
  return __builtin_add_overflow(a, b, &sum) ? ~std::uint64_t{0} : sum;
}

// Pitched rows: the width rounded up to the pitch alignment, times the height.
std::uint64_t PitchedBytes(std::uint64_t width, std::uint64_t height) {
  std::uint64_t rows = Plus(width, kPitchAlignment - 1) / kPitchAlignment * kPitchAlignment;
  return Times(rows, height);
}

template <typename Descriptor>
std::uint64_t ArrayBytes(const Descriptor& desc, std::uint64_t depth) {
  return Times(Times(Times(Times(desc.Width, std::max<std::uint64_t>(desc.Height, 1)),
                           std::max<std::uint64_t>(depth, 1)),
                     cuda::ArrayFormatBytes(desc.Format)),
               std::max<std::uint64_t>(desc.NumChannels, 1));
}

std::uint64_t MipmappedBytes(const cuda::CUDA_ARRAY3D_DESCRIPTOR& desc, unsigned levels) {
  std::uint64_t total = 0;
  cuda::CUDA_ARRAY3D_DESCRIPTOR level = desc;
  // After 64 halvings every dimension is 1: the remaining levels all cost the same.
  constexpr unsigned kDistinctLevels = 64;
  for (unsigned i = 0; i < std::min(std::max(levels, 1u), kDistinctLevels); ++i) {
    total = Plus(total, ArrayBytes(level, level.Depth));
    level.Width = std::max<std::size_t>(level.Width / 2, 1);
    level.Height = level.Height == 0 ? 0 : std::max<std::size_t>(level.Height / 2, 1);
    level.Depth = level.Depth == 0 ? 0 : std::max<std::size_t>(level.Depth / 2, 1);
  }
  if (levels > kDistinctLevels) {
    total = Plus(total, Times(levels - kDistinctLevels, ArrayBytes(level, level.Depth)));
  }
  return total;
}

std::uint64_t Key(const void* pointer) { return reinterpret_cast<std::uintptr_t>(pointer); }

// The quota view of device memory: total = quota, free = what is left of it (never more than the
// device really has free).
void ApplyQuota(int device, std::uint64_t& free_bytes, std::uint64_t& total_bytes) {
  HookState& state = State();
  if (!state.config.EnforcesMemory()) return;
  std::uint64_t limit = state.usage->LimitBytes(device);
  if (limit == kUnlimitedBytes) return;
  state.usage->ReclaimDeadProcesses();  // so that free memory includes what exited processes held
  std::uint64_t used = state.usage->UsedBytes(device);
  total_bytes = std::min(total_bytes, limit);
  free_bytes = std::min(free_bytes, used >= limit ? 0 : limit - used);
}

}  // namespace
}  // namespace flexai::isolation

using flexai::isolation::AllocationKind;
using flexai::isolation::CurrentDevice;
using flexai::isolation::HookId;
using flexai::isolation::Real;
namespace iso = flexai::isolation;

extern "C" {

CUresult cuMemAlloc_v2(CUdeviceptr* dptr, std::size_t bytesize) {
  auto* real = Real<decltype(cuMemAlloc_v2)>(HookId::kMemAlloc_v2);
  if (real == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  return iso::Allocate(AllocationKind::kPointer, CurrentDevice(), bytesize, [&] {
    CUresult result = real(dptr, bytesize);
    return std::pair{result, result == CUDA_SUCCESS ? *dptr : 0};
  });
}

CUresult cuMemAlloc(CUdeviceptr_v1* dptr, unsigned int bytesize) {
  auto* real = Real<decltype(cuMemAlloc)>(HookId::kMemAlloc);
  if (real == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  return iso::Allocate(AllocationKind::kPointer, CurrentDevice(), bytesize, [&] {
    CUresult result = real(dptr, bytesize);
    return std::pair{result, result == CUDA_SUCCESS ? std::uint64_t{*dptr} : 0};
  });
}

CUresult cuMemAllocPitch_v2(CUdeviceptr* dptr, std::size_t* pitch, std::size_t width,
                            std::size_t height, unsigned int element_size) {
  auto* real = Real<decltype(cuMemAllocPitch_v2)>(HookId::kMemAllocPitch_v2);
  if (real == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  // The pitch is known only afterwards: reserve an aligned estimate, then reserve any excess.
  std::uint64_t estimate = iso::PitchedBytes(width, height);
  int device = CurrentDevice();
  CUresult result = iso::Allocate(AllocationKind::kPointer, device, estimate, [&] {
    CUresult r = real(dptr, pitch, width, height, element_size);
    return std::pair{r, r == CUDA_SUCCESS ? *dptr : 0};
  });
  std::uint64_t charged = iso::Times(*pitch, height);
  if (result != CUDA_SUCCESS || charged <= estimate) return result;
  iso::HookState& state = iso::State();
  {
    std::shared_lock no_context_end(state.context_lock);
    std::optional<iso::Allocation> record =
        state.allocations.Remove(AllocationKind::kPointer, *dptr);
    if (!record) return result;  // its context ended meanwhile: freed, its quota given back
    const bool reserved = iso::ReserveOrRefuse(state, device, charged - estimate);
    if (reserved) record->bytes = charged;
    state.allocations.Add(AllocationKind::kPointer, *dptr, *record);
    if (reserved) return result;
  }
  cuMemFree_v2(*dptr);  // outside the lock, which the free takes
  return CUDA_ERROR_OUT_OF_MEMORY;
}

CUresult cuMemAllocPitch(CUdeviceptr_v1* dptr, unsigned int* pitch, unsigned int width,
                         unsigned int height, unsigned int element_size) {
  auto* real = Real<decltype(cuMemAllocPitch)>(HookId::kMemAllocPitch);
  if (real == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  // Legacy entry point: reserve the worst-case alignment up front.
  std::uint64_t bytes = iso::PitchedBytes(width, height);
  return iso::Allocate(AllocationKind::kPointer, CurrentDevice(), bytes, [&] {
    CUresult result = real(dptr, pitch, width, height, element_size);
    return std::pair{result, result == CUDA_SUCCESS ? std::uint64_t{*dptr} : 0};
  });
}

CUresult cuMemAllocManaged(CUdeviceptr* dptr, std::size_t bytesize, unsigned int flags) {
  auto* real = Real<decltype(cuMemAllocManaged)>(HookId::kMemAllocManaged);
  if (real == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  return iso::Allocate(AllocationKind::kPointer, CurrentDevice(), bytesize, [&] {
    CUresult result = real(dptr, bytesize, flags);
    return std::pair{result, result == CUDA_SUCCESS ? *dptr : 0};
  });
}

static CUresult AllocAsync(HookId id, CUdeviceptr* dptr, std::size_t bytesize, CUstream stream) {
  auto* real = Real<decltype(cuMemAllocAsync)>(id);
  if (real == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  return iso::Allocate(AllocationKind::kPointer, CurrentDevice(), bytesize, [&] {
    CUresult result = real(dptr, bytesize, stream);
    return std::pair{result, result == CUDA_SUCCESS ? *dptr : 0};
  });
}

CUresult cuMemAllocAsync(CUdeviceptr* dptr, std::size_t bytesize, CUstream stream) {
  return AllocAsync(HookId::kMemAllocAsync, dptr, bytesize, stream);
}

CUresult cuMemAllocAsync_ptsz(CUdeviceptr* dptr, std::size_t bytesize, CUstream stream) {
  return AllocAsync(HookId::kMemAllocAsync_ptsz, dptr, bytesize, stream);
}

static CUresult AllocFromPool(HookId id, CUdeviceptr* dptr, std::size_t bytesize, CUmemoryPool pool,
                              CUstream stream) {
  auto* real = Real<decltype(cuMemAllocFromPoolAsync)>(id);
  if (real == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  return iso::Allocate(AllocationKind::kPointer, CurrentDevice(), bytesize, [&] {
    CUresult result = real(dptr, bytesize, pool, stream);
    return std::pair{result, result == CUDA_SUCCESS ? *dptr : 0};
  });
}

CUresult cuMemAllocFromPoolAsync(CUdeviceptr* dptr, std::size_t bytesize, CUmemoryPool pool,
                                 CUstream stream) {
  return AllocFromPool(HookId::kMemAllocFromPoolAsync, dptr, bytesize, pool, stream);
}

CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr* dptr, std::size_t bytesize, CUmemoryPool pool,
                                      CUstream stream) {
  return AllocFromPool(HookId::kMemAllocFromPoolAsync_ptsz, dptr, bytesize, pool, stream);
}

CUresult cuMemCreate(CUmemGenericAllocationHandle* handle, std::size_t size,
                     const CUmemAllocationProp* prop, unsigned long long flags) {
  auto* real = Real<decltype(cuMemCreate)>(HookId::kMemCreate);
  if (real == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  if (prop == nullptr || prop->location.type != iso::kLocationDevice)
    return real(handle, size, prop, flags);
  return iso::Allocate(AllocationKind::kHandle, iso::DeviceSlot(prop->location.id), size, [&] {
    CUresult result = real(handle, size, prop, flags);
    return std::pair{result, result == CUDA_SUCCESS ? *handle : 0};
  });
}

CUresult cuArrayCreate_v2(CUarray* array, const CUDA_ARRAY_DESCRIPTOR* desc) {
  auto* real = Real<decltype(cuArrayCreate_v2)>(HookId::kArrayCreate_v2);
  if (real == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  if (desc == nullptr) return real(array, desc);
  return iso::Allocate(AllocationKind::kArray, CurrentDevice(), iso::ArrayBytes(*desc, 1), [&] {
    CUresult result = real(array, desc);
    return std::pair{result, result == CUDA_SUCCESS ? iso::Key(*array) : 0};
  });
}

CUresult cuArrayCreate(CUarray* array, const CUDA_ARRAY_DESCRIPTOR_v1* desc) {
  auto* real = Real<decltype(cuArrayCreate)>(HookId::kArrayCreate);
  if (real == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  if (desc == nullptr) return real(array, desc);
  return iso::Allocate(AllocationKind::kArray, CurrentDevice(), iso::ArrayBytes(*desc, 1), [&] {
    CUresult result = real(array, desc);
    return std::pair{result, result == CUDA_SUCCESS ? iso::Key(*array) : 0};
  });
}

CUresult cuArray3DCreate_v2(CUarray* array, const CUDA_ARRAY3D_DESCRIPTOR* desc) {
  auto* real = Real<decltype(cuArray3DCreate_v2)>(HookId::kArray3DCreate_v2);
  if (real == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  if (desc == nullptr) return real(array, desc);
  return iso::Allocate(AllocationKind::kArray, CurrentDevice(), iso::ArrayBytes(*desc, desc->Depth),
                       [&] {
                         CUresult result = real(array, desc);
                         return std::pair{result, result == CUDA_SUCCESS ? iso::Key(*array) : 0};
                       });
}

CUresult cuArray3DCreate(CUarray* array, const CUDA_ARRAY3D_DESCRIPTOR_v1* desc) {
  auto* real = Real<decltype(cuArray3DCreate)>(HookId::kArray3DCreate);
  if (real == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  if (desc == nullptr) return real(array, desc);
  return iso::Allocate(AllocationKind::kArray, CurrentDevice(), iso::ArrayBytes(*desc, desc->Depth),
                       [&] {
                         CUresult result = real(array, desc);
                         return std::pair{result, result == CUDA_SUCCESS ? iso::Key(*array) : 0};
                       });
}

CUresult cuMipmappedArrayCreate(CUmipmappedArray* array, const CUDA_ARRAY3D_DESCRIPTOR* desc,
                                unsigned int levels) {
  auto* real = Real<decltype(cuMipmappedArrayCreate)>(HookId::kMipmappedArrayCreate);
  if (real == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  if (desc == nullptr) return real(array, desc, levels);
  return iso::Allocate(AllocationKind::kMipmappedArray, CurrentDevice(),
                       iso::MipmappedBytes(*desc, levels), [&] {
                         CUresult result = real(array, desc, levels);
                         return std::pair{result, result == CUDA_SUCCESS ? iso::Key(*array) : 0};
                       });
}

CUresult cuMemFree_v2(CUdeviceptr dptr) {
  auto* real = Real<decltype(cuMemFree_v2)>(HookId::kMemFree_v2);
  if (real == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  return iso::Release(AllocationKind::kPointer, dptr, [&] { return real(dptr); });
}

CUresult cuMemFree(CUdeviceptr_v1 dptr) {
  auto* real = Real<decltype(cuMemFree)>(HookId::kMemFree);
  if (real == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  return iso::Release(AllocationKind::kPointer, dptr, [&] { return real(dptr); });
}

// Asynchronous frees return the quota when they are queued, not when the stream reaches them.
CUresult cuMemFreeAsync(CUdeviceptr dptr, CUstream stream) {
  auto* real = Real<decltype(cuMemFreeAsync)>(HookId::kMemFreeAsync);
  if (real == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  return iso::Release(AllocationKind::kPointer, dptr, [&] { return real(dptr, stream); });
}

CUresult cuMemFreeAsync_ptsz(CUdeviceptr dptr, CUstream stream) {
  auto* real = Real<decltype(cuMemFreeAsync_ptsz)>(HookId::kMemFreeAsync_ptsz);
  if (real == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  return iso::Release(AllocationKind::kPointer, dptr, [&] { return real(dptr, stream); });
}

// The driver frees a VMM handle's memory only when every reference to it (cuMemCreate's and one
// per cuMemRetainAllocationHandle) is released and no mapping of it remains, so its quota comes
// back with whichever of the last cuMemRelease and the last cuMemUnmap comes second.
CUresult cuMemRelease(CUmemGenericAllocationHandle handle) {
  auto* real = Real<decltype(cuMemRelease)>(HookId::kMemRelease);
  if (real == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  iso::HookState& state = iso::State();
  iso::HandleRelease release = state.allocations.ReleaseHandle(handle);
  CUresult result = real(handle);
  if (result != CUDA_SUCCESS) {
    state.allocations.UndoReleaseHandle(handle, release);
  } else if (release.freed) {
    state.usage->Release(release.allocation.device, release.allocation.bytes);
  }
  return result;
}

// Hands out another reference to the handle mapped at `addr`, to be released separately.
CUresult cuMemRetainAllocationHandle(CUmemGenericAllocationHandle* handle, void* addr) {
  auto* real = Real<decltype(cuMemRetainAllocationHandle)>(HookId::kMemRetainAllocationHandle);
  if (real == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  CUresult result = real(handle, addr);
  if (result == CUDA_SUCCESS && handle != nullptr) iso::State().allocations.RetainHandle(*handle);
  return result;
}

CUresult cuMemMap(CUdeviceptr ptr, std::size_t size, std::size_t offset,
                  CUmemGenericAllocationHandle handle, unsigned long long flags) {
  auto* real = Real<decltype(cuMemMap)>(HookId::kMemMap);
  if (real == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  iso::HookState& state = iso::State();
  // Recorded before the driver maps, so that a release or an unmap racing with the map finds it.
  iso::Mapping mapping{ptr, size, handle};
  bool tracked = state.allocations.BeginMap(mapping);
  CUresult result = real(ptr, size, offset, handle, flags);
  if (!tracked) return result;
  std::optional<iso::Allocation> freed =
      state.allocations.FinishMap(mapping, result == CUDA_SUCCESS);
  if (freed) state.usage->Release(freed->device, freed->bytes);
  return result;
}

CUresult cuMemUnmap(CUdeviceptr ptr, std::size_t size) {
  auto* real = Real<decltype(cuMemUnmap)>(HookId::kMemUnmap);
  if (real == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  iso::HookState& state = iso::State();
  // Forgotten before the driver frees, so a handle number it reuses at once is not mistaken.
  iso::Unmapping unmapping = state.allocations.Unmap(ptr, size);
  CUresult result = real(ptr, size);
  if (result != CUDA_SUCCESS) {
    state.allocations.UndoUnmap(unmapping);
    return result;
  }
  for (const auto& [freed_handle, allocation] : unmapping.freed) {
    state.usage->Release(allocation.device, allocation.bytes);
  }
  return result;
}

CUresult cuArrayDestroy(CUarray array) {
  auto* real = Real<decltype(cuArrayDestroy)>(HookId::kArrayDestroy);
  if (real == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  return iso::Release(AllocationKind::kArray, iso::Key(array), [&] { return real(array); });
}

CUresult cuMipmappedArrayDestroy(CUmipmappedArray array) {
  auto* real = Real<decltype(cuMipmappedArrayDestroy)>(HookId::kMipmappedArrayDestroy);
  if (real == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  return iso::Release(AllocationKind::kMipmappedArray, iso::Key(array),
                      [&] { return real(array); });
}

CUresult cuMemGetInfo_v2(std::size_t* free_bytes, std::size_t* total_bytes) {
  auto* real = Real<decltype(cuMemGetInfo_v2)>(HookId::kMemGetInfo_v2);
  if (real == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  CUresult result = real(free_bytes, total_bytes);
  if (result != CUDA_SUCCESS || free_bytes == nullptr || total_bytes == nullptr) return result;
  std::uint64_t free_value = *free_bytes, total_value = *total_bytes;
  iso::ApplyQuota(CurrentDevice(), free_value, total_value);
  *free_bytes = free_value;
  *total_bytes = total_value;
  return result;
}

CUresult cuMemGetInfo(unsigned int* free_bytes, unsigned int* total_bytes) {
  auto* real = Real<decltype(cuMemGetInfo)>(HookId::kMemGetInfo);
  if (real == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  CUresult result = real(free_bytes, total_bytes);
  if (result != CUDA_SUCCESS || free_bytes == nullptr || total_bytes == nullptr) return result;
  std::uint64_t free_value = *free_bytes, total_value = *total_bytes;
  iso::ApplyQuota(CurrentDevice(), free_value, total_value);
  *free_bytes = static_cast<unsigned int>(free_value);
  *total_bytes = static_cast<unsigned int>(total_value);
  return result;
}

CUresult cuDeviceTotalMem_v2(std::size_t* bytes, CUdevice device) {
  auto* real = Real<decltype(cuDeviceTotalMem_v2)>(HookId::kDeviceTotalMem_v2);
  if (real == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  CUresult result = real(bytes, device);
  if (result != CUDA_SUCCESS || bytes == nullptr) return result;
  std::uint64_t total = *bytes, unused = *bytes;
  iso::ApplyQuota(iso::DeviceSlot(device), unused, total);
  *bytes = total;
  return result;
}

CUresult cuDeviceTotalMem(unsigned int* bytes, CUdevice device) {
  auto* real = Real<decltype(cuDeviceTotalMem)>(HookId::kDeviceTotalMem);
  if (real == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  CUresult result = real(bytes, device);
  if (result != CUDA_SUCCESS || bytes == nullptr) return result;
  std::uint64_t total = *bytes, unused = *bytes;
  iso::ApplyQuota(iso::DeviceSlot(device), unused, total);
  *bytes = static_cast<unsigned int>(total);
  return result;
}
}  // extern "C"
