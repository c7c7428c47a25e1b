// Prometheus metrics per chip, computed at scrape time from the inventory and the allocator:
//   flexai_chip_memory_total_mib, flexai_chip_memory_allocated_mib,
//   flexai_chip_cores_allocated_percent, flexai_chip_slices_in_use, flexai_chip_healthy, and the
//   live flexai_chip_memory_used_mib / flexai_chip_compute_used_percent read from the hook's
//   usage.bin of each allocated container; each labelled {node, chip (index), uuid, model}.
// And, in MPS mode, the state of each MPS control daemon (MpsMetrics).
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "device_plugin/allocator.h"
#include "device_plugin/chip_inventory.h"
#include "isolation/mps_supervisor.h"

namespace flexai::device_plugin {

struct LiveUsage {
  double memory_used_mib = 0;
  double compute_used_percent = 0;
};

// Live usage per chip UUID, summed over the usage.bin of every container the allocator holds on
// it (containers without a readable file add nothing; an unusable file is logged once), capped
// at each chip's memory and 100% compute. Read for metrics and the node's flexai.io/live-usage
// annotation.
std::map<std::string, LiveUsage> ReadLiveUsage(const Allocator& allocator,
                                               const std::vector<partition::Chip>& chips);

class ChipMetrics : public prometheus::Collectable {
 public:
  ChipMetrics(std::string node_name, const ChipInventory& inventory, const Allocator& allocator);
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const std::string node_name_;
  const ChipInventory& inventory_;
  const Allocator& allocator_;
};

// The MPS control daemons, at scrape time, labelled {node, gpu (UUID, or "all")}:
//   flexai_mps_daemon_up (1 running, 0 stopped or failed) and flexai_mps_daemon_restarts_total
//   (restarts after the daemon was found dead). Nothing while MPS isolation is off.
class MpsMetrics : public prometheus::Collectable {
 public:
  using StatusSource = std::function<std::vector<isolation::MpsDaemonStatus>()>;
  MpsMetrics(std::string node_name, StatusSource statuses);
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const std::string node_name_;
  const StatusSource statuses_;
};

}  // namespace flexai::device_plugin
