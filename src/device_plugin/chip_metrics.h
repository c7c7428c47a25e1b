// Prometheus metrics per chip, computed at scrape time from the inventory and the allocator:
//   flexai_chip_memory_total_mib, flexai_chip_memory_allocated_mib,
//   flexai_chip_cores_allocated_percent, flexai_chip_slices_in_use, flexai_chip_healthy, and the
//   live flexai_chip_memory_used_mib / flexai_chip_compute_used_percent read from the hook's
//   usage.bin of each allocated container; each labelled {node, chip (index), uuid, model}.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <map>
#include <string>
#include <vector>

#include "device_plugin/allocator.h"
#include "device_plugin/chip_inventory.h"

namespace flexai::device_plugin {

struct LiveUsage {
  double memory_used_mib = 0;
  double compute_used_percent = 0;
};

class ChipMetrics : public prometheus::Collectable {
 public:
  ChipMetrics(std::string node_name, const ChipInventory& inventory, const Allocator& allocator);
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  std::map<std::string, LiveUsage> ReadLiveUsage() const;

  const std::string node_name_;
  const ChipInventory& inventory_;
  const Allocator& allocator_;
};

}  // namespace flexai::device_plugin
