#include "device_plugin/backend/sim/sim_backend.h"

#include <sys/stat.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

namespace flexai::device_plugin {

SimBackend::SimBackend(std::string config_path, std::string node_name)
    : config_path_(std::move(config_path)), node_name_(std::move(node_name)) {}

Result<std::vector<partition::Chip>> SimBackend::Discover() {
  if (config_path_.empty()) {
    SimConfig config = DefaultSimChips(node_name_);
    vendor_ = config.vendor;
    return config.chips;
  }
  auto config = LoadSimConfigFile(config_path_);
  if (!config) return config.error();
  vendor_ = config->vendor;
  discovered_.clear();
  for (const auto& chip : config->chips) discovered_.push_back(chip.uuid);
  return config->chips;
}

Result<HealthReport> SimBackend::CheckHealth() {
  if (config_path_.empty()) return HealthReport{};
  struct stat st {};
  if (stat(config_path_.c_str(), &st) != 0) {
    return Error{"sim config " + config_path_ + " vanished; keeping last known health"};
  }
  bool unchanged = st.st_mtim.tv_sec == last_mtime_.tv_sec &&
                   st.st_mtim.tv_nsec == last_mtime_.tv_nsec && st.st_size == last_size_;
  if (unchanged) return last_report_;
  auto config = LoadSimConfigFile(config_path_);
  if (!config) return config.error();  // a half-written file: try again on the next check
  last_mtime_ = st.st_mtim;
  last_size_ = st.st_size;
  last_report_.clear();
  for (const auto& chip : config->chips) {
    if (std::find(discovered_.begin(), discovered_.end(), chip.uuid) == discovered_.end()) {
      spdlog::warn("sim config {}: chip {} was added; it is served after a restart", config_path_,
                   chip.uuid);
      continue;
    }
    last_report_[chip.uuid] = chip.health;
  }
  for (const auto& uuid : discovered_) {
    if (last_report_.contains(uuid)) continue;
    spdlog::error("sim config {}: chip {} was removed; reported Unhealthy (a vanished device)",
                  config_path_, uuid);
    last_report_[uuid] = partition::Health::kUnhealthy;
  }
  return last_report_;
}

std::map<std::string, std::string> SimBackend::VisibleDevicesEnv(
    const std::vector<partition::Chip>& chips) const {
  std::string uuids;
  for (const auto& chip : chips) uuids += (uuids.empty() ? "" : ",") + chip.uuid;
  switch (vendor_) {
    case partition::Vendor::kNvidia:
      return {{"NVIDIA_VISIBLE_DEVICES", uuids}};
    case partition::Vendor::kAscend: {
      // Ascend's container runtime takes device IDs, not UUIDs.
      std::string ids;
      for (const auto& chip : chips) ids += (ids.empty() ? "" : ",") + std::to_string(chip.index);
      return {{"ASCEND_VISIBLE_DEVICES", ids}};
    }
    case partition::Vendor::kSim:
      break;
  }
  return {{"FLEXAI_SIM_VISIBLE_DEVICES", uuids}};
}

}  // namespace flexai::device_plugin
