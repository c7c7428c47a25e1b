#include "device_plugin/inventory_json.h"

namespace flexai::device_plugin {

nlohmann::json InventoryJson(partition::Vendor vendor, const std::vector<partition::Chip>& chips) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& chip : chips) {
    list.push_back({{"index", chip.index},
                    {"uuid", chip.uuid},
                    {"model", chip.model},
                    {"memoryMiB", chip.memory_mib},
                    {"numa", chip.numa_node},
                    {"linkGroup", chip.link_group},
                    {"health", partition::HealthName(chip.health)},
                    {"vendor", partition::VendorName(chip.vendor)}});
  }
  return {{"version", 1}, {"vendor", partition::VendorName(vendor)}, {"chips", list}};
}

}  // namespace flexai::device_plugin
