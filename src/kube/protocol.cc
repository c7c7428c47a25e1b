#include "kube/protocol.h"

#include <algorithm>
#include <cmath>
#include <set>

#include <nlohmann/json.hpp>

namespace flexai::kube {

using Json = nlohmann::json;

std::string EncodeInventory(const NodeInventory& inventory) {
  Json chips = Json::array();
  for (const auto& c : inventory.chips) {
    chips.push_back({{"index", c.index},
                     {"uuid", c.uuid},
                     {"model", c.model},
                     {"memoryMiB", c.memory_mib},
                     {"numa", c.numa_node},
                     {"linkGroup", c.link_group},
                     {"cpus", c.cpu_affinity},
                     {"health", partition::HealthName(c.health)},
                     {"vendor", partition::VendorName(c.vendor)}});
  }
  return Json{{"version", inventory.version}, {"chips", chips}}.dump();
}

Result<NodeInventory> DecodeInventory(std::string_view text) {
  Json doc = Json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return Error{"inventory is not a JSON object"};
  NodeInventory inv;
  if (doc.contains("version")) {
    if (!doc["version"].is_number_integer()) return Error{"inventory version: not an integer"};
    inv.version = doc["version"].get<int>();
    if (inv.version != kInventoryVersion) {
      return Error{"inventory version " + std::to_string(inv.version) + " is not supported (want " +
                   std::to_string(kInventoryVersion) + ")"};
    }
  }
  if (!doc.contains("chips") || !doc["chips"].is_array()) {
    return Error{"inventory chips: missing or not an array"};
  }
  const Json& chips = doc["chips"];
  if (chips.size() > 64) return Error{"inventory chips: more than 64 chips on one node"};
  std::set<std::string> uuids;
  for (size_t i = 0; i < chips.size(); ++i) {
    const Json& c = chips[i];
    std::string where = "inventory chips[" + std::to_string(i) + "]";
    if (!c.is_object()) return Error{where + ": not an object"};
    auto integer = [&](const char* key, int64_t fallback, bool required) -> Result<int64_t> {
      if (!c.contains(key)) {
        if (required) return Error{where + "." + key + ": missing"};
        return fallback;
      }
      if (!c[key].is_number_integer()) return Error{where + "." + key + ": not an integer"};
      return c[key].get<int64_t>();
    };
    partition::Chip chip;
    auto index = integer("index", 0, true);
    if (!index) return index.error();
    auto memory = integer("memoryMiB", 0, true);
    if (!memory) return memory.error();
    if (*memory <= 0) return Error{where + ".memoryMiB: not a positive integer"};
    auto numa = integer("numa", -1, false);
    if (!numa) return numa.error();
    auto link = integer("linkGroup", -1, false);
    if (!link) return link.error();
    chip.index = static_cast<int>(*index);
    chip.memory_mib = *memory;
    chip.numa_node = static_cast<int>(*numa);
    chip.link_group = static_cast<int>(*link);
    if (!c.contains("uuid") || !c["uuid"].is_string() || c["uuid"].get<std::string>().empty()) {
      return Error{where + ".uuid: missing or not a string"};
    }
    chip.uuid = c["uuid"].get<std::string>();
    if (chip.uuid.find_first_of("|=;,:") != std::string::npos) {
      return Error{where + ".uuid: must not contain any of |=;,:"};
    }
    if (!uuids.insert(chip.uuid).second) return Error{where + ".uuid: duplicate " + chip.uuid};
    if (c.contains("model")) {
      if (!c["model"].is_string()) return Error{where + ".model: not a string"};
      chip.model = c["model"].get<std::string>();
    }
    if (c.contains("cpus")) {
      if (!c["cpus"].is_string() || !partition::IsCpuList(c["cpus"].get<std::string>())) {
        return Error{where + ".cpus: not a CPU list such as \"0-31,64-95\""};
      }
      chip.cpu_affinity = c["cpus"].get<std::string>();
    }
    std::string health = "Healthy";
    if (c.contains("health")) {
      if (!c["health"].is_string()) return Error{where + ".health: not a string"};
      health = c["health"].get<std::string>();
    }
    if (health == "Healthy") {
      chip.health = partition::Health::kHealthy;
    } else if (health == "Unhealthy") {
      chip.health = partition::Health::kUnhealthy;
    } else {
      return Error{where + ".health: \"" + health + "\" is not Healthy or Unhealthy"};
    }
    std::string vendor = "sim";
    if (c.contains("vendor")) {
      if (!c["vendor"].is_string()) return Error{where + ".vendor: not a string"};
      vendor = c["vendor"].get<std::string>();
    }
    auto v = partition::ParseVendor(vendor);
    if (!v) return Error{where + ".vendor: unknown vendor \"" + vendor + "\""};
    chip.vendor = *v;
    inv.chips.push_back(std::move(chip));
  }
  std::sort(inv.chips.begin(), inv.chips.end(),
            [](const auto& a, const auto& b) { return a.index < b.index; });
  for (size_t i = 0; i < inv.chips.size(); ++i) {
    if (inv.chips[i].index != static_cast<int>(i)) {
      return Error{"inventory chip indexes must be 0.." + std::to_string(inv.chips.size() - 1) +
                   " without gaps"};
    }
  }
  return inv;
}

std::string EncodeLiveUsage(const NodeLiveUsage& usage) {
  Json chips = Json::array();
  for (const auto& c : usage.chips) {
    chips.push_back({{"index", c.index},
                     {"uuid", c.uuid},
                     {"memoryUsedMiB", c.memory_used_mib},
                     {"computeUsedPercent", std::round(c.compute_used_percent * 10.0) / 10.0}});
  }
  return Json{
      {"version", usage.version}, {"sampledAt", FormatTime(usage.sampled_at)}, {"chips", chips}}
      .dump();
}

Result<NodeLiveUsage> DecodeLiveUsage(std::string_view text) {
  Json doc = Json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return Error{"live usage is not a JSON object"};
  NodeLiveUsage usage;
  if (doc.contains("version")) {
    if (!doc["version"].is_number_integer()) return Error{"live usage version: not an integer"};
    usage.version = doc["version"].get<int>();
    if (usage.version != kLiveUsageVersion) {
      return Error{"live usage version " + std::to_string(usage.version) +
                   " is not supported (want " + std::to_string(kLiveUsageVersion) + ")"};
    }
  }
  if (!doc.contains("sampledAt") || !doc["sampledAt"].is_string()) {
    return Error{"live usage sampledAt: missing or not a string"};
  }
  auto sampled = ParseTime(doc["sampledAt"].get<std::string>());
  if (!sampled) return Error{"live usage sampledAt: not an RFC 3339 time"};
  usage.sampled_at = *sampled;
  if (!doc.contains("chips") || !doc["chips"].is_array()) {
    return Error{"live usage chips: missing or not an array"};
  }
  const Json& chips = doc["chips"];
  if (chips.size() > 64) return Error{"live usage chips: more than 64 chips on one node"};
  std::set<int> indexes;
  std::set<std::string> uuids;
  for (size_t i = 0; i < chips.size(); ++i) {
    const Json& c = chips[i];
    std::string where = "live usage chips[" + std::to_string(i) + "]";
    if (!c.is_object()) return Error{where + ": not an object"};
    ChipLiveUsage chip;
    if (!c.contains("index") || !c["index"].is_number_integer() || c["index"].get<int64_t>() < 0 ||
        c["index"].get<int64_t>() > 63) {
      return Error{where + ".index: missing or not an integer in 0..63"};
    }
    chip.index = c["index"].get<int>();
    if (!indexes.insert(chip.index).second) {
      return Error{where + ".index: duplicate " + std::to_string(chip.index)};
    }
    if (!c.contains("uuid") || !c["uuid"].is_string() || c["uuid"].get<std::string>().empty()) {
      return Error{where + ".uuid: missing or not a string"};
    }
    chip.uuid = c["uuid"].get<std::string>();
    if (!uuids.insert(chip.uuid).second) return Error{where + ".uuid: duplicate " + chip.uuid};
    if (!c.contains("memoryUsedMiB") || !c["memoryUsedMiB"].is_number_integer() ||
        c["memoryUsedMiB"].get<int64_t>() < 0) {
      return Error{where + ".memoryUsedMiB: missing or not a non-negative integer"};
    }
    chip.memory_used_mib = c["memoryUsedMiB"].get<int64_t>();
    if (!c.contains("computeUsedPercent") || !c["computeUsedPercent"].is_number() ||
        !(c["computeUsedPercent"].get<double>() >= 0) ||
        !std::isfinite(c["computeUsedPercent"].get<double>())) {
      return Error{where + ".computeUsedPercent: missing or not a finite non-negative number"};
    }
    chip.compute_used_percent = c["computeUsedPercent"].get<double>();
    usage.chips.push_back(std::move(chip));
  }
  std::sort(usage.chips.begin(), usage.chips.end(),
            [](const auto& a, const auto& b) { return a.index < b.index; });
  return usage;
}

std::vector<std::string> FitLiveUsage(NodeLiveUsage& usage,
                                      const std::vector<partition::Chip>& chips) {
  std::vector<std::string> changes;
  std::vector<ChipLiveUsage> kept;
  for (auto& c : usage.chips) {
    std::string name = "chip " + std::to_string(c.index) + " (" + c.uuid + ")";
    auto chip = std::find_if(chips.begin(), chips.end(), [&](const partition::Chip& k) {
      return k.index == c.index && k.uuid == c.uuid;
    });
    if (chip == chips.end()) {
      changes.push_back(name + " is not in the inventory: ignored");
      continue;
    }
    if (c.memory_used_mib > chip->memory_mib) {
      c.memory_used_mib = chip->memory_mib;
      changes.push_back(name + ": memoryUsedMiB above the chip's " +
                        std::to_string(chip->memory_mib) + " MiB: clamped");
    }
    if (c.compute_used_percent > 100.0) {
      c.compute_used_percent = 100.0;
      changes.push_back(name + ": computeUsedPercent above 100: clamped");
    }
    kept.push_back(std::move(c));
  }
  usage.chips = std::move(kept);
  return changes;
}

}  // namespace flexai::kube
