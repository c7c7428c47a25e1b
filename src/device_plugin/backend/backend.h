// One vendor's view of a node's accelerators: discover the chips, report their health, and say
// which environment makes a set of chips visible in a container. Nothing else lives here:
// fit, scoring and accounting are vendor-neutral (src/partition).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "partition/chip.h"
#include "partition/result.h"

namespace flexai::device_plugin {

// Current health of each chip, keyed by UUID. Chips absent from the map keep their last health.
using HealthReport = std::map<std::string, partition::Health>;

class Backend {
 public:
  virtual ~Backend() = default;

  virtual partition::Vendor vendor() const = 0;
  // Finds the chips on this node, in index order. Called once at start (and by --probe).
  virtual Result<std::vector<partition::Chip>> Discover() = 0;
  // Returns the health of the chips now. Called every few hundred milliseconds from one thread;
  // must not block longer than about 100 ms.
  virtual Result<HealthReport> CheckHealth() = 0;
  // Environment variables that expose exactly `chips` to a container (e.g. NVIDIA_VISIBLE_DEVICES).
  virtual std::map<std::string, std::string> VisibleDevicesEnv(
      const std::vector<partition::Chip>& chips) const = 0;
};

}  // namespace flexai::device_plugin
