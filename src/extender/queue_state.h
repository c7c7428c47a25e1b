// The Hi Scheduler's view of its queue, fed by the pod watch next to the cluster cache: the
// pending flexai pods (oldest first), the gangs and their reserved members (restored from the
// members' annotations after a restart), the bounded chip hold of the oldest pending multi-chip
// pod, and which pending pods a release of slices unblocks. docs/hi-scheduler.md, "Queue".
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "extender/cluster_cache.h"
#include "extender/pod_intent.h"
#include "extender/queue_stats.h"
#include "extender/scheduler.h"
#include "partition/gang/gang_book.h"
#include "partition/queue/chip_hold.h"
#include "partition/queue/pending_queue.h"

namespace flexai::extender {

struct QueueOptions {
  std::chrono::seconds gang_timeout{120};  // when a gang member does not say
  std::chrono::seconds hold{30};           // longest chip hold; 0 = no holds
};

class QueueState {
 public:
  QueueState(ClusterCache& cache, const Scheduler& scheduler, QueueOptions options);

  // ---- the pod watch; `apply` feeds the cluster cache (released slices are compared around
  // it) ----
  void ReplacePods(const std::vector<nlohmann::json>& pods, const std::function<void()>& apply);
  void OnPodEvent(const std::string& type, const nlohmann::json& pod,
                  const std::function<void()>& apply);

  // ---- gangs ----
  partition::GangBook& gangs() { return gangs_; }
  const partition::GangBook& gangs() const { return gangs_; }
  // The gang spec with the default timeout filled in.
  partition::GangSpec WithDefaults(partition::GangSpec spec) const;
  // Our own patch of `uid` landed at `version`: older watch events must not undo the gang
  // bookkeeping it went with.
  void NoteOwnPatch(const std::string& uid, int64_t version);

  // ---- chip hold ----
  std::optional<partition::ChipHold> ActiveHold(partition::HoldClock::time_point now) const;
  // Called when `pod` fits on no node: if it is the oldest pending multi-chip pod, it holds the
  // node closest to fitting it among `nodes` (see HoldBook). Returns its active hold.
  std::optional<partition::ChipHold> MaybeHold(const PodIntent& pod,
                                               const std::vector<std::string>& nodes,
                                               partition::HoldClock::time_point now);
  void ReleaseHold(const std::string& uid, partition::HoldClock::time_point now);

  QueueStats stats() const;

 private:
  void ObserveLocked(const nlohmann::json& pod, bool gone);
  // Pending pods (oldest few) that fit on `node` now.
  std::vector<std::string> FittingOn(const std::string& node) const;

  ClusterCache& cache_;
  const Scheduler& scheduler_;
  QueueOptions options_;
  partition::GangBook gangs_;
  std::atomic<uint64_t> unblocked_{0};

  mutable std::mutex mu_;
  partition::PendingQueue queue_;
  std::map<std::string, PodIntent> intents_;  // of the pending pods, by uid
  partition::HoldBook holds_;
  std::map<std::string, int64_t> own_versions_;  // uid -> version of our last gang patch
};

}  // namespace flexai::extender
