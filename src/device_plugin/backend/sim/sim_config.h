// The sim backend's chip file (--sim-config), YAML or JSON:
//
//   vendor: sim            # nvidia | ascend | sim: decides the container's visible-devices
//   variable chips:
//     - uuid: GPU-sim-0     # required, unique, none of "|=;,:"
//       model: H100         # default "H100"
//       memoryMiB: 81559    # required, > 0
//       numa: 0             # default -1 (unknown)
//       linkGroup: 0        # default -1 (no NVLink / HCCS peers)
//       health: Healthy     # Healthy | Unhealthy, default Healthy; re-read while running
//
// With no file the backend simulates one H100 box (DefaultSimChips).
#pragma once

#include <string>
#include <vector>

#include "partition/chip.h"
#include "partition/result.h"

namespace flexai::device_plugin {

struct SimConfig {
  partition::Vendor vendor = partition::Vendor::kSim;
  std::vector<partition::Chip> chips;
};

// Parses the file's text; `source` names it in error messages.
Result<SimConfig> ParseSimConfig(const std::string& text, const std::string& source);
Result<SimConfig> LoadSimConfigFile(const std::string& path);
// 8 H100s of 81,559 MiB: chips 0-3 on NUMA 0 / NVLink island 0, chips 4-7 on NUMA 1 / island 1.
// UUIDs are `GPU-sim-<node>-<i>` so that simulated nodes do not collide in one cluster.
SimConfig DefaultSimChips(const std::string& node_name);

}  // namespace flexai::device_plugin
