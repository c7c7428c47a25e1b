// Virtual device IDs advertised to kubelet: each chip appears as `max slices` devices named
// `<chip uuid>::<k>` (k = 0..max-1), so kubelet can hand the same chip to several pods.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace flexai::device_plugin {

struct DeviceId {
  std::string chip_uuid;
  int slot = 0;
};

std::string FormatDeviceId(std::string_view chip_uuid, int slot);
// nullopt when `id` is not `<uuid>::<non-negative integer>`.
std::optional<DeviceId> ParseDeviceId(std::string_view id);

}  // namespace flexai::device_plugin
