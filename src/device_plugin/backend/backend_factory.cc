#include "device_plugin/backend/backend_factory.h"

#include "device_plugin/backend/sim/sim_backend.h"

namespace flexai::device_plugin {

Result<std::unique_ptr<Backend>> MakeBackend(const DaemonOptions& options) {
  if (options.backend == "sim") {
    return std::unique_ptr<Backend>(
        std::make_unique<SimBackend>(options.sim_config, options.node_name));
  }
  return Error{"unknown backend \"" + options.backend + "\" (expected nvidia, ascend or sim)"};
}

}  // namespace flexai::device_plugin
