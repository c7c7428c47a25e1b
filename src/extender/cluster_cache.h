// The Hi Scheduler's view of the cluster, kept current by list+watch of nodes and pods: each
// node's chips (from the device plugin's inventory annotation) with their slice ledgers, rebuilt
// from the assignment annotations of the pods on it, so a restart loses no allocation. Released
// slices (pod succeeded, failed or deleted) are freed as soon as the event arrives.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "kube/protocol.h"
#include "kube/time_format.h"
#include "partition/node_state.h"
#include "partition/policy/slice_policy.h"

namespace flexai::extender {

struct CachedNode {
  std::string name;
  std::map<std::string, std::string> labels;
  partition::NodeState state;  // no chips until a valid inventory arrives
  bool has_inventory = false;
  std::string inventory_error;  // why the inventory annotation is missing or unusable
  std::string inventory_text;   // the raw annotation, to notice changes
  std::optional<kube::WallTime> heartbeat;
  // The device plugin's live usage per chip (flexai.io/live-usage): for metrics only, placement
  // never reads it. Empty when the annotation is missing or malformed (a warning is logged); only
  // chips of the inventory, memory at most the chip's, compute at most 100 %.
  std::optional<kube::NodeLiveUsage> live_usage;
  std::string live_usage_text;  // the raw annotation, to parse (and warn) only on a change
  // Entries dropped or clamped against the inventory (kube::FitLiveUsage), to warn on a change.
  std::string live_usage_fixes;
  bool unschedulable = false;
  partition::HostResources allocatable;
  // The isolation mode the node's device plugin gives GPU slices (its slice policy's `sharing`
  // after node overrides).
  partition::IsolationMode isolation = partition::IsolationMode::kHook;
  // Changes whenever anything a placement decision reads changes (chips, ledgers, labels);
  // unique across the cache's life, so scores can be memoised per (node, epoch).
  uint64_t epoch = 0;
};

// A pod that holds (or is being given) slices.
struct CachedPod {
  std::string uid, ns, name, node;
  partition::PodAssignment assignment;
  bool binding = false;     // a /bind is in flight: ignore events that predate its patch
  int64_t min_version = 0;  // events older than this (our own patch) are stale
  std::string bind_phase;   // flexai.io/bind-phase
  std::optional<kube::WallTime> bind_time;
  bool bound = false;    // spec.nodeName is set: kubelet runs it, its slices are real
  bool gang = false;     // a member of a gang (flexai.io/gang)
  int32_t priority = 0;  // spec.priority (preemption picks victims by it)
  std::map<std::string, std::string> labels;  // metadata.labels (disruption budgets select by them)
  // A bound pod keeps the assignment it was placed with: a later annotation value that differs
  // (removed, malformed, edited) is ignored; the last one ignored, to warn once per change.
  std::string ignored_assignment;

  // Slices that are real or promised: a bound pod's, or a gang member's that its gang binds
  // there (gang-reserved, or allocating while its binding is retried). Held even where they no
  // longer fit; other unbound reservations may be leftovers of a bind that died.
  bool HeldLikePlaced() const;
};

// Keeps the device plugin's Allocate match unambiguous (docs/protocol.md): no second pod is
// reserved on a node while another pod there is still `allocating` with a container of the same
// chip count, for at most `window` after its bind.
struct AllocationGuard {
  std::set<int> chip_counts;  // chip counts of the new pod's containers
  kube::WallTime now;
  std::chrono::seconds window{30};
};

class ClusterCache {
 public:
  explicit ClusterCache(std::shared_ptr<const partition::SlicePolicy> policy);

  // ---- fed by the node and pod watchers ----
  void ReplaceNodes(const std::vector<nlohmann::json>& nodes);
  void UpsertNode(const nlohmann::json& node);
  void RemoveNode(const nlohmann::json& node);
  void ReplacePods(const std::vector<nlohmann::json>& pods);
  void UpsertPod(const nlohmann::json& pod);
  void RemovePod(const nlohmann::json& pod);
  // New slice policy (capacities may change): every node is rebuilt.
  void SetPolicy(std::shared_ptr<const partition::SlicePolicy> policy);
  std::shared_ptr<const partition::SlicePolicy> policy() const;

