#include "device_plugin/backend/backend_factory.h"

#include "device_plugin/backend/ascend/ascend_backend.h"
#include "device_plugin/backend/nvidia/nvidia_backend.h"
#include "device_plugin/backend/sim/sim_backend.h"

namespace flexai::device_plugin {

Result<std::unique_ptr<Backend>> MakeBackend(const DaemonOptions& options) {
  if (options.backend == "sim") {
    return std::unique_ptr<Backend>(
        std::make_unique<SimBackend>(options.sim_config, options.node_name));
  }
  if (options.backend == "nvidia") {
    NvidiaBackendOptions nvidia;
    nvidia.library_path = options.nvml_library;
    return std::unique_ptr<Backend>(std::make_unique<NvidiaBackend>(nvidia));
  }
  if (options.backend == "ascend") {
    return std::unique_ptr<Backend>(std::make_unique<AscendBackend>(options.dcmi_library));
  }
  return Error{"unknown backend \"" + options.backend + "\" (expected nvidia, ascend or sim)"};
}

}  // namespace flexai::device_plugin
