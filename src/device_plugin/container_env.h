// What a container gets from Allocate: the variables that make its chips visible and carry its
// slice limits in the form the isolation mode reads, plus the host directories it must see.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "device_plugin/backend/backend.h"
#include "device_plugin/plugin_settings.h"
#include "partition/assignment.h"
#include "partition/chip.h"

namespace flexai::device_plugin {

struct MountSpec {
  std::string container_path;
  std::string host_path;
  bool read_only = false;
};

struct ContainerSetup {
  std::map<std::string, std::string> env;
  std::vector<MountSpec> mounts;
};

// Host directories prepared for one container.
struct ContainerHostPaths {
  std::string shared_dir;    // its own accounting directory (hook mode), mounted read-write
  std::string mps_pipe_dir;  // the pipe directory of the MPS daemon serving its chips (mps mode)
  std::string mps_shm_dir;   // the /dev/shm shared with the MPS daemons (mps mode)
  // Per chip, in the order of `chips`: the folder of every hook container's activity board of
  // that GPU (hook mode), mounted read-only. Empty: none is mounted.
  std::vector<std::string> activity_boards;
};

// `chips[i]` is the chip of `grants[i]`, sorted by chip index: the container sees them in that
// order (device i), which is how the NVIDIA runtime orders the devices it exposes.
ContainerSetup BuildContainerSetup(const Backend& backend, const PluginSettings& settings,
                                   const std::vector<partition::Chip>& chips,
                                   const std::vector<partition::ChipGrant>& grants,
                                   const ContainerHostPaths& paths);

// Why a pod's `flexai.io/isolation` annotation cannot be served by `settings` for `grants` on a
// chip of `vendor`; empty when it can (no annotation, whole chips only, or the same mode).
std::string IsolationConflict(const std::map<std::string, std::string>& pod_annotations,
                              const std::vector<partition::ChipGrant>& grants,
                              const PluginSettings& settings, partition::Vendor vendor);

}  // namespace flexai::device_plugin
