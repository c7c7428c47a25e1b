#include "device_plugin/metrics_endpoint.h"

#include <spdlog/spdlog.h>

namespace flexai::device_plugin {

Result<std::unique_ptr<prometheus::Exposer>> ListenForMetrics(const std::string& metrics_listen) {
  std::string listen = metrics_listen;
  if (listen.starts_with(':')) listen.insert(0, "0.0.0.0");
  try {
    auto exposer = std::make_unique<prometheus::Exposer>(listen);
    const auto ports = exposer->GetListeningPorts();
    // With port 0 the system picks one: say which.
    spdlog::info("metrics on http://{}:{}/metrics", listen.substr(0, listen.rfind(':')),
                 ports.empty() ? 0 : ports.front());
    return exposer;
  } catch (const std::exception& e) {
    return Error{"metrics endpoint " + listen +
                 ": cannot listen (port in use, or not HOST:PORT?): " + e.what()};
  }
}

}  // namespace flexai::device_plugin
