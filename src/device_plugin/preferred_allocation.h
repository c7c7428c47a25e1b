// Which of kubelet's available virtual devices a container should get: one device per distinct
// chip where possible, chips close together (same NVLink island / HCCS ring first, then same NUMA
// node), and the chips of the pod's pending assignment first when one is known.
#pragma once

#include <string>
#include <vector>

#include "partition/chip.h"

namespace flexai::device_plugin {

struct PreferredAllocationInput {
  std::vector<std::string> available;     // device IDs kubelet may give
  std::vector<std::string> must_include;  // device IDs kubelet already chose
  int size = 0;
  std::vector<std::string> hint_chips;  // UUIDs of the pending assignment, best first
};

// Returns `size` device IDs (fewer only when not enough are available). IDs that do not parse or
// name unknown chips are ignored.
std::vector<std::string> ChoosePreferredDevices(const std::vector<partition::Chip>& chips,
                                                const PreferredAllocationInput& input);

}  // namespace flexai::device_plugin
