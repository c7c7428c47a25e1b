#include "device_plugin/device_id.h"

#include <algorithm>
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

std::string EncodeContainerDeviceIds(const ContainerDeviceIds& containers) {
  std::string text;
  for (const auto& [container, ids] : containers) {
    std::vector<std::string> sorted = ids;
    std::sort(sorted.begin(), sorted.end());
    text += (text.empty() ? "" : ";") + container + "=";
    for (size_t i = 0; i < sorted.size(); ++i) text += (i ? "," : "") + sorted[i];
  }
  return text;
}

std::optional<ContainerDeviceIds> DecodeContainerDeviceIds(std::string_view text) {
  ContainerDeviceIds containers;
  while (!text.empty()) {
    size_t end = text.find(';');
    std::string_view entry = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    size_t equals = entry.find('=');
    if (equals == std::string_view::npos || equals == 0) return std::nullopt;
    std::vector<std::string>& ids = containers[std::string(entry.substr(0, equals))];
    std::string_view list = entry.substr(equals + 1);
    while (true) {
      size_t comma = list.find(',');
      std::string_view id = list.substr(0, comma);
      if (!ParseDeviceId(id)) return std::nullopt;
      ids.emplace_back(id);
      if (comma == std::string_view::npos) break;
      list = list.substr(comma + 1);
    }
    std::sort(ids.begin(), ids.end());
  }
  return containers;
}

}  // namespace flexai::device_plugin
