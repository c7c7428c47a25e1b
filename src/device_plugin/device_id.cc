#include "device_plugin/device_id.h"

#include <charconv>

namespace flexai::device_plugin {

std::string FormatDeviceId(std::string_view chip_uuid, int slot) {
  return std::string(chip_uuid) + "::" + std::to_string(slot);
}

std::optional<DeviceId> ParseDeviceId(std::string_view id) {
  size_t sep = id.rfind("::");
  if (sep == std::string_view::npos || sep == 0) return std::nullopt;
  std::string_view slot_text = id.substr(sep + 2);
  int slot = 0;
  auto [ptr, ec] = std::from_chars(slot_text.data(), slot_text.data() + slot_text.size(), slot);
  if (slot_text.empty() || ec != std::errc() || ptr != slot_text.data() + slot_text.size() ||
      slot < 0) {
    return std::nullopt;
  }
  return DeviceId{std::string(id.substr(0, sep)), slot};
}

}  // namespace flexai::device_plugin
