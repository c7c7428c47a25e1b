// What `kubectl flexai` shows, decoded from a NodeList and a PodList: each node's chips (from its
// inventory annotation) with the slices pods hold on them (from their assignment annotations).
// Bad annotations are reported per object, never fatal: one broken node must not hide the rest.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kube/protocol.h"
#include "kube/time_format.h"
#include "partition/assignment.h"
#include "partition/chip.h"
#include "partition/result.h"

namespace flexai::kubectl {

using Json = nlohmann::json;

// One pod as the plugin sees it.
struct PodView {
  std::string ns;
  std::string name;
  std::string uid;
  std::string node;  // spec.nodeName; empty while pending
  std::string phase;
  std::string scheduler_name;
  std::string bind_phase;  // flexai.io/bind-phase
  std::optional<partition::PodAssignment> assignment;
  std::string assignment_error;  // set when the annotation is there but does not decode
  Json object;                   // the pod as the API server returned it

  std::string key() const { return ns + "/" + name; }
  // Succeeded and Failed pods hold no slices any more.
  bool finished() const { return phase == "Succeeded" || phase == "Failed"; }
};

// A slice on a chip: who holds it and how much.
struct SliceView {
  std::string pod;  // namespace/name
  std::string container;
  int64_t memory_mib = 0;
  int cores = 0;
  bool exclusive = false;
};

struct ChipView {
  partition::Chip chip;
  std::vector<SliceView> slices;
  // What the slices really use, from the node's flexai.io/live-usage (absent: not published).
  std::optional<kube::ChipLiveUsage> live;

  int64_t allocated_memory_mib() const;
  int allocated_cores() const;
};

struct NodeView {
  std::string name;
  std::map<std::string, std::string> labels;
  Json object;  // the node as the API server returned it
  bool has_inventory = false;
  std::string inventory_error;  // set when the annotation does not decode
  std::optional<kube::WallTime> heartbeat;
  std::string live_usage_error;  // set when flexai.io/live-usage does not decode
  std::vector<ChipView> chips;
  // Grants naming a chip this node's inventory does not list ("pod/container -> uuid").
  std::vector<std::string> orphan_grants;
};

struct ClusterSnapshot {
  std::vector<NodeView> nodes;  // sorted by name
  std::vector<PodView> pods;    // sorted by namespace, then name

  const NodeView* FindNode(const std::string& name) const;
  const PodView* FindPod(const std::string& ns, const std::string& name) const;
};

// Decodes `node_list` (a v1 NodeList) and `pod_list` (a v1 PodList). Only the shape of the lists
// themselves can fail ("items" missing or not an array).
Result<ClusterSnapshot> BuildSnapshot(const Json& node_list, const Json& pod_list);

// Pods that ask for a flexai resource, by their containers' limits/requests with the given
// resource-name prefix test; used to list pending flexai pods.
bool RequestsFlexaiResource(const PodView& pod, const std::vector<std::string>& resource_names);

}  // namespace flexai::kubectl
