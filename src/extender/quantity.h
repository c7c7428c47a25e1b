// Kubernetes resource quantities ("500m", "2", "4Gi", "1e3") as the integers flexai needs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace flexai::extender {

// CPU in millicores: "500m" -> 500, "2" -> 2000, "1.5" -> 1500.
std::optional<int64_t> ParseCpuMilli(const nlohmann::json& quantity);
// Memory in MiB (rounded up): "4Gi" -> 4096, "1000Mi" -> 1000, "1G" -> 954, "1048576" -> 1.
std::optional<int64_t> ParseMemoryMib(const nlohmann::json& quantity);
// A plain integer count (extended resources): 3 or "3"; anything else is nullopt.
std::optional<int64_t> ParseCount(const nlohmann::json& quantity);

}  // namespace flexai::extender
