// The environment a container gets in MPS mode: which daemon to talk to and the limits MPS
// enforces for it. One place for these names so the device plugin and docs agree.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace flexai::isolation {

struct MpsClientSlice {
  std::string pipe_dir;             // daemon's pipe directory as mounted in the container
  std::uint64_t memory_limit_mib;   // 0 = no memory limit
  std::uint32_t thread_percentage;  // 1..100; 0 = no compute reserved (variable left out)
};

// MPS counts the client's own context inside CUDA_MPS_PINNED_DEVICE_MEM_LIMIT (256 MiB on an
// H100, 576 MiB on an H200), so a limit of exactly the slice would leave less than the slice to
// allocate. The slice itself is enforced exactly by the hook (preloaded in MPS mode too); MPS's
// limit is the slice plus this headroom, a backstop for a process that bypasses the hook.
inline constexpr std::uint64_t kMpsContextHeadroomMib = 1024;
// The CUDA_MPS_PINNED_DEVICE_MEM_LIMIT entry for one device of a slice: "<device>=<MiB>M".
std::string MpsMemoryLimit(int device, std::uint64_t slice_mib);

// CUDA_MPS_PIPE_DIRECTORY, CUDA_MPS_PINNED_DEVICE_MEM_LIMIT ("0=<N>M": the container sees its
// one GPU as device 0), CUDA_MPS_ACTIVE_THREAD_PERCENTAGE and FLEXAI_ISOLATION=mps.
std::map<std::string, std::string> MpsClientEnvironment(const MpsClientSlice& slice);

}  // namespace flexai::isolation
