#include "partition/placement/placement_policy.h"

namespace flexai::partition {

std::optional<ClusterChoice> ChooseNode(const PlacementPolicy& policy,
                                        const std::vector<NodeState>& nodes,
                                        const PodRequest& pod) {
  std::optional<ClusterChoice> best;
  for (size_t i = 0; i < nodes.size(); ++i) {
    std::optional<NodeChoice> choice = policy.Evaluate(nodes[i], pod);
    if (!choice) continue;
    if (!best || choice->score > best->choice.score) best = ClusterChoice{i, std::move(*choice)};
  }
  return best;
}

std::optional<std::vector<ChipSet>> PickChipsInOrder(const NodeState& node, const PodRequest& pod,
                                                     const std::vector<int>& order) {
  std::vector<ChipSet> result;
  result.reserve(pod.containers.size());
  if (pod.containers.size() == 1) {
    // Fast path: one container, the ledgers answer directly.
    const SliceRequest& req = pod.containers[0].slice;
    ChipSet feasible = node.FeasibleChips(req);
    ChipSet picked = 0;
    int need = req.chips;
    for (int i : order) {
      if (need == 0) break;
      if (feasible & (ChipSet{1} << i)) {
        picked |= ChipSet{1} << i;
        --need;
      }
    }
    if (need > 0) return std::nullopt;
    result.push_back(picked);
    return result;
  }
  // Several containers: track what earlier containers of this pod took.
  struct Room {
    int64_t memory;
    int cores;
    int slices;
    bool exclusive;
  };
  std::vector<Room> room;
  room.reserve(static_cast<size_t>(node.chip_count()));
  for (int i = 0; i < node.chip_count(); ++i) {
    const ChipLedger& l = node.ledger(i);
    room.push_back({l.free_memory_mib(), l.free_cores(),
                    l.capacity().max_slices - static_cast<int>(l.slices().size()),
                    l.held_exclusively() || !l.empty()});
  }
  for (const auto& container : pod.containers) {
    const SliceRequest& req = container.slice;
    ChipSet picked = 0;
    int need = req.chips;
    for (int i : order) {
      if (need == 0) break;
      const Chip& chip = node.chip(i);
      if (!chip.healthy() || !req.Accepts(chip)) continue;
      ChipDemand d = node.DemandOn(req, i);
      Room& r = room[static_cast<size_t>(i)];
      bool fits = d.exclusive ? (!r.exclusive && r.slices > 0 && node.ledger(i).empty() &&
                                 r.cores == node.ledger(i).capacity().cores)
                              : (r.slices > 0 && d.memory_mib <= r.memory && d.cores <= r.cores &&
                                 !node.ledger(i).held_exclusively());
      if (!fits) continue;
      picked |= ChipSet{1} << i;
      --need;
      r.memory -= d.memory_mib;
      r.cores -= d.cores;
      r.slices -= 1;
      if (d.exclusive) r.cores = -1, r.slices = 0;
    }
    if (need > 0) return std::nullopt;
    result.push_back(picked);
  }
  return result;
}

}  // namespace flexai::partition
