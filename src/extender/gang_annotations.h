// The gang annotations (docs/hi-scheduler.md, "Gangs") and the bind phase of a member whose chips
// are reserved while it waits for the rest of its gang.
#pragma once

#include <string_view>

namespace flexai::extender {

inline constexpr std::string_view kGangAnnotation = "flexai.io/gang";
inline constexpr std::string_view kGangSizeAnnotation = "flexai.io/gang-size";
inline constexpr std::string_view kGangTimeoutAnnotation = "flexai.io/gang-timeout-seconds";
// flexai.io/bind-phase of a member holding chips, not yet bound (no pods/binding yet).
inline constexpr std::string_view kBindPhaseGangReserved = "gang-reserved";

}  // namespace flexai::extender
