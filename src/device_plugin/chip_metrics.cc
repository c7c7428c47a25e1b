#include "device_plugin/chip_metrics.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <mutex>
#include <set>
#include <utility>

#include "isolation/usage_reader.h"

namespace flexai::device_plugin {

ChipMetrics::ChipMetrics(std::string node_name, const ChipInventory& inventory,
                         const Allocator& allocator)
    : node_name_(std::move(node_name)), inventory_(inventory), allocator_(allocator) {}

std::map<std::string, LiveUsage> ReadLiveUsage(const Allocator& allocator,
                                               const std::vector<partition::Chip>& chips) {
  static std::mutex warned_mu;
  static std::set<std::string> warned;  // files already said to be unreadable
  std::map<std::string, LiveUsage> live;
  for (const auto& source : allocator.UsageSources()) {
    auto snapshot = isolation::ReadUsageFile(source.usage_file);
    if (!snapshot) {
      // No hook in that container (yet) is normal; a file that is there but unusable is said
      // once per file.
      // An empty file is one the hook is creating this instant: not worth a warning.
      std::error_code ignored;
      const auto status = std::filesystem::symlink_status(source.usage_file, ignored);
      const bool being_created = std::filesystem::is_regular_file(status) &&
                                 std::filesystem::file_size(source.usage_file, ignored) == 0;
      if (std::filesystem::exists(status) && !being_created) {
        std::lock_guard lock(warned_mu);
        if (warned.size() > 4096) warned.clear();  // bounded: pods come and go
        if (warned.insert(source.usage_file).second) {
          spdlog::warn("live usage ignores {}", snapshot.error().message);
        }
      }
      continue;
    }
    for (const auto& device : snapshot->devices) {
      if (device.index < 0 || static_cast<size_t>(device.index) >= source.chip_uuids.size()) {
        continue;
      }
      LiveUsage& usage = live[source.chip_uuids[static_cast<size_t>(device.index)]];
      usage.memory_used_mib += static_cast<double>(device.used_bytes) / (1024.0 * 1024.0);
      usage.compute_used_percent += device.sm_share * 100.0;
    }
  }
  // The files are the containers' to write: no chip uses more than it has.
  for (const auto& chip : chips) {
    auto it = live.find(chip.uuid);
    if (it == live.end()) continue;
    it->second.memory_used_mib =
        std::min(it->second.memory_used_mib, static_cast<double>(chip.memory_mib));
    it->second.compute_used_percent = std::min(it->second.compute_used_percent, 100.0);
  }
  return live;
}

std::vector<prometheus::MetricFamily> ChipMetrics::Collect() const {
  using Value = std::function<double(const partition::Chip&, const ChipUsage&, const LiveUsage&)>;
  struct Gauge {
    const char* name;
    const char* help;
    Value value;
  };
  const std::vector<Gauge> gauges = {
      {"flexai_chip_memory_total_mib", "Device memory of the chip, MiB",
       [](const partition::Chip& c, const ChipUsage&, const LiveUsage&) {
         return double(c.memory_mib);
       }},
      {"flexai_chip_memory_allocated_mib", "Device memory granted to running containers, MiB",
       [](const partition::Chip&, const ChipUsage& u, const LiveUsage&) {
         return double(u.memory_mib);
       }},
      {"flexai_chip_cores_allocated_percent", "Compute granted to running containers, % of chip",
       [](const partition::Chip&, const ChipUsage& u, const LiveUsage&) {
         return double(u.cores);
       }},
      {"flexai_chip_slices_in_use", "Container slices allocated on the chip",
       [](const partition::Chip&, const ChipUsage& u, const LiveUsage&) {
         return double(u.slices);
       }},
      {"flexai_chip_healthy", "1 when the chip is Healthy, 0 when Unhealthy",
       [](const partition::Chip& c, const ChipUsage&, const LiveUsage&) {
         return c.healthy() ? 1.0 : 0.0;
       }},
      {"flexai_chip_memory_used_mib",
       "Device memory in use by hooked containers (from their usage.bin), MiB",
       [](const partition::Chip&, const ChipUsage&, const LiveUsage& l) {
         return l.memory_used_mib;
       }},
      {"flexai_chip_compute_used_percent",
       "Estimated GPU time used by hooked containers (from their usage.bin), % of chip",
       [](const partition::Chip&, const ChipUsage&, const LiveUsage& l) {
         return l.compute_used_percent;
       }},
  };
  const auto chips = inventory_.chips();
  const auto usage = allocator_.UsageByChip();
  const auto live = ReadLiveUsage(allocator_, chips);
  std::vector<prometheus::MetricFamily> families;
  for (const auto& gauge : gauges) {
    prometheus::MetricFamily family{gauge.name, gauge.help, prometheus::MetricType::Gauge, {}};
    for (const auto& chip : chips) {
      auto it = usage.find(chip.uuid);
      ChipUsage used = it == usage.end() ? ChipUsage{} : it->second;
      prometheus::ClientMetric metric;
      metric.label = {{"node", node_name_},
                      {"chip", std::to_string(chip.index)},
                      {"uuid", chip.uuid},
                      {"model", chip.model}};
      auto l = live.find(chip.uuid);
      metric.gauge.value = gauge.value(chip, used, l == live.end() ? LiveUsage{} : l->second);
      family.metric.push_back(std::move(metric));
    }
    families.push_back(std::move(family));
  }
  return families;
}

MpsMetrics::MpsMetrics(std::string node_name, StatusSource statuses)
    : node_name_(std::move(node_name)), statuses_(std::move(statuses)) {}

std::vector<prometheus::MetricFamily> MpsMetrics::Collect() const {
  const auto statuses = statuses_();
  if (statuses.empty()) return {};
  prometheus::MetricFamily up{"flexai_mps_daemon_up",
                              "1 when the MPS control daemon answers, 0 when stopped or failed",
                              prometheus::MetricType::Gauge,
                              {}};
  prometheus::MetricFamily restarts{
      "flexai_mps_daemon_restarts_total",
      "Restart attempts of the MPS control daemon after it stopped answering",
      prometheus::MetricType::Counter,
      {}};
  for (const auto& status : statuses) {
    prometheus::ClientMetric metric;
    metric.label = {{"node", node_name_}, {"gpu", status.gpu}};
    prometheus::ClientMetric restart = metric;
    metric.gauge.value = status.state == isolation::MpsDaemonState::kRunning ? 1.0 : 0.0;
    restart.counter.value = static_cast<double>(status.restarts);
    up.metric.push_back(std::move(metric));
    restarts.metric.push_back(std::move(restart));
  }
  return {std::move(up), std::move(restarts)};
}

}  // namespace flexai::device_plugin
