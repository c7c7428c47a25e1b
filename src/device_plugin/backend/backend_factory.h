// Builds the backend named by --backend with its library path / sim file.
#pragma once

#include <memory>

#include "device_plugin/backend/backend.h"
#include "device_plugin/daemon_options.h"

namespace flexai::device_plugin {

Result<std::unique_ptr<Backend>> MakeBackend(const DaemonOptions& options);

}  // namespace flexai::device_plugin
