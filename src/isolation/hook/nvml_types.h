// The few NVML types the hook's memory view and share calibration need, declared by hand with the
// layouts of NVIDIA's public nvml.h (the hook builds without the NVML headers and never links
// libnvidia-ml).
#pragma once

#include <cstddef>

namespace flexai::nvml {

using nvmlReturn_t = int;
inline constexpr nvmlReturn_t NVML_SUCCESS = 0;
inline constexpr nvmlReturn_t NVML_ERROR_FUNCTION_NOT_FOUND = 13;

using nvmlDevice_t = struct nvmlDevice_st*;

// nvmlDeviceGetUUID's buffer: NVML_DEVICE_UUID_V2_BUFFER_SIZE.
inline constexpr unsigned int kUuidBufferSize = 96;

struct nvmlMemory_t {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};

struct nvmlMemory_v2_t {
  unsigned int version;  // nvmlMemory_v2, set by the caller
  unsigned long long total;
  unsigned long long reserved;
  unsigned long long free;
  unsigned long long used;
};

// nvmlDeviceGetUtilizationRates's answer: percent of the last sample period in which one or more
// kernels ran, and in which device memory was read or written.
struct nvmlUtilization_t {
  unsigned int gpu;
  unsigned int memory;
};

// NVML_STRUCT_VERSION(Memory, 2): the struct's size with the version in the top byte.
inline constexpr unsigned int nvmlMemory_v2 =
    static_cast<unsigned int>(sizeof(nvmlMemory_v2_t)) | (2u << 24);

static_assert(sizeof(nvmlMemory_t) == 24);
static_assert(sizeof(nvmlMemory_v2_t) == 40 && offsetof(nvmlMemory_v2_t, total) == 8 &&
              offsetof(nvmlMemory_v2_t, reserved) == 16 && offsetof(nvmlMemory_v2_t, free) == 24 &&
              offsetof(nvmlMemory_v2_t, used) == 32);
static_assert(sizeof(nvmlUtilization_t) == 8);

}  // namespace flexai::nvml
