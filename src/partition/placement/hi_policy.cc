#include "partition/placement/hi_policy.h"

#include "partition/placement/gpu_ask.h"

namespace flexai::partition {

// First version: FGD's gradient with a continuous (untruncated) score. Refined below as measured.
std::optional<NodeChoice> HiPolicy::Evaluate(const NodeState& node, const PodRequest& pod) const {
  if (!Fits(node, pod)) return std::nullopt;
  const GpuAsk ask = AskOf(pod);
  const GpuNodeView before = ViewOf(node);
  const double frag_before = frag_.Of(before);
  GpuNodeView after = before;
  after.cpu_left_milli -= pod.host.cpu_milli;
  if (ask.shared() && pod.containers.size() == 1) {
    ChipSet feasible = node.FeasibleChips(pod.containers[0].slice);
    double best = -1e300;
    int best_chip = -1;
    for (int i = 0; i < node.chip_count(); ++i) {
      if (!(feasible & (ChipSet{1} << i))) continue;
      auto& left = after.gpu_left_milli[static_cast<size_t>(i)];
      left -= ask.milli;
      double s = frag_before - frag_.Of(after);
      left += ask.milli;
      if (s > best) best = s, best_chip = i;
    }
    if (best_chip < 0) return std::nullopt;
    return NodeChoice{best, {ChipSet{1} << best_chip}};
  }
  auto chips = PickChipsInOrder(node, pod, TightestFirst(node));
  if (!chips) return std::nullopt;
  for (ChipSet set : *chips) {
    for (int i = 0; i < node.chip_count(); ++i) {
      if (set & (ChipSet{1} << i)) after.gpu_left_milli[static_cast<size_t>(i)] -= ask.milli;
    }
  }
  return NodeChoice{frag_before - frag_.Of(after), std::move(*chips)};
}

}  // namespace flexai::partition
