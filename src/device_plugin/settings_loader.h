// Reads the daemon's settings (resource name, max slices per chip, isolation mode) from the
// slice policy file (--policy); no file = the policy's defaults for the vendor.
#pragma once

#include <string>

#include "device_plugin/plugin_settings.h"

namespace flexai::device_plugin {

Result<PluginSettings> LoadPluginSettings(const std::string& policy_path, partition::Vendor vendor);

}  // namespace flexai::device_plugin
