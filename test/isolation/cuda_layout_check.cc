// Compile-time check, built only where a CUDA toolkit is installed: the types the hook declares
// itself (isolation/hook/cuda_types.h) have the layouts and constants of the real cuda.h.
#include <cuda.h>

#include <cstddef>

#include "isolation/hook/cuda_types.h"

namespace f = flexai::cuda;

static_assert(sizeof(f::CUDA_ARRAY_DESCRIPTOR) == sizeof(::CUDA_ARRAY_DESCRIPTOR));
static_assert(offsetof(f::CUDA_ARRAY_DESCRIPTOR, Format) ==
              offsetof(::CUDA_ARRAY_DESCRIPTOR, Format));
static_assert(offsetof(f::CUDA_ARRAY_DESCRIPTOR, NumChannels) ==
              offsetof(::CUDA_ARRAY_DESCRIPTOR, NumChannels));
static_assert(sizeof(f::CUDA_ARRAY3D_DESCRIPTOR) == sizeof(::CUDA_ARRAY3D_DESCRIPTOR));
static_assert(offsetof(f::CUDA_ARRAY3D_DESCRIPTOR, Depth) ==
              offsetof(::CUDA_ARRAY3D_DESCRIPTOR, Depth));
static_assert(offsetof(f::CUDA_ARRAY3D_DESCRIPTOR, Format) ==
              offsetof(::CUDA_ARRAY3D_DESCRIPTOR, Format));
static_assert(offsetof(f::CUDA_ARRAY3D_DESCRIPTOR, NumChannels) ==
              offsetof(::CUDA_ARRAY3D_DESCRIPTOR, NumChannels));
static_assert(offsetof(f::CUmemAllocationProp, location) ==
              offsetof(::CUmemAllocationProp, location));
static_assert(offsetof(f::CUmemAllocationProp, location.id) ==
              offsetof(::CUmemAllocationProp, location.id));
static_assert(offsetof(f::CUmemAllocationProp, location.type) ==
              offsetof(::CUmemAllocationProp, location.type));
static_assert(offsetof(f::CUlaunchConfig, hStream) == offsetof(::CUlaunchConfig, hStream));
static_assert(sizeof(f::CUlaunchConfig) == sizeof(::CUlaunchConfig));
static_assert(CU_MEM_LOCATION_TYPE_DEVICE == 1);
static_assert(CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM ==
              f::CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM);
static_assert(CU_STREAM_CAPTURE_MODE_RELAXED == 2);
static_assert(CU_STREAM_CAPTURE_STATUS_NONE == 0);
static_assert(CU_AD_FORMAT_FLOAT == 0x20 && CU_AD_FORMAT_HALF == 0x10 &&
              CU_AD_FORMAT_SIGNED_INT32 == 0x0a);
static_assert(CUDA_ERROR_OUT_OF_MEMORY == 2 && CUDA_ERROR_NOT_READY == 600 &&
              CUDA_ERROR_NOT_FOUND == 500);
