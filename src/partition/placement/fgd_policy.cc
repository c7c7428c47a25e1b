#include "partition/placement/fgd_policy.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "partition/placement/gpu_ask.h"

namespace flexai::partition {

FragmentationCache::FragmentationCache(TypicalWorkload workload, bool memory)
    : workload_(std::move(workload)), memory_(memory) {
  std::set<int64_t> cpus, memories;
  for (const auto& t : workload_.tasks) {
    cpus.insert(t.shape.cpu_milli);
    memories.insert(t.shape.memory_mib);
  }
  cpu_thresholds_.assign(cpus.begin(), cpus.end());
  if (memory_) memory_thresholds_.assign(memories.begin(), memories.end());
}

double FragmentationCache::Of(const GpuNodeView& view) const {
  // Key: model, how many CPU thresholds fit, then the sorted chip leftovers. Built in per-thread
  // buffers: this runs for every chip of every node scored, and a hit allocates nothing.
  thread_local std::vector<int> lefts;
  thread_local std::string key;
  lefts.assign(view.gpu_left_milli.begin(), view.gpu_left_milli.end());
  std::sort(lefts.begin(), lefts.end());
  auto cpu_rank = static_cast<int32_t>(
      std::upper_bound(cpu_thresholds_.begin(), cpu_thresholds_.end(), view.cpu_left_milli) -
      cpu_thresholds_.begin());
  key.assign(view.model);
  key.push_back('\0');
  key.append(reinterpret_cast<const char*>(&cpu_rank), sizeof cpu_rank);
  if (memory_) {
    auto memory_rank =
        static_cast<int32_t>(std::upper_bound(memory_thresholds_.begin(), memory_thresholds_.end(),
                                              view.memory_left_mib) -
                             memory_thresholds_.begin());
    key.append(reinterpret_cast<const char*>(&memory_rank), sizeof memory_rank);
  }
  for (int l : lefts) key.append(reinterpret_cast<const char*>(&l), sizeof l);
  {
    std::lock_guard lock(mu_);
    if (auto it = memo_.find(key); it != memo_.end()) return it->second;
  }
  double frag = NodeFragmentation(view, workload_, memory_);
  std::lock_guard lock(mu_);
  memo_.emplace(key, frag);
  return frag;
}

int64_t FragGradientScore(double frag_before, double frag_after) {
  double x = (frag_before - frag_after) / 1000.0;
  return static_cast<int64_t>(100.0 / (1.0 + std::exp(-x)));
}

std::optional<NodeChoice> FgdPolicy::Evaluate(const NodeState& node, const PodRequest& pod) const {
  if (!Fits(node, pod)) return std::nullopt;
  const GpuAsk ask = AskOf(pod);
  const GpuNodeView before = ViewOf(node);
  const double frag_before = frag_.Of(before);
  GpuNodeView after = before;
  after.cpu_left_milli -= pod.host.cpu_milli;

  if (ask.shared() && pod.containers.size() == 1) {
    // Try each chip that fits; the first chip with the best (integer) score wins.
    ChipSet feasible = node.FeasibleChips(pod.containers[0].slice);
    int64_t best_score = -1;
    int best_chip = -1;
    for (int i = 0; i < node.chip_count(); ++i) {
      if (!(feasible & (ChipSet{1} << i))) continue;
      auto& left = after.gpu_left_milli[static_cast<size_t>(i)];
      left -= ask.milli;
      int64_t s = FragGradientScore(frag_before, frag_.Of(after));
      left += ask.milli;
      if (s > best_score) best_score = s, best_chip = i;
    }
    if (best_chip < 0) return std::nullopt;
    return NodeChoice{static_cast<double>(best_score), {ChipSet{1} << best_chip}};
  }
  // Whole chips (or no chips): tightest chips that fit, as the paper's simulator does.
  std::vector<int> order = TightestFirst(node);
  auto chips = PickChipsInOrder(node, pod, order);
  if (!chips) return std::nullopt;
  for (ChipSet set : *chips) {
    for (int i = 0; i < node.chip_count(); ++i) {
      if (set & (ChipSet{1} << i)) after.gpu_left_milli[static_cast<size_t>(i)] -= ask.milli;
    }
  }
  int64_t score = FragGradientScore(frag_before, frag_.Of(after));
  return NodeChoice{static_cast<double>(score), std::move(*chips)};
}

}  // namespace flexai::partition
