#include "extender/queue_filter.h"

#include <algorithm>

namespace flexai::extender {

FilterOutcome QueueAwareFilter::Filter(const PodIntent& pod,
                                       const std::vector<std::string>& nodes) const {
  const bool chip_pod = pod.wants_chips && pod.error.empty();
  FilterOutcome out;
  if (chip_pod && gangs_.FilterReserved(pod, nodes, out)) return out;
  out = scheduler_.Filter(pod, nodes);
  if (!chip_pod) return out;
  const auto now = std::chrono::system_clock::now();
  if (out.passed.empty()) {
    // Only nodes it could fit once pods leave are worth holding (not unresolvable ones).
    std::vector<std::string> waitable;
    for (const auto& [node, why] : out.failed) waitable.push_back(node);
    if (!waitable.empty()) queue_.MaybeHold(pod, waitable, now);
    return out;
  }
  auto hold = queue_.ActiveHold(now);
  if (!hold) return out;
  auto held = std::find(out.passed.begin(), out.passed.end(), hold->node);
  if (hold->uid == pod.uid) {
    // The holder fits elsewhere: the hold is no longer needed.
    if (held == out.passed.end()) queue_.ReleaseHold(pod.uid, now);
    return out;
  }
  if (held == out.passed.end()) return out;
  out.passed.erase(held);
  auto left = std::chrono::duration_cast<std::chrono::seconds>(hold->until - now).count() + 1;
  // Unresolvable for this pod: preemption cannot free chips held for another.
  out.unresolvable[hold->node] = "node " + hold->node + ": chips held for pending multi-chip pod " +
                                 hold->key + " for another " + std::to_string(left) + " s";
  return out;
}

}  // namespace flexai::extender
