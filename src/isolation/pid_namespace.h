// Whether this process is in the host's (the initial) PID namespace, where its PIDs are those
// NVML names processes by.
#pragma once

#include <unistd.h>

#include <array>
#include <string_view>

namespace flexai::isolation {

inline bool InHostPidNamespace() {
  // The initial PID namespace's inode number is fixed: PROC_PID_INIT_INO in the kernel.
  constexpr std::string_view kInitPidNamespace = "pid:[4026531836]";
  std::array<char, 64> link{};
  ssize_t length = readlink("/proc/self/ns/pid", link.data(), link.size() - 1);
  return length > 0 &&
         std::string_view(link.data(), static_cast<std::size_t>(length)) == kInitPidNamespace;
}

}  // namespace flexai::isolation
