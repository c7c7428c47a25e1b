// What the device plugin and the hook agree on in each GPU's activity folder
// (<shared_host_dir>/activity-<GPU UUID>, mounted read-only at <FLEXAI_ACTIVITY_DIR>/<GPU UUID>)
// besides the containers' board links (src/isolation/hook/device_activity.h).
#pragma once

#include <string_view>

namespace flexai::isolation {

// A unix socket that answers a connecting process with its host PID in decimal and a newline
// (0: the device plugin cannot see host PIDs), then hangs up. Names starting with '.' are never
// a container's board.
inline constexpr std::string_view kHostPidSocketName = ".host-pid.sock";

}  // namespace flexai::isolation
