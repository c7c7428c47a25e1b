// The gang annotations (docs/hi-scheduler.md, "Gangs"), the bind phase of a member whose chips
// are reserved while it waits for the rest of its gang, and the island binding multi-chip members
// usually ask for.
#pragma once

#include <string_view>

namespace flexai::extender {

inline constexpr std::string_view kGangAnnotation = "flexai.io/gang";
inline constexpr std::string_view kGangSizeAnnotation = "flexai.io/gang-size";
inline constexpr std::string_view kGangTimeoutAnnotation = "flexai.io/gang-timeout-seconds";
// "true": all chips of the pod inside one NVLink island / HCCS ring (the inventory's linkGroup).
inline constexpr std::string_view kIslandBindAnnotation = "flexai.io/island-bind";
// flexai.io/bind-phase of a member holding chips, not yet bound (no pods/binding yet).
inline constexpr std::string_view kBindPhaseGangReserved = "gang-reserved";

}  // namespace flexai::extender
