#include "kubectl_flexai/cluster_snapshot.h"

#include <algorithm>
#include <tuple>

#include "kube/operations.h"
#include "kube/protocol.h"
#include "partition/assignment_codec.h"

namespace flexai::kubectl {
namespace {

std::string StringAt(const Json& object, const Json::json_pointer& pointer) {
  if (!object.contains(pointer)) return "";
  const Json& value = object.at(pointer);
  return value.is_string() ? value.get<std::string>() : "";
}

std::map<std::string, std::string> LabelsOf(const Json& object) {
  std::map<std::string, std::string> labels;
  const auto pointer = Json::json_pointer("/metadata/labels");
  if (!object.contains(pointer) || !object.at(pointer).is_object()) return labels;
  for (const auto& [key, value] : object.at(pointer).items()) {
    if (value.is_string()) labels[key] = value.get<std::string>();
  }
  return labels;
}

PodView DecodePod(const Json& object) {
  PodView pod;
  pod.ns = kube::NamespaceOf(object);
  pod.name = kube::NameOf(object);
  pod.uid = kube::UidOf(object);
  pod.node = StringAt(object, Json::json_pointer("/spec/nodeName"));
  pod.phase = StringAt(object, Json::json_pointer("/status/phase"));
  pod.scheduler_name = StringAt(object, Json::json_pointer("/spec/schedulerName"));
  pod.bind_phase = kube::AnnotationOf(object, std::string(kube::kBindPhaseAnnotation));
  std::string text = kube::AnnotationOf(object, std::string(kube::kAssignmentAnnotation));
  if (!text.empty()) {
    auto decoded = partition::DecodeAssignment(text, pod.uid);
    if (decoded) {
      pod.assignment = std::move(decoded).value();
    } else {
      pod.assignment_error = decoded.error().message;
    }
  }
  pod.object = object;
  return pod;
}

NodeView DecodeNode(const Json& object) {
  NodeView node;
  node.name = kube::NameOf(object);
  node.labels = LabelsOf(object);
  node.object = object;
  std::string inventory = kube::AnnotationOf(object, std::string(kube::kInventoryAnnotation));
  if (!inventory.empty()) {
    node.has_inventory = true;
    auto decoded = kube::DecodeInventory(inventory);
    if (decoded) {
      for (auto& chip : decoded->chips) node.chips.push_back({std::move(chip), {}, std::nullopt});
    } else {
      node.inventory_error = decoded.error().message;
    }
  }
  std::string heartbeat = kube::AnnotationOf(object, std::string(kube::kHeartbeatAnnotation));
  if (!heartbeat.empty()) node.heartbeat = kube::ParseTime(heartbeat);
  std::string live = kube::AnnotationOf(object, std::string(kube::kLiveUsageAnnotation));
  if (!live.empty()) {
    auto usage = kube::DecodeLiveUsage(live);
    if (!usage) {
      node.live_usage_error = usage.error().message;
    } else {
      for (auto& chip : node.chips) {
        for (const auto& measured : usage->chips) {
          if (measured.uuid == chip.chip.uuid) chip.live = measured;
        }
      }
    }
  }
  return node;
}

// Puts each live pod's grants on the chips of the node it was assigned to.
void PlaceSlices(std::vector<NodeView>& nodes, const std::vector<PodView>& pods) {
  std::map<std::string, NodeView*> by_name;
  for (auto& node : nodes) by_name[node.name] = &node;
  for (const auto& pod : pods) {
    if (!pod.assignment || pod.finished()) continue;
    auto it = by_name.find(pod.assignment->node);
    if (it == by_name.end()) continue;
    NodeView& node = *it->second;
    for (const auto& container : pod.assignment->containers) {
      for (const auto& grant : container.grants) {
        auto chip = std::find_if(node.chips.begin(), node.chips.end(),
                                 [&](const ChipView& c) { return c.chip.uuid == grant.chip_uuid; });
        if (chip == node.chips.end()) {
          node.orphan_grants.push_back(pod.key() + "/" + container.container + " -> " +
                                       grant.chip_uuid);
          continue;
        }
        chip->slices.push_back(
            {pod.key(), container.container, grant.memory_mib, grant.cores, grant.exclusive});
      }
    }
  }
}

Result<const Json*> ItemsOf(const Json& list, const char* what) {
  if (!list.is_object() || !list.contains("items")) {
    return Error{std::string(what) + ": not a list (no \"items\")"};
  }
  const Json& items = list["items"];
  if (items.is_null()) return &items;  // an empty list may come as null
  if (!items.is_array()) return Error{std::string(what) + ": \"items\" is not an array"};
  return &items;
}

}  // namespace

int64_t ChipView::allocated_memory_mib() const {
  int64_t total = 0;
  for (const auto& s : slices) total += s.exclusive ? chip.memory_mib : s.memory_mib;
  return total;
}

int ChipView::allocated_cores() const {
  int total = 0;
  for (const auto& s : slices) total += s.exclusive ? partition::kCoresPerChip : s.cores;
  return total;
}

const NodeView* ClusterSnapshot::FindNode(const std::string& name) const {
  for (const auto& node : nodes) {
    if (node.name == name) return &node;
  }
  return nullptr;
}

const PodView* ClusterSnapshot::FindPod(const std::string& ns, const std::string& name) const {
  for (const auto& pod : pods) {
    if (pod.ns == ns && pod.name == name) return &pod;
  }
  return nullptr;
}

Result<ClusterSnapshot> BuildSnapshot(const Json& node_list, const Json& pod_list) {
  auto node_items = ItemsOf(node_list, "node list");
  if (!node_items) return node_items.error();
  auto pod_items = ItemsOf(pod_list, "pod list");
  if (!pod_items) return pod_items.error();
  ClusterSnapshot snapshot;
  if ((*node_items)->is_array()) {
    for (const auto& item : **node_items) {
      if (item.is_object()) snapshot.nodes.push_back(DecodeNode(item));
    }
  }
  if ((*pod_items)->is_array()) {
    for (const auto& item : **pod_items) {
      if (item.is_object()) snapshot.pods.push_back(DecodePod(item));
    }
  }
  std::sort(snapshot.nodes.begin(), snapshot.nodes.end(),
            [](const NodeView& a, const NodeView& b) { return a.name < b.name; });
  std::sort(snapshot.pods.begin(), snapshot.pods.end(), [](const PodView& a, const PodView& b) {
    return std::tie(a.ns, a.name) < std::tie(b.ns, b.name);
  });
  PlaceSlices(snapshot.nodes, snapshot.pods);
  return snapshot;
}

bool RequestsFlexaiResource(const PodView& pod, const std::vector<std::string>& resource_names) {
  const auto pointer = Json::json_pointer("/spec/containers");
  if (!pod.object.contains(pointer) || !pod.object.at(pointer).is_array()) return false;
  for (const auto& container : pod.object.at(pointer)) {
    for (const char* field : {"limits", "requests"}) {
      const auto p = Json::json_pointer(std::string("/resources/") + field);
      if (!container.contains(p) || !container.at(p).is_object()) continue;
      for (const auto& [name, _] : container.at(p).items()) {
        if (std::find(resource_names.begin(), resource_names.end(), name) != resource_names.end()) {
          return true;
        }
      }
    }
  }
  return false;
}

}  // namespace flexai::kubectl