  // ---- used by bind ----
  // Runs `choose` on `node_name` under the write lock and applies the assignment it returns, so
  // two binds never pick the same room. Errors say why (unknown node, no fit, ...).
  using Chooser = std::function<Result<partition::PodAssignment>(const CachedNode&)>;
  Result<partition::PodAssignment> Reserve(const std::string& ns, const std::string& name,
                                           const std::string& node_name, const Chooser& choose,
                                           const AllocationGuard* guard = nullptr);
  // The patch landed at `version`: events before it are stale for this pod.
  void ConfirmReservation(const std::string& uid, int64_t version);
  // The pod's binding landed: its slices are real before the watch says so.
  void MarkBound(const std::string& uid);
  // Takes a reservation back (bind failed). A bound pod's slices are real: kept.
  void Unreserve(const std::string& uid);

  // ---- read access for filter/prioritize (shared lock held during `read`) ----
  void Read(const std::function<void(const std::unordered_map<std::string, CachedNode>& nodes)>&
                read) const;
  // Like Read, also passing every pod holding (or being given) slices, by uid: preemption and
  // quotas read pods with the nodes they sit on, consistently.
  using PodMap = std::unordered_map<std::string, CachedPod>;
  void ReadPods(const std::function<void(const std::unordered_map<std::string, CachedNode>& nodes,
                                         const PodMap& pods)>& read) const;
  // Copy of a pod's cached assignment, for tests and bind idempotency.
  std::optional<partition::PodAssignment> AssignmentOf(const std::string& uid) const;

  struct Stats {
    size_t nodes = 0, nodes_with_chips = 0, chips = 0, pods_with_slices = 0;
    int64_t memory_mib_total = 0, memory_mib_used = 0, cores_total = 0, cores_used = 0;
  };
  Stats stats() const;
  // The live usage last published by each node's device plugin, by node name (nodes without a
  // valid flexai.io/live-usage annotation are left out).
  std::map<std::string, kube::NodeLiveUsage> LiveUsage() const;
  // Bumped by every change placement could see (heartbeat-only updates do not count); lets
  // callers reuse work done at the same generation.
  uint64_t generation() const;
  // Like Read, also passing the generation the nodes are at.
  void Read(const std::function<void(const std::unordered_map<std::string, CachedNode>& nodes,
                                     uint64_t generation)>& read) const;

 private:
  // False when only the heartbeat changed (nothing placement reads).
  bool UpsertNodeLocked(const nlohmann::json& node);
  void RebuildNodeLocked(CachedNode& node);
  void UpsertPodLocked(const nlohmann::json& pod);
  void ForgetPodLocked(const std::string& uid);
  // Restores a bound pod's slices on its node if the ledgers lack them, whatever room is left.
  void HoldPlacedLocked(const CachedPod& pod);
  // A bound pod's annotation no longer matches what it was placed with: keep the placement.
  void KeepPlacedAssignmentLocked(CachedPod& cached, const nlohmann::json& pod,
                                  const std::string& text);
  // Forgets the assignments of pods on `node_name` that are neither bound nor being bound here.
  void DropUnboundReservationsLocked(const std::string& node_name, const std::string& keep_uid);

  mutable std::shared_mutex mu_;
  std::shared_ptr<const partition::SlicePolicy> policy_;
  std::unordered_map<std::string, CachedNode> nodes_;
  std::unordered_map<std::string, CachedPod> pods_;                 // by uid
  std::unordered_map<std::string, std::set<std::string>> by_node_;  // node -> pod uids
  uint64_t generation_ = 0;
  uint64_t epochs_ = 0;  // source of CachedNode::epoch
};

}  // namespace flexai::extender
