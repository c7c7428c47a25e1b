// The daemon's settings from the slice policy file (--policy; none = the policy's defaults):
// the resource it registers (resources.gpu.count or resources.npu.count), virtual devices per
// chip and isolation mode (sharing, with the first node override matching `node_labels`).
#pragma once

#include <map>
#include <string>

#include "device_plugin/plugin_settings.h"

namespace flexai::device_plugin {

Result<PluginSettings> LoadPluginSettings(const std::string& policy_path, partition::Vendor vendor,
                                          const std::map<std::string, std::string>& node_labels);

}  // namespace flexai::device_plugin
