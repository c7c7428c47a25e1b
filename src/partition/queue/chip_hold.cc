#include "partition/queue/chip_hold.h"

#include <algorithm>

#include "partition/queue/pending_queue.h"

namespace flexai::partition {

std::optional<ChipHold> HoldBook::Claim(ChipHold hold, HoldClock::time_point now) {
  if (duration_.count() <= 0) return std::nullopt;
  if (active_ && now >= active_->until) Release(active_->uid, now);
  if (active_) {
    if (active_->uid == hold.uid) return active_;
    return std::nullopt;
  }
  if (auto e = ended_.find(hold.uid); e != ended_.end() && now - e->second < duration_) {
    return std::nullopt;
  }
  hold.until = now + duration_;
  active_ = std::move(hold);
  return active_;
}

std::optional<ChipHold> HoldBook::Active(HoldClock::time_point now) const {
  if (active_ && now < active_->until) return active_;
  return std::nullopt;
}

void HoldBook::Release(const std::string& uid, HoldClock::time_point now) {
  if (!active_ || active_->uid != uid) return;
  ended_[uid] = std::min(now, active_->until);
  active_.reset();
  // Keep the cool-down record bounded: entries older than a duration no longer matter.
  for (auto it = ended_.begin(); it != ended_.end();) {
    it = now - it->second >= duration_ ? ended_.erase(it) : std::next(it);
  }
}

std::optional<std::string> NodeClosestToFitting(const std::vector<const NodeState*>& nodes,
                                                const PodRequest& pod, int64_t* memory_mib) {
  int needed = WholeChipsAsked(pod);
  const NodeState* best = nullptr;
  int best_idle = -1;
  int64_t best_memory = 0;
  for (const NodeState* node : nodes) {
    int accepted = 0, idle = 0;
    int64_t memory = 0;
    for (int i = 0; i < node->chip_count(); ++i) {
      const Chip& chip = node->chip(i);
      bool accepts = chip.healthy() &&
                     std::all_of(pod.containers.begin(), pod.containers.end(),
                                 [&](const ContainerRequest& c) { return c.slice.Accepts(chip); });
      if (!accepts) continue;
      ++accepted;
      memory += node->ledger(i).capacity().memory_mib;
      if (node->ledger(i).empty()) ++idle;
    }
    if (accepted < needed || idle <= best_idle) continue;
    best = node;
    best_idle = idle;
    best_memory = accepted ? memory / accepted * needed : 0;
  }
  if (!best) return std::nullopt;
  if (memory_mib) *memory_mib = best_memory;
  return best->name();
}

}  // namespace flexai::partition
