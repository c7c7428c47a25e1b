// Prometheus metrics per chip, computed at scrape time from the inventory and the allocator:
//   flexai_chip_memory_total_mib, flexai_chip_memory_allocated_mib,
//   flexai_chip_cores_allocated_percent, flexai_chip_slices_in_use, flexai_chip_healthy
// each labelled {node, chip (index), uuid, model}.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <string>
#include <vector>

#include "device_plugin/allocator.h"
#include "device_plugin/chip_inventory.h"

namespace flexai::device_plugin {

class ChipMetrics : public prometheus::Collectable {
 public:
  ChipMetrics(std::string node_name, const ChipInventory& inventory, const Allocator& allocator);
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const std::string node_name_;
  const ChipInventory& inventory_;
  const Allocator& allocator_;
};

}  // namespace flexai::device_plugin
