// Answers kubelet's Allocate for one container: checks the device IDs, finds the pod's
// assignment (AssignmentMatcher), builds the container's environment and mounts, and marks the
// pod's bind phase `success` once all its chip containers are allocated (with the device IDs
// kubelet passed, so a repeated Allocate gets the same answer). Also keeps the per-chip usage the
// metrics report.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "device_plugin/assignment_matcher.h"
#include "device_plugin/backend/backend.h"
#include "device_plugin/chip_inventory.h"
#include "device_plugin/cluster_client.h"
#include "device_plugin/container_env.h"
#include "device_plugin/plugin_settings.h"
#include "device_plugin/settings_store.h"

namespace flexai::device_plugin {

enum class AllocateFailure {
  kNone,
  kBadDeviceIds,        // IDs kubelet passed are not ours: INVALID_ARGUMENT
  kNoAssignment,        // no pending pod matches: FAILED_PRECONDITION, the pod fails admission
  kClusterUnavailable,  // could not reach Kubernetes: UNAVAILABLE
};

struct AllocateOutcome {
  AllocateFailure failure = AllocateFailure::kNone;
  std::string message;  // why it failed, or which pod/container it was for
  ContainerSetup setup;
  std::string pod_uid;  // the container it was for, when ok()
  std::string pod_namespace;
  std::string pod_name;
  std::string container;
  bool completes_pod = false;  // it is the pod's last chip container
  // kubelet repeated an Allocate already answered: same answer, nothing new recorded (patched
  // only when the pod still shows `allocating` although all its containers were answered).
  bool repeated = false;
  // With completes_pod: the pod's `flexai.io/device-ids` annotation to write with `success`.
  std::string device_ids_annotation;
  // Without completes_pod: the pod's `flexai.io/allocated-containers` annotation to write, so
  // that a restarted plugin still knows which containers of the pod were answered.
  std::string progress_annotation;
  bool ok() const { return failure == AllocateFailure::kNone; }
};

// What is allocated on one chip, for metrics.
struct ChipUsage {
  int64_t memory_mib = 0;
  int cores = 0;
  int slices = 0;
};

class Allocator {
 public:
  // `cluster` may be null (no Kubernetes configured): every Allocate then fails, clearly.
  // `settings` may be replaced while serving (policy reload): each AllocateRequest uses one
  // snapshot for all its containers.
  Allocator(std::string node_name, const ChipInventory& inventory, const Backend& backend,
            std::shared_ptr<const SettingsStore> settings, ClusterClient* cluster);
  // Fixed settings (tests, benchmarks).
  Allocator(std::string node_name, const ChipInventory& inventory, const Backend& backend,
            PluginSettings settings, ClusterClient* cluster);

  // Whether the MPS control daemon named `daemon` (a GPU UUID, or "all" for multi-GPU slices)
  // answers; while it does not, MPS slices on it are refused (an MPS client that finds no daemon
  // runs without any limit). Unset: not checked.
  using MpsReady = std::function<bool(const std::string& daemon)>;
  void SetMpsReadiness(MpsReady ready) { mps_ready_ = std::move(ready); }

  // One container's devices (kubelet's usual request). The same device IDs again, while the
  // container they were answered for lives, get the same answer (kubelet retried).
  AllocateOutcome AllocateContainer(const std::vector<std::string>& device_ids);
  // A whole AllocateRequest, all or nothing: `outcomes[i]` answers container i; on failure the
  // last outcome says why and nothing stays allocated or marked.
  Status AllocateRequest(const std::vector<std::vector<std::string>>& containers,
                         std::vector<AllocateOutcome>& outcomes);
  // The chips (UUIDs) of the container the next Allocate of `device_count` devices is for, if a
  // pending assignment matches now; used to steer GetPreferredAllocation.
  std::vector<std::string> PendingChips(size_t device_count);
  // Brings usage in line with the pods now on the node: forgets pods that are gone or failed,
  // recovers pods already marked `success` (after a daemon restart), and removes the accounting
  // directories of pods that left more than 10 minutes ago.
  // A pod answered within kUnlistedRecordGrace but not (yet) in `pods` is kept (the watch cache
  // can lag).
  void Reconcile(const std::vector<PodSummary>& pods,
                 std::chrono::system_clock::time_point now = std::chrono::system_clock::now());
  static constexpr std::chrono::minutes kUnlistedRecordGrace{2};
  std::map<std::string, ChipUsage> UsageByChip() const;

