// Binary layout of the shared accounting file `<FLEXAI_SHARED_DIR>/usage.bin`, version 1.
// Written by libflexai-cuda.so in every process of a container, read by the device plugin.
// All fields are native-endian, naturally aligned; writers update them with std::atomic_ref.
#pragma once

#include <cstddef>
#include <cstdint>

namespace flexai::isolation {

inline constexpr char kUsageMagic[8] = {'F', 'L', 'X', 'U', 'S', 'A', 'G', 'E'};
inline constexpr std::uint32_t kUsageVersion = 1;
inline constexpr std::uint32_t kUsageMaxDevices = 16;
inline constexpr std::uint32_t kUsageMaxProcesses = 1024;
inline constexpr std::uint64_t kUnlimitedBytes = ~std::uint64_t{0};
inline constexpr const char* kUsageFileName = "usage.bin";

struct UsageHeader {
  char magic[8];                   // kUsageMagic
  std::uint32_t version;           // kUsageVersion
  std::uint32_t header_bytes;      // sizeof(UsageHeader)
  std::uint32_t device_bytes;      // sizeof(UsageDevice)
  std::uint32_t process_bytes;     // sizeof(UsageProcess)
  std::uint32_t device_count;      // devices with valid entries (visible devices, <= max)
  std::uint32_t device_capacity;   // kUsageMaxDevices
  std::uint32_t process_capacity;  // kUsageMaxProcesses
  std::uint32_t mode;              // 0 none, 1 hook, 2 mps (from FLEXAI_ISOLATION)
  std::uint64_t created_unix_ns;
  std::uint64_t reserved[3];
};
static_assert(sizeof(UsageHeader) == 72);

struct UsageDevice {
  std::uint64_t limit_bytes;        // kUnlimitedBytes when no memory quota
  std::uint64_t used_bytes;         // device memory held by all live processes of the container
  std::uint64_t peak_bytes;         // highest used_bytes seen
  std::uint32_t cores_percent;      // compute share, 100 = not throttled
  std::uint32_t sm_share_permille;  // estimated share of GPU time used over the last window
  std::uint64_t launches_total;     // kernel and graph launches
  std::uint64_t busy_ns_total;      // estimated GPU time of all launches
  std::int64_t tokens_ns;           // token bucket balance (GPU ns), may be negative (debt)
  std::int64_t refill_at_ns;        // CLOCK_MONOTONIC time of the last refill
  std::int64_t window_start_ns;     // start of the current share-estimate window
  std::uint64_t window_busy_ns;     // estimated GPU time launched in the current window
  std::uint64_t refused_total;      // allocations refused for the quota
  std::uint64_t reserved[3];
};
static_assert(sizeof(UsageDevice) == 112);

// One slot per process that allocated memory; pid 0 = free, -1 = being reclaimed.
struct UsageProcess {
  std::int32_t pid;  // pid in the container's pid namespace
  std::uint32_t reserved0;
  std::uint64_t start_ticks;  // /proc/<pid>/stat start time, guards against pid reuse
  std::uint64_t used_bytes[kUsageMaxDevices];
};
static_assert(sizeof(UsageProcess) == 144);

struct UsageFile {
  UsageHeader header;
  UsageDevice devices[kUsageMaxDevices];
  UsageProcess processes[kUsageMaxProcesses];
};

inline constexpr std::size_t kUsageDevicesOffset = offsetof(UsageFile, devices);
inline constexpr std::size_t kUsageProcessesOffset = offsetof(UsageFile, processes);
inline constexpr std::size_t kUsageFileBytes = sizeof(UsageFile);
static_assert(kUsageDevicesOffset == 72);
static_assert(kUsageProcessesOffset == 72 + 16 * 112);

}  // namespace flexai::isolation
