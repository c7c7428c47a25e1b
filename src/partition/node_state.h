// One node's accelerators and host resources with their ledgers: the unit every placement policy
// looks at. Apply (new placements: checks room), Restore (pods already running: records what they
// hold) and Release are all-or-nothing and idempotent per pod.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "partition/assignment.h"
#include "partition/chip.h"
#include "partition/chip_ledger.h"
#include "partition/result.h"

namespace flexai::partition {

// Chips chosen for each container, as bit sets of chip indexes (bit i = chip i). Nodes have at
// most 64 chips.
using ChipSet = uint64_t;
inline constexpr int kMaxChipsPerNode = 64;

class NodeState {
 public:
  NodeState() = default;
  // `capacities[i]` is what chip i can hand out (see SlicePolicy); sizes must match.
  NodeState(std::string name, HostResources host_capacity, std::vector<Chip> chips,
            std::vector<ChipCapacity> capacities, std::map<std::string, std::string> labels = {});

  const std::string& name() const { return name_; }
  const std::map<std::string, std::string>& labels() const { return labels_; }
  const std::vector<Chip>& chips() const { return chips_; }
  const Chip& chip(int i) const { return chips_[static_cast<size_t>(i)]; }
  const ChipLedger& ledger(int i) const { return ledgers_[static_cast<size_t>(i)]; }
  int chip_count() const { return static_cast<int>(chips_.size()); }
  const HostResources& host_capacity() const { return host_capacity_; }
  const HostResources& host_used() const { return host_used_; }
  // Never negative: 0 where restored pods hold more than the capacity.
  HostResources host_free() const;
  // Bumped by every change; lets callers cache per-node computations.
  uint64_t version() const { return version_; }
  const std::map<std::string, PodAssignment>& pods() const { return pods_; }

  // Marks a chip healthy or not (a vanished device). Existing slices stay until released.
  Status SetHealth(const std::string& chip_uuid, Health health);

  // The demand a container's request puts on chip `i`.
  ChipDemand DemandOn(const SliceRequest& request, int i) const;
  // Chips on which one slice of `request` could go now: healthy, accepted, with room.
  ChipSet FeasibleChips(const SliceRequest& request) const;
  // Whether the host resources of `pod` fit.
  bool HostFits(const HostResources& host) const;

  // Builds the assignment for `pod` with `chips[c]` for container c (no state change).
  PodAssignment MakeAssignment(const PodRequest& pod, const std::vector<ChipSet>& chips) const;
  // Takes the assignment's slices and host resources. Re-applying the identical assignment is a
  // no-op; anything that does not fit is an error and leaves the node unchanged.
  Status Apply(const PodAssignment& assignment);
  // Records the slices and host resources of a pod already placed here (bound: its containers
  // hold them) without checking room: a smaller capacity (policy, allocatable) leaves the node
  // over-full, and no new slice fits where it is until enough is released. Grants on chips the
  // node no longer has are left out, the rest kept; each left-out grant is returned as an Error
  // (a warning). A pod holding a different assignment here, or one of another node, is an error
  // that changes nothing. Re-restoring the identical assignment is a no-op.
  std::vector<Error> Restore(const PodAssignment& assignment);
  // Over-full chips and host resources, one line each (empty when everything fits).
  std::vector<Error> OverFull() const;
  // Frees everything `pod_uid` holds here; false when it holds nothing.
  bool Release(const std::string& pod_uid);
  // Forgets all slices, then rebuilds the ledgers (how a restarted component recovers, or a
  // node whose chips or capacities changed): `placed` pods are restored whatever room is left
  // (Restore), then `tentative` ones (reservations not bound yet) are applied where they still
  // fit. Returns warnings: grants left out, tentative assignments dropped, over-full chips.
  std::vector<Error> Rebuild(const std::vector<PodAssignment>& placed,
                             const std::vector<PodAssignment>& tentative = {});

 private:
  int IndexOf(const std::string& uuid) const;

  std::string name_;
  std::map<std::string, std::string> labels_;
  HostResources host_capacity_;
  HostResources host_used_;
  std::vector<Chip> chips_;
  std::vector<ChipLedger> ledgers_;
  std::map<std::string, PodAssignment> pods_;
  uint64_t version_ = 0;
};

inline int ChipCount(ChipSet set) { return __builtin_popcountll(set); }

}  // namespace flexai::partition
