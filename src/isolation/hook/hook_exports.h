// The driver API entry points libflexai-cuda.so replaces, with the signatures of the symbol
// versions they carry (the _v2 suffixes are the ABIs cuda.h selects; plain names are the legacy
// 32-bit ABIs). _ptsz variants are the per-thread-default-stream ABIs. Also the two NVML memory
// queries, so that nvidia-smi and NVML-based tools see the slice.
#pragma once

#include <cstddef>
#include <cstdint>

#include "isolation/hook/cuda_types.h"
#include "isolation/hook/nvml_types.h"

#define FLEXAI_EXPORT __attribute__((visibility("default")))

extern "C" {
using namespace flexai::cuda;  // NOLINT: keeps the prototypes identical to cuda.h

// Memory.
FLEXAI_EXPORT CUresult cuMemAlloc(CUdeviceptr_v1* dptr, unsigned int bytesize);
FLEXAI_EXPORT CUresult cuMemAlloc_v2(CUdeviceptr* dptr, std::size_t bytesize);
FLEXAI_EXPORT CUresult cuMemAllocPitch(CUdeviceptr_v1* dptr, unsigned int* pitch,
                                       unsigned int width, unsigned int height,
                                       unsigned int element_size);
FLEXAI_EXPORT CUresult cuMemAllocPitch_v2(CUdeviceptr* dptr, std::size_t* pitch, std::size_t width,
                                          std::size_t height, unsigned int element_size);
FLEXAI_EXPORT CUresult cuMemAllocManaged(CUdeviceptr* dptr, std::size_t bytesize,
                                         unsigned int flags);
FLEXAI_EXPORT CUresult cuMemAllocAsync(CUdeviceptr* dptr, std::size_t bytesize, CUstream stream);
FLEXAI_EXPORT CUresult cuMemAllocAsync_ptsz(CUdeviceptr* dptr, std::size_t bytesize,
                                            CUstream stream);
FLEXAI_EXPORT CUresult cuMemAllocFromPoolAsync(CUdeviceptr* dptr, std::size_t bytesize,
                                               CUmemoryPool pool, CUstream stream);
FLEXAI_EXPORT CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr* dptr, std::size_t bytesize,
                                                    CUmemoryPool pool, CUstream stream);
FLEXAI_EXPORT CUresult cuMemCreate(CUmemGenericAllocationHandle* handle, std::size_t size,
                                   const CUmemAllocationProp* prop, unsigned long long flags);
FLEXAI_EXPORT CUresult cuArrayCreate(CUarray* array, const CUDA_ARRAY_DESCRIPTOR_v1* desc);
FLEXAI_EXPORT CUresult cuArrayCreate_v2(CUarray* array, const CUDA_ARRAY_DESCRIPTOR* desc);
FLEXAI_EXPORT CUresult cuArray3DCreate(CUarray* array, const CUDA_ARRAY3D_DESCRIPTOR_v1* desc);
FLEXAI_EXPORT CUresult cuArray3DCreate_v2(CUarray* array, const CUDA_ARRAY3D_DESCRIPTOR* desc);
FLEXAI_EXPORT CUresult cuMipmappedArrayCreate(CUmipmappedArray* array,
                                              const CUDA_ARRAY3D_DESCRIPTOR* desc,
                                              unsigned int levels);
FLEXAI_EXPORT CUresult cuMemFree(CUdeviceptr_v1 dptr);
FLEXAI_EXPORT CUresult cuMemFree_v2(CUdeviceptr dptr);
FLEXAI_EXPORT CUresult cuMemFreeAsync(CUdeviceptr dptr, CUstream stream);
FLEXAI_EXPORT CUresult cuMemFreeAsync_ptsz(CUdeviceptr dptr, CUstream stream);
FLEXAI_EXPORT CUresult cuMemRelease(CUmemGenericAllocationHandle handle);
FLEXAI_EXPORT CUresult cuMemRetainAllocationHandle(CUmemGenericAllocationHandle* handle,
                                                   void* addr);
FLEXAI_EXPORT CUresult cuMemMap(CUdeviceptr ptr, std::size_t size, std::size_t offset,
                                CUmemGenericAllocationHandle handle, unsigned long long flags);
