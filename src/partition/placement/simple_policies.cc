#include "partition/placement/simple_policies.h"

#include <algorithm>
#include <numeric>

#include "partition/placement/gpu_ask.h"

namespace flexai::partition {

std::optional<NodeChoice> RandomPolicy::Evaluate(const NodeState& node,
                                                 const PodRequest& pod) const {
  if (!Fits(node, pod)) return std::nullopt;
  std::lock_guard lock(mu_);
  // An independent uniform score per node makes the arg-max a uniformly random feasible node.
  double score = std::uniform_real_distribution<double>(0, 1)(rng_);
  std::vector<int> order(static_cast<size_t>(node.chip_count()));
  std::iota(order.begin(), order.end(), 0);
  if (AskOf(pod).shared()) std::shuffle(order.begin(), order.end(), rng_);
  return ChooseInOrder(node, pod, order, score);
}

std::optional<NodeChoice> DotProductPolicy::Evaluate(const NodeState& node,
                                                     const PodRequest& pod) const {
  if (!Fits(node, pod)) return std::nullopt;
  const GpuAsk ask = AskOf(pod);
  double node_cpu = static_cast<double>(node.host_free().cpu_milli) / kMaxSpecCpuMilli;
  double node_gpu = static_cast<double>(NodeLeftMilli(node)) / kMaxSpecGpuMilli;
  double pod_cpu = static_cast<double>(pod.host.cpu_milli) / kMaxSpecCpuMilli;
  double pod_gpu = static_cast<double>(ask.total_milli()) / kMaxSpecGpuMilli;
  double dot = (node_cpu * pod_cpu + node_gpu * pod_gpu) / 2;
  auto score = static_cast<int64_t>(100 * (1 - dot));
  return ChooseInOrder(node, pod, TightestFirst(node), static_cast<double>(score));
}

namespace {

// The paper's pod tag: -1 no GPU, 0 shared, k for k whole GPUs.
int TagOf(const PodAssignment& a) {
  int whole = 0, shared = 0;
  for (const auto& c : a.containers) {
    for (const auto& g : c.grants) (g.exclusive || g.cores >= kCoresPerChip ? whole : shared)++;
  }
  if (whole + shared == 0) return -1;
  return shared > 0 ? 0 : whole;
}

int TagOf(const GpuAsk& ask) {
  if (ask.cpu_only()) return -1;
  return ask.milli < 1000 ? 0 : ask.num;
}

}  // namespace

ClusteringPolicy::TagCounts ClusteringPolicy::TagsOn(const NodeState& node) const {
  std::lock_guard lock(mu_);
  auto& entry = cache_[node.name()];
  if (entry.first != node.version() + 1) {
    entry.second.clear();
    for (const auto& [uid, a] : node.pods()) {
      int tag = TagOf(a);
      if (tag >= 0) ++entry.second[tag];
    }
    entry.first = node.version() + 1;  // +1 so a fresh entry (0) never looks current
  }
  return entry.second;
}

std::optional<NodeChoice> ClusteringPolicy::Evaluate(const NodeState& node,
                                                     const PodRequest& pod) const {
  if (!Fits(node, pod)) return std::nullopt;
  const GpuAsk ask = AskOf(pod);
  const int tag = TagOf(ask);
  int64_t score = 0;
  if (tag >= 0) {
    const int64_t left = NodeLeftMilli(node);
    const int64_t base = (25 * (8000 - left)) / 8000;
    TagCounts tags = TagsOn(node);
    if (tags.count(tag)) {
      score = base + (tags.size() == 1 ? 75 : 50);
    } else {
      score = base + (tags.empty() ? 25 : 0);
    }
  }
  return ChooseInOrder(node, pod, TightestFirst(node), static_cast<double>(score));
}

std::optional<NodeChoice> PackingPolicy::Evaluate(const NodeState& node,
                                                  const PodRequest& pod) const {
  if (!Fits(node, pod)) return std::nullopt;
  const GpuAsk ask = AskOf(pod);
  std::vector<int> order = TightestFirst(node);
  int64_t score = 0;
  if (!ask.cpu_only()) {
    int64_t free_chips = 0;
    for (int i = 0; i < node.chip_count(); ++i) free_chips += ChipLeftMilli(node, i) == 1000;
    if (free_chips == node.chip_count()) {
      score = std::max<int64_t>(33 - free_chips, free_chips);
    } else {
      int64_t fresh = 0, left_sum = 0;
      int taken = 0;
      for (int i : order) {
        if (taken == ask.num) break;
        int left = ChipLeftMilli(node, i);
        if (left < ask.milli) continue;
        ++taken;
        fresh += left == 1000;
        left_sum += static_cast<int64_t>(left) * 100 / 1000;
      }
      if (fresh > 0) {
        score = std::max<int64_t>(50 - fresh, 33);
      } else {
        score = std::max<int64_t>(100 - left_sum / 10, 50);
      }
    }
  }
  return ChooseInOrder(node, pod, order, static_cast<double>(score));
}

std::optional<NodeChoice> BestFitPolicy::Evaluate(const NodeState& node,
                                                  const PodRequest& pod) const {
  if (!Fits(node, pod)) return std::nullopt;
  const GpuAsk ask = AskOf(pod);
  double cpu_after = static_cast<double>(node.host_free().cpu_milli - pod.host.cpu_milli);
  double gpu_after = static_cast<double>(NodeLeftMilli(node) - ask.total_milli());
  double raw = (1 - 0.5 * cpu_after / kMaxSpecCpuMilli - 0.5 * gpu_after / kMaxSpecGpuMilli) * 100;
  return ChooseInOrder(node, pod, TightestFirst(node),
                       static_cast<double>(static_cast<int64_t>(raw)));
}

PodRequest AsExclusive(const PodRequest& pod) {
  PodRequest out = pod;
  for (auto& c : out.containers) {
    c.slice.memory_mib = 0;
    c.slice.memory_percent = 0;
    c.slice.cores = 0;
  }
  return out;
}

}  // namespace flexai::partition
