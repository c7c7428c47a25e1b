#include "device_plugin/plugin_settings.h"

namespace flexai::device_plugin {

std::string_view IsolationModeName(IsolationMode mode) {
  switch (mode) {
    case IsolationMode::kHook:
      return "hook";
    case IsolationMode::kMps:
      return "mps";
    case IsolationMode::kNone:
      return "none";
  }
  return "none";
}

std::optional<IsolationMode> ParseIsolationMode(std::string_view name) {
  if (name == "hook") return IsolationMode::kHook;
  if (name == "mps") return IsolationMode::kMps;
  if (name == "none") return IsolationMode::kNone;
  return std::nullopt;
}

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