FLEXAI_EXPORT CUresult cuMemUnmap(CUdeviceptr ptr, std::size_t size);
FLEXAI_EXPORT CUresult cuArrayDestroy(CUarray array);
FLEXAI_EXPORT CUresult cuMipmappedArrayDestroy(CUmipmappedArray array);
FLEXAI_EXPORT CUresult cuMemGetInfo(unsigned int* free_bytes, unsigned int* total_bytes);
FLEXAI_EXPORT CUresult cuMemGetInfo_v2(std::size_t* free_bytes, std::size_t* total_bytes);
FLEXAI_EXPORT CUresult cuDeviceTotalMem(unsigned int* bytes, CUdevice device);
FLEXAI_EXPORT CUresult cuDeviceTotalMem_v2(std::size_t* bytes, CUdevice device);

// Launches.
FLEXAI_EXPORT CUresult cuLaunchKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz,
                                      unsigned bx, unsigned by, unsigned bz, unsigned shared,
                                      CUstream stream, void** params, void** extra);
FLEXAI_EXPORT CUresult cuLaunchKernel_ptsz(CUfunction f, unsigned gx, unsigned gy, unsigned gz,
                                           unsigned bx, unsigned by, unsigned bz, unsigned shared,
                                           CUstream stream, void** params, void** extra);
FLEXAI_EXPORT CUresult cuLaunchKernelEx(const CUlaunchConfig* config, CUfunction f, void** params,
                                        void** extra);
FLEXAI_EXPORT CUresult cuLaunchKernelEx_ptsz(const CUlaunchConfig* config, CUfunction f,
                                             void** params, void** extra);
FLEXAI_EXPORT CUresult cuLaunchCooperativeKernel(CUfunction f, unsigned gx, unsigned gy,
                                                 unsigned gz, unsigned bx, unsigned by, unsigned bz,
                                                 unsigned shared, CUstream stream, void** params);
FLEXAI_EXPORT CUresult cuLaunchCooperativeKernel_ptsz(CUfunction f, unsigned gx, unsigned gy,
                                                      unsigned gz, unsigned bx, unsigned by,
                                                      unsigned bz, unsigned shared, CUstream stream,
                                                      void** params);
FLEXAI_EXPORT CUresult cuLaunch(CUfunction f);
FLEXAI_EXPORT CUresult cuLaunchGrid(CUfunction f, int grid_width, int grid_height);
FLEXAI_EXPORT CUresult cuLaunchGridAsync(CUfunction f, int grid_width, int grid_height,
                                         CUstream stream);
FLEXAI_EXPORT CUresult cuGraphLaunch(CUgraphExec exec, CUstream stream);
FLEXAI_EXPORT CUresult cuGraphLaunch_ptsz(CUgraphExec exec, CUstream stream);

// NVML memory view (libnvidia-ml): the slice's quota and usage instead of the whole GPU's.
FLEXAI_EXPORT flexai::nvml::nvmlReturn_t nvmlDeviceGetMemoryInfo(
    flexai::nvml::nvmlDevice_t device, flexai::nvml::nvmlMemory_t* memory);
FLEXAI_EXPORT flexai::nvml::nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(
    flexai::nvml::nvmlDevice_t device, flexai::nvml::nvmlMemory_v2_t* memory);

// Contexts: destroying or resetting one frees its memory, so its quota comes back.
FLEXAI_EXPORT CUresult cuCtxDestroy(CUcontext context);
FLEXAI_EXPORT CUresult cuCtxDestroy_v2(CUcontext context);
FLEXAI_EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext* context, CUdevice device);
FLEXAI_EXPORT CUresult cuDevicePrimaryCtxRelease(CUdevice device);
FLEXAI_EXPORT CUresult cuDevicePrimaryCtxRelease_v2(CUdevice device);
FLEXAI_EXPORT CUresult cuDevicePrimaryCtxReset(CUdevice device);
FLEXAI_EXPORT CUresult cuDevicePrimaryCtxReset_v2(CUdevice device);

// Look-ups.
FLEXAI_EXPORT CUresult cuGetProcAddress(const char* symbol, void** pfn, int cuda_version,
                                        std::uint64_t flags);
FLEXAI_EXPORT CUresult cuGetProcAddress_v2(const char* symbol, void** pfn, int cuda_version,
                                           std::uint64_t flags, int* symbol_status);
// dlsym is exported too, from assembly (dlsym_entry.cc), so that RTLD_NEXT keeps its meaning.
}
