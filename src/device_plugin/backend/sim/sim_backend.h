// Chips that exist only in a file (or the built-in H100 box): for development, demos and tests.
// Health follows the file: edit a chip's `health` and the change is seen on the next check. A chip
// removed from the file is a vanished device (Unhealthy); chips added are served after a restart.
#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "device_plugin/backend/backend.h"
#include "device_plugin/backend/sim/sim_config.h"

namespace flexai::device_plugin {

class SimBackend : public Backend {
 public:
  // `config_path` empty = built-in box named after `node_name`.
  SimBackend(std::string config_path, std::string node_name);

  partition::Vendor vendor() const override { return vendor_; }
  Result<std::vector<partition::Chip>> Discover() override;
  Result<HealthReport> CheckHealth() override;
  std::map<std::string, std::string> VisibleDevicesEnv(
      const std::vector<partition::Chip>& chips) const override;

 private:
  std::string config_path_;
  std::string node_name_;
  partition::Vendor vendor_ = partition::Vendor::kSim;
  // Identity of the file version last read, to skip re-parsing an unchanged file.
  struct timespec last_mtime_ = {};
  off_t last_size_ = -1;
  HealthReport last_report_;
  std::vector<std::string> discovered_;  // UUIDs served since Discover
};

}  // namespace flexai::device_plugin
