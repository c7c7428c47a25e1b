#include "device_plugin/plugin_settings.h"

namespace flexai::device_plugin {

PluginSettings DefaultSettings(partition::Vendor vendor) {
  PluginSettings settings;
  if (vendor == partition::Vendor::kAscend) {
    settings.resource_name = "flexai.io/npu";
    // The CUDA hook and MPS do not apply to NPUs: limits are passed as information only.
    settings.isolation = IsolationMode::kNone;
  }
  return settings;
}

}  // namespace flexai::device_plugin
