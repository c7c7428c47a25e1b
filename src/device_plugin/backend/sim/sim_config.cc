#include "device_plugin/backend/sim/sim_config.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <set>
#include <sstream>
#include <type_traits>

namespace flexai::device_plugin {
namespace {

constexpr std::string_view kForbiddenUuidChars = "|=;,:";

const std::set<std::string> kChipKeys = {"uuid",      "model", "memoryMiB", "numa",
                                         "linkGroup", "cpus",  "health"};

// The value of `key` as T, `fallback` when absent; a value of the wrong type names the field.
template <typename T>
Result<T> Field(const YAML::Node& node, const char* key, T fallback, const std::string& where) {
  if (!node[key]) return fallback;
  try {
    return node[key].as<T>();
  } catch (const YAML::Exception&) {
    return Error{where + "." + key + ": \"" + YAML::Dump(node[key]) + "\" is not " +
                 (std::is_same_v<T, std::string> ? "a string" : "an integer")};
  }
}

Result<partition::Chip> ParseChip(const YAML::Node& node, int index, const std::string& where) {
  if (!node.IsMap()) return Error{where + ": must be a map"};
  for (const auto& kv : node) {
    std::string key = kv.first.as<std::string>();
    if (!kChipKeys.contains(key)) return Error{where + "." + key + ": unknown key"};
  }
  partition::Chip chip;
  chip.vendor = partition::Vendor::kSim;
  chip.index = index;
  if (!node["uuid"]) return Error{where + ".uuid: required"};
  auto uuid = Field<std::string>(node, "uuid", "", where);
  if (!uuid) return uuid.error();
  auto model = Field<std::string>(node, "model", "H100", where);
  if (!model) return model.error();
  if (!node["memoryMiB"]) return Error{where + ".memoryMiB: required"};
  auto memory = Field<int64_t>(node, "memoryMiB", 0, where);
  if (!memory) return memory.error();
  auto numa = Field<int>(node, "numa", -1, where);
  if (!numa) return numa.error();
  auto link_group = Field<int>(node, "linkGroup", -1, where);
  if (!link_group) return link_group.error();
  auto cpus = Field<std::string>(node, "cpus", "", where);
  if (!cpus) return cpus.error();
  auto health = Field<std::string>(node, "health", "Healthy", where);
  if (!health) return health.error();
  chip.uuid = *uuid;
  if (chip.uuid.empty() || chip.uuid.find_first_of(kForbiddenUuidChars) != std::string::npos ||
      chip.uuid.find_first_of(" \t") != std::string::npos) {
    return Error{where + ".uuid: must be non-empty and contain no spaces and none of \"|=;,:\""};
  }
  chip.model = *model;
  chip.memory_mib = *memory;
  if (chip.memory_mib <= 0) return Error{where + ".memoryMiB: must be > 0"};
  chip.numa_node = *numa;
  chip.link_group = *link_group;
  if (chip.numa_node < -1) return Error{where + ".numa: must be >= 0, or -1 for unknown"};
  if (chip.link_group < -1) return Error{where + ".linkGroup: must be >= 0, or -1 for none"};
  chip.cpu_affinity = *cpus;
  if (!partition::IsCpuList(chip.cpu_affinity)) {
    return Error{where + ".cpus: must be a CPU list such as \"0-31,64-95\", got \"" +
                 chip.cpu_affinity + "\""};
  }
  if (*health == "Healthy") {
    chip.health = partition::Health::kHealthy;
  } else if (*health == "Unhealthy") {
    chip.health = partition::Health::kUnhealthy;
  } else {
    return Error{where + ".health: must be Healthy or Unhealthy, got \"" + *health + "\""};
  }
  return chip;
}

}  // namespace

Result<SimConfig> ParseSimConfig(const std::string& text, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return Error{source + ": not valid YAML/JSON: " + e.what()};
  }
  if (!root.IsMap()) return Error{source + ": top level must be a map with a 'chips' list"};
  SimConfig config;
  for (const auto& kv : root) {
    std::string key = kv.first.as<std::string>();
    if (key != "vendor" && key != "chips") return Error{source + ": " + key + ": unknown key"};
  }
  if (root["vendor"]) {
    std::string name = root["vendor"].as<std::string>();
    auto vendor = partition::ParseVendor(name);
    if (!vendor) return Error{source + ": vendor: must be nvidia, ascend or sim, got " + name};
    config.vendor = *vendor;
  }
  const YAML::Node chips = root["chips"];
  if (!chips || !chips.IsSequence() || chips.size() == 0) {
    return Error{source + ": chips: required, a non-empty list"};
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < chips.size(); ++i) {
    std::string where = source + ": chips[" + std::to_string(i) + "]";
    auto chip = ParseChip(chips[i], static_cast<int>(i), where);
    if (!chip) return chip.error();
    chip->vendor = config.vendor;
    if (!seen.insert(chip->uuid).second) {
      return Error{where + ".uuid: duplicate \"" + chip->uuid + "\""};
    }
    config.chips.push_back(std::move(*chip));
  }
  return config;
}

Result<SimConfig> LoadSimConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error{"cannot read sim config " + path};
  std::stringstream text;
  text << in.rdbuf();
  return ParseSimConfig(text.str(), path);
}

SimConfig DefaultSimChips(const std::string& node_name) {
  SimConfig config;
  std::string node = node_name.empty() ? "node" : node_name;
  for (char& c : node) {
    if (kForbiddenUuidChars.find(c) != std::string_view::npos) c = '-';
  }
  for (int i = 0; i < 8; ++i) {
    partition::Chip chip;
    chip.vendor = partition::Vendor::kSim;
    chip.index = i;
    chip.uuid = "GPU-sim-" + node + "-" + std::to_string(i);
    chip.model = "H100";
    chip.memory_mib = 81559;
    chip.numa_node = i / 4;
    chip.link_group = i / 4;
    config.chips.push_back(std::move(chip));
  }
  return config;
}

}  // namespace flexai::device_plugin
