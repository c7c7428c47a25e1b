// RFC 3339 timestamps as Kubernetes writes them (metav1.Time and metav1.MicroTime, always UTC).
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace flexai::kube {

using WallTime = std::chrono::system_clock::time_point;

// "2024-05-01T12:00:00Z"
std::string FormatTime(WallTime t);
// "2024-05-01T12:00:00.123456Z" (MicroTime: Lease renewTime, Event eventTime)
std::string FormatMicroTime(WallTime t);
// Accepts "Z" or a numeric offset and optional fractional seconds; nullopt when malformed.
std::optional<WallTime> ParseTime(const std::string& text);

}  // namespace flexai::kube
