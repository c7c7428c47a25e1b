// The few CUDA driver API types and constants the hook needs, declared here so that building
// flexai needs no CUDA headers. Layouts follow cuda.h (CUDA 13) on 64-bit Linux.
#pragma once

#include <cstddef>
#include <cstdint>

namespace flexai::cuda {

using CUresult = int;
using CUdevice = int;
using CUdeviceptr = std::uint64_t;
using CUdeviceptr_v1 = unsigned int;  // legacy 32-bit pointers of the pre-3.2 entry points
using CUcontext = struct CUctx_st*;
using CUstream = struct CUstream_st*;
using CUevent = struct CUevent_st*;
using CUfunction = struct CUfunc_st*;
using CUarray = struct CUarray_st*;
using CUmipmappedArray = struct CUmipmappedArray_st*;
using CUmemoryPool = struct CUmemPoolHandle_st*;
using CUgraphExec = struct CUgraphExec_st*;
using CUmemGenericAllocationHandle = std::uint64_t;

inline constexpr CUresult CUDA_SUCCESS = 0;
inline constexpr CUresult CUDA_ERROR_INVALID_VALUE = 1;
inline constexpr CUresult CUDA_ERROR_OUT_OF_MEMORY = 2;
inline constexpr CUresult CUDA_ERROR_NOT_INITIALIZED = 3;
inline constexpr CUresult CUDA_ERROR_NOT_FOUND = 500;
inline constexpr CUresult CUDA_ERROR_NOT_READY = 600;

// cuGetProcAddress flags.
inline constexpr std::uint64_t CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM = 1ULL << 1;

inline constexpr unsigned CU_EVENT_DEFAULT = 0;

struct CUDA_ARRAY_DESCRIPTOR {
  std::size_t Width;
  std::size_t Height;
  int Format;
  unsigned NumChannels;
};

struct CUDA_ARRAY_DESCRIPTOR_v1 {
  unsigned Width;
  unsigned Height;
  int Format;
  unsigned NumChannels;
};

struct CUDA_ARRAY3D_DESCRIPTOR {
  std::size_t Width;
  std::size_t Height;
  std::size_t Depth;
  int Format;
  unsigned NumChannels;
  unsigned Flags;
};

struct CUDA_ARRAY3D_DESCRIPTOR_v1 {
  unsigned Width;
  unsigned Height;
  unsigned Depth;
  int Format;
  unsigned NumChannels;
  unsigned Flags;
};

// Only the leading fields of CUmemAllocationProp are read (the device is location.id).
struct CUmemAllocationProp {
  int type;
  int requestedHandleTypes;
  struct {
    int type;
    int id;
  } location;
  void* win32HandleMetaData;
  unsigned char allocFlags[8];
};

// Only the grid/block dimensions and stream of CUlaunchConfig are read.
struct CUlaunchConfig {
  unsigned gridDimX, gridDimY, gridDimZ;
  unsigned blockDimX, blockDimY, blockDimZ;
  unsigned sharedMemBytes;
  CUstream hStream;
  void* attrs;
  unsigned numAttrs;
};

// Bytes per element of a CUarray_format (channel count applied separately). Unknown formats
// count as 16 bytes so that new formats are over- rather than under-counted.
inline std::size_t ArrayFormatBytes(int format) {
  switch (format) {
    case 0x01:
    case 0x08:
      return 1;  // (UN)SIGNED_INT8
    case 0x02:
    case 0x09:
    case 0x10:
      return 2;  // (UN)SIGNED_INT16, HALF
    case 0x03:
    case 0x0a:
    case 0x20:
      return 4;  // (UN)SIGNED_INT32, FLOAT
    default:
      return 16;
  }
}

}  // namespace flexai::cuda
