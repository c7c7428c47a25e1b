#include "partition/placement/chip_groups.h"

#include <algorithm>
#include <map>
#include <utility>

#include "partition/placement/placement_policy.h"

namespace flexai::partition {
namespace {

using GroupKey = std::pair<int, int>;  // (NUMA node, island); 0 for a dimension not asked

GroupKey GroupOf(const Chip& chip, ChipGrouping grouping) {
  int island = 0;
  if (grouping.island) island = chip.link_group >= 0 ? chip.link_group : -1 - chip.index;
  return {grouping.numa ? chip.numa_node : 0, island};
}

}  // namespace

std::optional<std::vector<ChipSet>> PickChipsInOneGroup(const NodeState& node,
                                                        const PodRequest& pod,
                                                        const std::vector<int>& order,
                                                        ChipGrouping grouping, bool busiest_first) {
  std::map<GroupKey, int> free_by_group;
  for (int i = 0; i < node.chip_count(); ++i) {
    free_by_group[GroupOf(node.chip(i), grouping)] += node.ledger(i).free_cores();
  }
  std::vector<std::pair<GroupKey, int>> groups(free_by_group.begin(), free_by_group.end());
  std::stable_sort(groups.begin(), groups.end(), [&](const auto& a, const auto& b) {
    return busiest_first ? a.second < b.second : a.second > b.second;
  });
  for (const auto& [group, free] : groups) {
    std::vector<int> inside;
    for (int i : order) {
      if (GroupOf(node.chip(i), grouping) == group) inside.push_back(i);
    }
    if (auto chips = PickChipsInOrder(node, pod, inside)) return chips;
  }
  return std::nullopt;
}

}  // namespace flexai::partition
