// Bounded reservation against starvation: the oldest pending multi-chip pod that fits on no node
// may hold the node closest to fitting it, so that chips freed there are not taken by a stream of
// small pods. One hold at a time, for at most `duration`; after a hold ends the same pod may hold
// again only `duration` later, so small pods always get their turn (docs/hi-scheduler.md).
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "partition/assignment.h"
#include "partition/node_state.h"

namespace flexai::partition {

using HoldClock = std::chrono::system_clock;

struct ChipHold {
  std::string uid, key;  // the pending pod holding
  std::string node;
  HoldClock::time_point until{};
  int chips = 0;           // whole chips the pod asks
  int64_t memory_mib = 0;  // memory of the chips it is waiting for (for metrics)
};

class HoldBook {
 public:
  explicit HoldBook(std::chrono::seconds duration) : duration_(duration) {}

  // `hold` (its `until` is set here) becomes the active hold, unless another one is active, this
  // pod held within the last `duration`, or holds are off (duration 0). Returns the active hold of
  // this pod, if any.
  std::optional<ChipHold> Claim(ChipHold hold, HoldClock::time_point now);
  // The active hold, if any.
  std::optional<ChipHold> Active(HoldClock::time_point now) const;
  // The holder got its chips, went away or no longer needs the hold.
  void Release(const std::string& uid, HoldClock::time_point now);
  std::chrono::seconds duration() const { return duration_; }

 private:
  std::chrono::seconds duration_;
  std::optional<ChipHold> active_;
  std::map<std::string, HoldClock::time_point> ended_;  // uid -> when its last hold ended
};

// The node where `pod` is closest to fitting: among nodes with enough chips it accepts, the one
// with the most of them entirely idle (ties: the first). nullopt when no node could ever fit it.
// `memory_mib` is set to the memory of the chips it would wait for there.
std::optional<std::string> NodeClosestToFitting(const std::vector<const NodeState*>& nodes,
                                                const PodRequest& pod, int64_t* memory_mib);

}  // namespace flexai::partition
