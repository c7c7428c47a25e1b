#include "isolation/mps_client_env.h"

#include <algorithm>

namespace flexai::isolation {

std::string MpsMemoryLimit(int device, std::uint64_t slice_mib) {
  return std::to_string(device) + "=" + std::to_string(slice_mib + kMpsContextHeadroomMib) + "M";
}

std::map<std::string, std::string> MpsClientEnvironment(const MpsClientSlice& slice) {
  std::map<std::string, std::string> env;
  env["FLEXAI_ISOLATION"] = "mps";
  env["CUDA_MPS_PIPE_DIRECTORY"] = slice.pipe_dir;
  if (slice.memory_limit_mib > 0) {
    env["CUDA_MPS_PINNED_DEVICE_MEM_LIMIT"] = MpsMemoryLimit(0, slice.memory_limit_mib);
  }
  // 0 = no compute reserved (a memory-only slice): best effort, all SMs.
  if (slice.thread_percentage > 0) {
    std::uint32_t percent = std::min<std::uint32_t>(slice.thread_percentage, 100);
    env["CUDA_MPS_ACTIVE_THREAD_PERCENTAGE"] = std::to_string(percent);
  }
  return env;
}

}  // namespace flexai::isolation
