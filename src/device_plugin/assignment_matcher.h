// Allocate carries only device IDs, not the pod. This finds which pending pod a request is for,
// by the annotation contract (docs/protocol.md section 3): among non-terminal pods on this node in
// bind-phase `allocating` whose assignment names this node and only its chips, take each pod's
// first container not yet handed to kubelet; it must have as many grants as kubelet passed
// devices; the oldest such pod wins (bind-time, creationTimestamp, namespace/name, UID). Never
// guesses: no such pod is an error.
//
// kubelet may also repeat an Allocate it already had answered (its deadline passed, or it retries
// after a failure of its own). FindAnsweredContainer recognises that by the device IDs, so the
// repeat gets the same container instead of the next pod's assignment.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "device_plugin/cluster_client.h"
#include "device_plugin/device_id.h"
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

// A container this process answered: the sorted device IDs kubelet passed, and when.
struct AnsweredContainer {
  std::vector<std::string> device_ids;
  std::chrono::system_clock::time_point answered_at;
};
// (pod uid, container name) -> what this process answered for it.
using AnsweredDeviceIds = std::map<std::pair<std::string, std::string>, AnsweredContainer>;

// kubelet repeats an Allocate within its admission of the pod (seconds, a few minutes at worst):
// an answer older than this is no repeat source, so a pod stuck Pending cannot take the Allocate
// of a new pod that got the same device IDs.
inline constexpr std::chrono::minutes kRepeatWindow{10};

// The container of a pod on `node` still in admission, whose assignment names only
// `node_chips` and gives the container one grant per device ID, that was already answered for
// exactly `device_ids` (in any order) at most kRepeatWindow before `now`: known from `answered`, or
// else (after a plugin restart) from the pod's `flexai.io/device-ids` annotation, whose age is
// bounded by the pod's `flexai.io/bind-time` (without one it is no repeat source). nullopt: not a
// repeat.
//
// "Still in admission": status.phase `Pending` (or unknown), not being deleted, and bind phase
// `allocating` or `success`. kubelet repeats an Allocate only while it admits the pod, before any
// container of it starts, so the pod is still Pending. It hands the same device IDs to another
// container only after the first pod ran and ended in kubelet, which may be before the API server
// shows the pod ended, but never before it shows the pod Running: a pod past Pending is never a
// repeat.
std::optional<MatchedContainer> FindAnsweredContainer(const std::vector<PodSummary>& pods,
                                                      const std::string& node,
                                                      const std::vector<std::string>& device_ids,
                                                      const std::set<std::string>& node_chips,
                                                      const AnsweredDeviceIds& answered,
                                                      std::chrono::system_clock::time_point now);

// The containers of an `allocating` pod answered before (by this process or one that ran before
// it), from its `flexai.io/allocated-containers` annotation; empty when there is none, or it is
// for another pod UID or another assignment (bind-time), as in a copied or re-bound pod.
ContainerDeviceIds RecordedProgress(const PodSummary& pod);
// That annotation's value for `pod`'s current assignment.
std::string EncodeProgress(const PodSummary& pod, const ContainerDeviceIds& answered);

// Parses an RFC 3339 UTC time ("2026-11-28T03:31:06Z", optional fraction); nullopt when bad.
std::optional<std::chrono::system_clock::time_point> ParseRfc3339(const std::string& text);
std::string FormatRfc3339(std::chrono::system_clock::time_point time);

}  // namespace flexai::device_plugin
