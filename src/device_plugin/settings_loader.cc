#include "device_plugin/settings_loader.h"

#include "partition/policy/slice_policy.h"

namespace flexai::device_plugin {
Result<PluginSettings> LoadPluginSettings(const std::string& policy_path, partition::Vendor vendor,
                                          const std::map<std::string, std::string>& node_labels) {
  partition::SlicePolicy policy = partition::DefaultSlicePolicy();
  if (!policy_path.empty()) {
    auto loaded = partition::LoadSlicePolicyFile(policy_path);
    if (!loaded) return loaded.error();
    policy = std::move(*loaded);
  }
  PluginSettings settings = DefaultSettings(vendor);
  const bool npu = vendor == partition::Vendor::kAscend;
  settings.resource_name = npu ? policy.resources.npu.count : policy.resources.gpu.count;
  partition::SharingSection sharing = partition::EffectiveSharing(policy, node_labels);
  settings.max_slices_per_chip = sharing.max_slices_per_chip;
  // The CUDA hook and MPS do not apply to NPUs.
  if (!npu) settings.isolation = sharing.isolation_mode;
  settings.policy = std::move(policy);
  return settings;
}

}  // namespace flexai::device_plugin
