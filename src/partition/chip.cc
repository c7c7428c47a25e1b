#include "partition/chip.h"

#include <charconv>

namespace flexai::partition {

std::string_view VendorName(Vendor vendor) {
  switch (vendor) {
    case Vendor::kNvidia:
      return "nvidia";
    case Vendor::kAscend:
      return "ascend";
    case Vendor::kSim:
      return "sim";
  }
  return "unknown";
}

std::optional<Vendor> ParseVendor(std::string_view name) {
  if (name == "nvidia") return Vendor::kNvidia;
  if (name == "ascend") return Vendor::kAscend;
  if (name == "sim") return Vendor::kSim;
  return std::nullopt;
}

std::string_view HealthName(Health health) {
  return health == Health::kHealthy ? "Healthy" : "Unhealthy";
}

bool IsCpuList(std::string_view text) {
  if (text.empty()) return true;
  while (true) {
    size_t end = text.find(',');
    std::string_view range = text.substr(0, end);
    size_t dash = range.find('-');
    std::string_view first = range.substr(0, dash);
    std::string_view last = dash == std::string_view::npos ? first : range.substr(dash + 1);
    auto number = [](std::string_view s, unsigned& value) {
      auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
      return !s.empty() && ec == std::errc() && ptr == s.data() + s.size();
    };
    unsigned low = 0, high = 0;
    if (!number(first, low) || !number(last, high) || low > high) return false;
    if (end == std::string_view::npos) return true;
    text.remove_prefix(end + 1);
  }
}

}  // namespace flexai::partition
