#include "kube/protocol.h"

#include <algorithm>
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

}  // namespace flexai::kube
