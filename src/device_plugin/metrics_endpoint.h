// The Prometheus /metrics endpoint of the node binaries, from a --metrics-listen value.
#pragma once

#include <prometheus/exposer.h>

#include <memory>
#include <string>

#include "partition/result.h"

namespace flexai::device_plugin {

// Listens on HOST:PORT, or on every address for ":PORT" (as NVIDIA's tools write it); the error
// names the address. Logs where the metrics are.
Result<std::unique_ptr<prometheus::Exposer>> ListenForMetrics(const std::string& metrics_listen);

}  // namespace flexai::device_plugin
