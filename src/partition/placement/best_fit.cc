#include "partition/placement/best_fit.h"

#include <algorithm>
#include <numeric>

namespace flexai::partition {

std::optional<NodeChoice> BestFitPolicy::Evaluate(const NodeState& node,
                                                  const PodRequest& pod) const {
  if (!node.HostFits(pod.host)) return std::nullopt;
  // Chips with the least free compute first, so fractional slices fill partly used chips.
  std::vector<int> order(static_cast<size_t>(node.chip_count()));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    return node.ledger(a).free_cores() < node.ledger(b).free_cores();
  });
  auto chips = PickChipsInOrder(node, pod, order);
  if (!chips) return std::nullopt;
  int64_t free_after = 0;
  for (int i = 0; i < node.chip_count(); ++i) free_after += node.ledger(i).free_cores();
  free_after -= pod.ChipSharePercent();
  return NodeChoice{-static_cast<double>(free_after), std::move(*chips)};
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
