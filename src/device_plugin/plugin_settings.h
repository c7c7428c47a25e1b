// What the daemon needs from the slice policy and the node layout: the resource it serves, how
// many virtual devices each chip shows, the isolation mode, and the host paths it mounts.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "partition/chip.h"
#include "partition/policy/slice_policy.h"
#include "partition/result.h"

namespace flexai::device_plugin {

// The slice policy's isolation mode: one enum and one parser for the whole project.
using partition::IsolationMode;
using partition::IsolationModeName;
using partition::ParseIsolationMode;

struct PluginSettings {
  std::string resource_name = "flexai.io/gpu";
  int max_slices_per_chip = 10;
  IsolationMode isolation = IsolationMode::kHook;
  // Host directory holding libflexai-cuda.so, mounted read-only at kHookLibraryDir.
  std::string hook_library_host_dir = "/usr/local/flexai/lib";
  // Host directory for the hook's accounting files: each container gets
  // <shared_host_dir>/<pod uid>/<container>, mounted at kSharedDirInContainer.
  std::string shared_host_dir = "/var/lib/flexai/shared";
  // Host directory under which the MPS supervisor keeps each daemon's pipe and log directories;
  // a container's daemon pipe directory is mounted at kMpsPipeDirInContainer. Its `shm` folder is
  // the /dev/shm that the MPS daemons and all their clients share (MpsSharedMemoryDir).
  std::string mps_host_dir = "/var/run/flexai/mps";
  // NVIDIA GPUs named by mounts under kNvidiaDeviceListDir instead of NVIDIA_VISIBLE_DEVICES
  // (--device-list-strategy volume-mounts).
  bool device_list_as_volume_mounts = false;
  // The whole policy, for what is decided per container (Ascend vNPU templates).
  partition::SlicePolicy policy = partition::DefaultSlicePolicy();
};

inline constexpr std::string_view kHookLibraryDir = "/usr/local/flexai/lib";
inline constexpr std::string_view kHookLibraryPath = "/usr/local/flexai/lib/libflexai-cuda.so";
inline constexpr std::string_view kSharedDirInContainer = "/var/run/flexai/shared";
inline constexpr std::string_view kMpsPipeDirInContainer = "/var/run/flexai/mps";
// A container's activity board of a chip (see src/isolation/hook/device_activity.h) is the file
// activity-<GPU UUID> of its accounting directory, hard-linked as <pod uid>.<container> into the
// chip's folder <shared_host_dir>/activity-<GPU UUID>, which is mounted read-only at
// <kActivityDirInContainer>/<GPU UUID>.
inline constexpr std::string_view kActivityDirInContainer = "/var/run/flexai/activity";
inline constexpr std::string_view kActivityBoardPrefix = "activity-";
// The NVIDIA container toolkit's volume-mounts device list: /dev/null mounted at <dir>/<GPU UUID>
// and NVIDIA_VISIBLE_DEVICES=<dir> (accept-nvidia-visible-devices-as-volume-mounts).
inline constexpr std::string_view kNvidiaDeviceListDir = "/var/run/nvidia-container-devices";
// MPS clients reach their server through POSIX shared memory as well as the pipe directory, so in
// MPS mode a container's /dev/shm is the host folder the daemons' /dev/shm is (the chart mounts it
// there in the device plugin's own container).
inline constexpr std::string_view kMpsShmDirInContainer = "/dev/shm";

inline std::string MpsSharedMemoryDir(const PluginSettings& settings) {
  return settings.mps_host_dir + "/shm";
}

// Defaults for a vendor: GPUs are served as `flexai.io/gpu`, NPUs as `flexai.io/npu`.
PluginSettings DefaultSettings(partition::Vendor vendor);

}  // namespace flexai::device_plugin
