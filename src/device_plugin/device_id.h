// Virtual device IDs advertised to kubelet: each chip appears as `max slices` devices named
// `<chip uuid>::<k>` (k = 0..max-1), so kubelet can hand the same chip to several pods.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace flexai::device_plugin {

struct DeviceId {
  std::string chip_uuid;
  int slot = 0;
};

std::string FormatDeviceId(std::string_view chip_uuid, int slot);
// nullopt when `id` is not `<uuid>::<non-negative integer>`.
std::optional<DeviceId> ParseDeviceId(std::string_view id);

// The device IDs kubelet passed to each answered container, by container name, as written to the
// pod's `flexai.io/device-ids` annotation: "main=GPU-a::0,GPU-b::3;side=GPU-c::1" (IDs sorted).
using ContainerDeviceIds = std::map<std::string, std::vector<std::string>>;
std::string EncodeContainerDeviceIds(const ContainerDeviceIds& containers);
// nullopt when `text` is not in that form (a container without IDs, an ID that does not parse).
std::optional<ContainerDeviceIds> DecodeContainerDeviceIds(std::string_view text);

}  // namespace flexai::device_plugin
