#include "partition/chip.h"

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

}  // namespace flexai::partition
