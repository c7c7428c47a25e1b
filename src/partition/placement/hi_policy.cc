#include "partition/placement/hi_policy.h"

#include "partition/placement/gpu_ask.h"

namespace flexai::partition {

HiPolicy::HiPolicy(TypicalWorkload workload, const std::map<std::string, double>& weights)
    : frag_(std::move(workload)) {
  if (auto it = weights.find("cpuFit"); it != weights.end()) cpu_weight_ = it->second;
  if (auto it = weights.find("gpuFit"); it != weights.end()) fit_weight_ = it->second;
}

// Grade = FGD's fragmentation gradient on its integer scale (the integer steps make near-equal
// nodes tie, and ties then go to a stable node order, which packs), then best fit on GPU and CPU
// as fractional tie-breakers below one grade step.
std::optional<NodeChoice> HiPolicy::Evaluate(const NodeState& node, const PodRequest& pod) const {
  if (!Fits(node, pod)) return std::nullopt;
  const GpuAsk ask = AskOf(pod);
  const GpuNodeView before = ViewOf(node);
  const double frag_before = frag_.Of(before);
  GpuNodeView after = before;
  after.cpu_left_milli -= pod.host.cpu_milli;
  auto grade = [&](const GpuNodeView& v) {
    double g = static_cast<double>(FragGradientScore(frag_before, frag_.Of(v)));
    double idle_after = static_cast<double>(v.idle_milli()) / kMaxSpecGpuMilli;
    double cpu_after = static_cast<double>(v.cpu_left_milli) / kMaxSpecCpuMilli;
    return g + (fit_weight_ * (1 - idle_after) + cpu_weight_ * (1 - cpu_after)) / 2;
  };
  if (ask.shared() && pod.containers.size() == 1) {
    ChipSet feasible = node.FeasibleChips(pod.containers[0].slice);
    double best = -1e300;
    int best_chip = -1;
    for (int i = 0; i < node.chip_count(); ++i) {
      if (!(feasible & (ChipSet{1} << i))) continue;
      auto& left = after.gpu_left_milli[static_cast<size_t>(i)];
      left -= ask.milli;
      double s = grade(after);
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
  return NodeChoice{grade(after), std::move(*chips)};
}

}  // namespace flexai::partition
