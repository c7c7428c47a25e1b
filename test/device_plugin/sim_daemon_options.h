// Options of a daemon serving the chips of a sim file as node n1, for the daemon tests: no policy
// file, no metrics endpoint (tests that scrape set metrics_listen).
#pragma once

#include <string>

#include "device_plugin/daemon_options.h"

namespace flexai::device_plugin::testing {

inline DaemonOptions SimDaemonOptions(const std::string& plugin_dir, const std::string& sim_file) {
  DaemonOptions options;
  options.backend = "sim";
  options.sim_config = sim_file;
  options.plugin_dir = plugin_dir;
  options.node_name = "n1";
  options.metrics_listen = "";
  return options;
}

}  // namespace flexai::device_plugin::testing
