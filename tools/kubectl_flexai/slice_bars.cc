#include "kubectl_flexai/slice_bars.h"

#include <chrono>
#include <cstdio>
#include <map>
#include <sstream>

namespace flexai::kubectl {
namespace {

std::string Age(kube::WallTime then, kube::WallTime now) {
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now - then).count();
  if (seconds < 0) seconds = 0;
  if (seconds < 120) return std::to_string(seconds) + "s";
  if (seconds < 7200) return std::to_string(seconds / 60) + "m";
  return std::to_string(seconds / 3600) + "h";
}

std::string NodeHeader(const NodeView& node, const BarOptions& options) {
  std::ostringstream out;
  out << "NODE " << node.name;
  if (!node.has_inventory) {
    out << "  (no flexai inventory: the device plugin does not run here)";
    return out.str();
  }
  if (!node.inventory_error.empty()) {
    out << "  (inventory unreadable: " << node.inventory_error << ")";
    return out.str();
  }
  int unhealthy = 0;
  for (const auto& c : node.chips) unhealthy += c.chip.healthy() ? 0 : 1;
  out << "  " << node.chips.size() << (node.chips.size() == 1 ? " chip" : " chips");
  if (unhealthy > 0) out << ", " << unhealthy << " unhealthy";
  if (options.now) {
    out << "  heartbeat "
        << (node.heartbeat ? Age(*node.heartbeat, *options.now) + " ago" : "none");
  }
  return out.str();
}

}  // namespace

char OwnerLetter(size_t i) {
  if (i < 26) return static_cast<char>('A' + i);
  if (i < 52) return static_cast<char>('a' + (i - 26));
  return '#';
}

std::string DrawBar(const std::vector<std::pair<char, int64_t>>& parts, int64_t capacity,
                    int width) {
  std::string bar(static_cast<size_t>(width), '.');
  if (capacity <= 0 || width <= 0) return bar;
  int64_t total = 0;
  for (const auto& [letter, amount] : parts) total += amount > 0 ? amount : 0;
  const int64_t scale = total > capacity ? total : capacity;
  // Cumulative boundaries, so rounding never makes the parts add up to more than the bar.
  int64_t cumulative = 0;
  int start = 0;
  for (const auto& [letter, amount] : parts) {
    if (amount <= 0) continue;
    cumulative += amount;
    int end = static_cast<int>((cumulative * width + scale / 2) / scale);
    if (end <= start && start < width) end = start + 1;  // every holder stays visible
    for (int i = start; i < end && i < width; ++i) bar[static_cast<size_t>(i)] = letter;
    start = end;
  }
  if (total > capacity) bar.back() = '!';
  return bar;
}

std::string RenderNodes(const ClusterSnapshot& snapshot, const BarOptions& options) {
  std::ostringstream out;
  bool first = true;
  for (const auto& node : snapshot.nodes) {
    if (options.only_with_chips && !node.has_inventory) continue;
    if (!first) out << "\n";
    first = false;
    out << NodeHeader(node, options) << "\n";
    // One letter per owner (pod/container) on this node, in order of first appearance.
    std::map<std::string, char> letters;
    std::vector<std::pair<char, std::string>> legend;
    for (const auto& chip : node.chips) {
      for (const auto& slice : chip.slices) {
        std::string owner = slice.pod + " (" + slice.container + ")";
        if (letters.count(owner)) continue;
        char letter = OwnerLetter(letters.size());
        letters[owner] = letter;
        legend.emplace_back(letter, owner);
      }
    }
    for (const auto& chip : node.chips) {
      std::vector<std::pair<char, int64_t>> memory;
      std::vector<std::pair<char, int64_t>> cores;
      for (const auto& slice : chip.slices) {
        char letter = letters[slice.pod + " (" + slice.container + ")"];
        memory.emplace_back(letter, slice.exclusive ? chip.chip.memory_mib : slice.memory_mib);
        cores.emplace_back(letter, slice.exclusive ? partition::kCoresPerChip : slice.cores);
      }
      out << "  #" << chip.chip.index << " " << (chip.chip.model.empty() ? "?" : chip.chip.model)
          << " " << chip.chip.uuid << (chip.chip.healthy() ? "" : "  UNHEALTHY") << "\n";
      out << "     mem   [" << DrawBar(memory, chip.chip.memory_mib, options.width) << "] "
          << chip.allocated_memory_mib() << "/" << chip.chip.memory_mib << " MiB\n";
      out << "     cores [" << DrawBar(cores, partition::kCoresPerChip, options.width) << "] "
          << chip.allocated_cores() << "/" << partition::kCoresPerChip << "%";
      out << "  " << chip.slices.size() << (chip.slices.size() == 1 ? " slice" : " slices") << "\n";
      // An idle chip with nothing on it needs no "used 0" line.
      const bool measured = chip.live && (!chip.slices.empty() || chip.live->memory_used_mib > 0 ||
                                          chip.live->compute_used_percent > 0);
      if (measured) {
        char compute[16];
        std::snprintf(compute, sizeof compute, "%.1f", chip.live->compute_used_percent);
        out << "     used  " << chip.live->memory_used_mib << " MiB, " << compute
            << "% compute (live)\n";
      }
    }
    for (const auto& [letter, owner] : legend) out << "  " << letter << " " << owner << "\n";
    if (!node.live_usage_error.empty()) {
      out << "  ! live usage unreadable: " << node.live_usage_error << "\n";
    }
    for (const auto& orphan : node.orphan_grants) {
      out << "  ! grant on a chip the inventory does not list: " << orphan << "\n";
    }
  }
  if (first) out << "No node publishes a flexai inventory (is the device plugin running?)\n";
  return out.str();
}

}  // namespace flexai::kubectl