  // Where each allocated container's hook writes its live usage, and which chip is its device i.
  struct UsageSource {
    std::string usage_file;               // <shared dir>/usage.bin on the host
    std::vector<std::string> chip_uuids;  // by device ordinal inside the container
  };
  std::vector<UsageSource> UsageSources() const;

 private:
  struct PodRecord {
    partition::PodAssignment assignment;
    std::vector<std::string> allocated_containers;
    ContainerDeviceIds device_ids;  // what kubelet passed, by container (sorted)
    // Containers answered by an AllocateRequest that has not finished yet: its `success` patch
    // may still fail and take them back, so a repeat of one is refused (UNAVAILABLE) until then.
    std::set<std::string> unconfirmed;
    // When each container was first answered (repeats are recognised for kRepeatWindow).
    std::map<std::string, std::chrono::system_clock::time_point> answered_at;
    // The answer given, by container: a repeat gets it again even if the policy changed since
    // (after a restart it is rebuilt from the assignment).
    std::map<std::string, ContainerSetup> answers;
    // A list given to Reconcile showed the pod since it was recorded: when a later one does
    // not, the pod was deleted (not merely missing from a lagging cache).
    bool listed = false;
  };
  // Records the containers of `pod` answered before a restart (its progress annotation) in
  // `record`, when it has none of them yet.
  static void SeedFromProgress(PodRecord& record, const PodSummary& pod,
                               const partition::PodAssignment& assignment);

  // Finds and records the container (no pod patch). `settings`: the request's one snapshot.
  AllocateOutcome MatchContainer(const std::vector<std::string>& device_ids,
                                 const PluginSettings& settings);
  // The answer to a repeated Allocate of `match` (found by FindAnsweredContainer).
  AllocateOutcome RepeatLocked(const MatchedContainer& match,
                               const std::vector<std::string>& sorted_ids,
                               const PluginSettings& settings);
  // The container's chips in index order (how the runtime exposes devices) and their grants;
  // an error when the assignment names a chip not on this node.
  Status PlaceChips(const partition::ContainerAssignment& container,
                    std::vector<partition::Chip>& chips,
                    std::vector<partition::ChipGrant>& grants) const;
  // Deletes accounting directories of pods no longer on the node (after a grace period).
  void RemoveStaleAccountingDirs(const std::vector<PodSummary>& pods) const;
  // Takes back a recorded container (and the device IDs it was answered for).
  void Forget(const std::string& pod_uid, const std::string& container);
  std::map<std::string, ChipUsage> UsageByChipLocked() const;
  // Why `grants` on `chips` would put more memory on a chip than the policy ever admits there,
  // with what is held already; empty when they fit.
  std::string OverCommitLocked(const std::vector<partition::Chip>& chips,
                               const std::vector<partition::ChipGrant>& grants,
                               const PluginSettings& settings) const;
  // The device IDs of the pod's containers answered (and not taken back), by container.
  ContainerDeviceIds AnsweredIds(const std::string& pod_uid) const;
  // The request that answered these outcomes finished: repeats of them may be answered now.
  void Confirm(const std::vector<AllocateOutcome>& outcomes);
  bool UnconfirmedLocked(const std::string& pod_uid, const std::string& container) const;
  std::set<std::string> NodeChipUuids() const;
  void RelinkActivityBoards(const std::set<std::string>& live) const;
  static std::vector<std::string> PrepareActivityBoards(const PluginSettings& settings,
                                                        const std::string& shared_dir,
                                                        const std::string& link_name,
                                                        const std::vector<partition::Chip>& chips);
  ContainerHostPaths PrepareHostPaths(const PluginSettings& settings, const std::string& pod_uid,
                                      const std::string& container,
                                      const std::vector<partition::Chip>& chips) const;
  AllocatedContainers AllocatedLocked() const;
  AnsweredDeviceIds AnsweredLocked() const;

  const std::string node_name_;
  const ChipInventory& inventory_;
  const Backend& backend_;
  const std::shared_ptr<const SettingsStore> settings_;
  ClusterClient* const cluster_;
  mutable std::mutex mu_;                  // never held over a call to the cluster
  std::map<std::string, PodRecord> pods_;  // by pod uid
  MpsReady mps_ready_;
};

}  // namespace flexai::device_plugin
