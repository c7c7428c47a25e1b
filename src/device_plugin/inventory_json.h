// The node inventory as JSON, the value of the node annotation `flexai.io/inventory` and the
// output of `--probe`: the protocol's encoding (kube::EncodeInventory) plus the node's vendor:
//   {"version":1,"vendor":"nvidia","chips":[{"index":0,"uuid":"GPU-…","model":"…","memoryMiB":81559,
//     "numa":0,"linkGroup":0,"cpus":"0-31","health":"Healthy","vendor":"nvidia"}]}
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "partition/chip.h"

namespace flexai::device_plugin {

nlohmann::json InventoryJson(partition::Vendor vendor, const std::vector<partition::Chip>& chips);

}  // namespace flexai::device_plugin
