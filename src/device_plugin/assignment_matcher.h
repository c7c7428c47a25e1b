// Allocate carries only device IDs, not the pod. This finds which pending pod a request is for,
// by the annotation contract (docs/protocol.md section 3): among non-terminal pods on this node in
// bind-phase `allocating` whose assignment names this node and only its chips, take each pod's
// first container not yet handed to kubelet; it must have as many grants as kubelet passed
// devices; the oldest such pod wins (bind-time, creationTimestamp, namespace/name, UID). Never
// guesses: no such pod is an error.
#pragma once

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "device_plugin/cluster_client.h"
#include "partition/assignment.h"
#include "partition/result.h"

namespace flexai::device_plugin {

// (pod uid, container name) pairs that were already handed to kubelet.
using AllocatedContainers = std::set<std::pair<std::string, std::string>>;

struct MatchedContainer {
  PodSummary pod;
  partition::PodAssignment assignment;
  size_t container_index = 0;

  const partition::ContainerAssignment& container() const {
    return assignment.containers[container_index];
  }
};

// `node_chips` are the UUIDs of this node's chips: an assignment naming another chip is skipped.
Result<MatchedContainer> MatchAssignment(const std::vector<PodSummary>& pods,
                                         const std::string& node, size_t device_count,
                                         const std::set<std::string>& node_chips,
                                         const AllocatedContainers& allocated);

// Parses an RFC 3339 UTC time ("2026-11-28T03:31:06Z", optional fraction); nullopt when bad.
std::optional<std::chrono::system_clock::time_point> ParseRfc3339(const std::string& text);
std::string FormatRfc3339(std::chrono::system_clock::time_point time);

}  // namespace flexai::device_plugin
