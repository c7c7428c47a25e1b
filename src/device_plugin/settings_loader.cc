#include "device_plugin/settings_loader.h"

#include <yaml-cpp/yaml.h>

namespace flexai::device_plugin {

// Reads only the fields the daemon uses; full validation belongs to the policy loader in
// src/partition/policy, which replaces this once it is part of the build.
Result<PluginSettings> LoadPluginSettings(const std::string& policy_path,
                                          partition::Vendor vendor) {
  PluginSettings settings = DefaultSettings(vendor);
  if (policy_path.empty()) return settings;
  try {
    YAML::Node root = YAML::LoadFile(policy_path);
    const bool npu = vendor == partition::Vendor::kAscend;
    if (auto name = root["resources"][npu ? "npu" : "gpu"]["count"]) {
      settings.resource_name = name.as<std::string>();
    }
    if (auto max = root["sharing"]["maxSlicesPerChip"]) {
      settings.max_slices_per_chip = max.as<int>();
      if (settings.max_slices_per_chip < 1) {
        return Error{policy_path + ": sharing.maxSlicesPerChip: must be >= 1"};
      }
    }
    if (auto mode = root["sharing"]["isolationMode"]) {
      auto parsed = ParseIsolationMode(mode.as<std::string>());
      if (!parsed) return Error{policy_path + ": sharing.isolationMode: must be mps, hook or none"};
      if (!npu) settings.isolation = *parsed;
    }
  } catch (const YAML::Exception& e) {
    return Error{policy_path + ": " + e.what()};
  }
  return settings;
}

}  // namespace flexai::device_plugin
