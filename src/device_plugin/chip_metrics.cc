#include "device_plugin/chip_metrics.h"

#include <functional>
#include <utility>

namespace flexai::device_plugin {

ChipMetrics::ChipMetrics(std::string node_name, const ChipInventory& inventory,
                         const Allocator& allocator)
    : node_name_(std::move(node_name)), inventory_(inventory), allocator_(allocator) {}

std::vector<prometheus::MetricFamily> ChipMetrics::Collect() const {
  using Value = std::function<double(const partition::Chip&, const ChipUsage&)>;
  struct Gauge {
    const char* name;
    const char* help;
    Value value;
  };
  const std::vector<Gauge> gauges = {
      {"flexai_chip_memory_total_mib", "Device memory of the chip, MiB",
       [](const partition::Chip& c, const ChipUsage&) { return double(c.memory_mib); }},
      {"flexai_chip_memory_allocated_mib", "Device memory granted to running containers, MiB",
       [](const partition::Chip&, const ChipUsage& u) { return double(u.memory_mib); }},
      {"flexai_chip_cores_allocated_percent", "Compute granted to running containers, % of chip",
       [](const partition::Chip&, const ChipUsage& u) { return double(u.cores); }},
      {"flexai_chip_slices_in_use", "Container slices allocated on the chip",
       [](const partition::Chip&, const ChipUsage& u) { return double(u.slices); }},
      {"flexai_chip_healthy", "1 when the chip is Healthy, 0 when Unhealthy",
       [](const partition::Chip& c, const ChipUsage&) { return c.healthy() ? 1.0 : 0.0; }},
  };
  const auto chips = inventory_.chips();
  const auto usage = allocator_.UsageByChip();
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
      metric.gauge.value = gauge.value(chip, used);
      family.metric.push_back(std::move(metric));
    }
    families.push_back(std::move(family));
  }
  return families;
}

}  // namespace flexai::device_plugin
