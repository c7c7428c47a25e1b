#include "device_plugin/backend/sim/sim_config.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <set>
#include <sstream>

namespace flexai::device_plugin {
namespace {

constexpr std::string_view kForbiddenUuidChars = "|=;,:";

const std::set<std::string> kChipKeys = {"uuid",      "model", "memoryMiB", "numa",
                                         "linkGroup", "cpus",  "health"};

Result<partition::Chip> ParseChip(const YAML::Node& node, int index, const std::string& where) {
  if (!node.IsMap()) return Error{where + ": must be a map"};
  for (const auto& kv : node) {
    std::string key = kv.first.as<std::string>();
    if (!kChipKeys.contains(key)) return Error{where + "." + key + ": unknown key"};
  }
  partition::Chip chip;
  chip.vendor = partition::Vendor::kSim;
  chip.index = index;
  try {
    if (!node["uuid"]) return Error{where + ".uuid: required"};
    chip.uuid = node["uuid"].as<std::string>();
    if (chip.uuid.empty() || chip.uuid.find_first_of(kForbiddenUuidChars) != std::string::npos) {
      return Error{where + ".uuid: must be non-empty and contain none of \"|=;,:\""};
    }
    chip.model = node["model"] ? node["model"].as<std::string>() : "H100";
    if (!node["memoryMiB"]) return Error{where + ".memoryMiB: required"};
    chip.memory_mib = node["memoryMiB"].as<int64_t>();
    if (chip.memory_mib <= 0) return Error{where + ".memoryMiB: must be > 0"};
    chip.numa_node = node["numa"] ? node["numa"].as<int>() : -1;
    chip.link_group = node["linkGroup"] ? node["linkGroup"].as<int>() : -1;
    chip.cpu_affinity = node["cpus"] ? node["cpus"].as<std::string>() : "";
    if (!partition::IsCpuList(chip.cpu_affinity)) {
      return Error{where + ".cpus: must be a CPU list such as \"0-31,64-95\", got \"" +
                   chip.cpu_affinity + "\""};
    }
    std::string health = node["health"] ? node["health"].as<std::string>() : "Healthy";
    if (health == "Healthy") {
      chip.health = partition::Health::kHealthy;
    } else if (health == "Unhealthy") {
      chip.health = partition::Health::kUnhealthy;
    } else {
      return Error{where + ".health: must be Healthy or Unhealthy, got \"" + health + "\""};
    }
  } catch (const YAML::Exception& e) {
    return Error{where + ": " + e.msg};
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
