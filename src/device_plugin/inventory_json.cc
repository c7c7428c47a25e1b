#include "device_plugin/inventory_json.h"

#include "kube/protocol.h"

namespace flexai::device_plugin {

nlohmann::json InventoryJson(partition::Vendor vendor, const std::vector<partition::Chip>& chips) {
  // One encoder for the chips, so the annotation the Hi Scheduler decodes and the probe's output
  // cannot drift apart.
  nlohmann::json inventory = nlohmann::json::parse(kube::EncodeInventory({.chips = chips}));
  inventory["vendor"] = partition::VendorName(vendor);
  return inventory;
}

}  // namespace flexai::device_plugin
