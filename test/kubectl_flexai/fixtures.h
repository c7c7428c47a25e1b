// Small cluster objects for the kubectl-flexai tests, written out as the API server returns them.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace flexai::kubectl::testing {

using Json = nlohmann::json;

// A chip entry of the inventory annotation.
inline Json InventoryChip(int index, const std::string& uuid, int64_t memory_mib,
                          const std::string& health = "Healthy", const std::string& model = "H100",
                          const std::string& vendor = "nvidia") {
  return {{"index", index}, {"uuid", uuid},   {"model", model},   {"memoryMiB", memory_mib},
          {"numa", 0},      {"linkGroup", 0}, {"health", health}, {"vendor", vendor}};
}

inline Json Node(const std::string& name, const std::vector<Json>& chips,
                 const Json& labels = Json::object()) {
  Json node = {{"apiVersion", "v1"},
               {"kind", "Node"},
               {"metadata", {{"name", name}, {"labels", labels}, {"annotations", Json::object()}}}};
  if (!chips.empty()) {
    node["metadata"]["annotations"]["flexai.io/inventory"] =
        Json{{"version", 1}, {"chips", chips}}.dump();
    node["metadata"]["annotations"]["flexai.io/heartbeat"] = "2026-01-01T00:00:00Z";
  }
  return node;
}

// A pod whose single container `main` has `limits`; `assignment` is the annotation text.
inline Json Pod(const std::string& ns, const std::string& name, const Json& limits,
                const std::string& assignment = "", const std::string& phase = "Pending") {
  Json pod = {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata",
       {{"name", name},
        {"namespace", ns},
        {"uid", "uid-" + name},
        {"annotations", Json::object()}}},
      {"spec",
       {{"schedulerName", "flexai-scheduler"},
        {"containers", Json::array({{{"name", "main"}, {"resources", {{"limits", limits}}}}})}}},
      {"status", {{"phase", phase}}}};
  if (!assignment.empty()) {
    pod["metadata"]["annotations"]["flexai.io/assignment"] = assignment;
    pod["metadata"]["annotations"]["flexai.io/bind-phase"] = "success";
    pod["spec"]["nodeName"] = assignment.substr(5, assignment.find(';') - 5);
  }
  return pod;
}

inline Json List(const std::vector<Json>& items) {
  return {{"apiVersion", "v1"}, {"kind", "List"}, {"items", items}};
}

}  // namespace flexai::kubectl::testing
