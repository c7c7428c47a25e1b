// What the policy means for one node: the sharing knobs after node overrides, and each chip's
// capacity for its ledger.
#include <algorithm>

#include "partition/policy/slice_policy.h"

namespace flexai::partition {

std::optional<size_t> MatchingNodeOverride(const SlicePolicy& policy,
                                           const std::map<std::string, std::string>& node_labels) {
  for (size_t i = 0; i < policy.node_overrides.size(); ++i) {
    if (policy.node_overrides[i].selector.Matches(node_labels)) return i;
  }
  return std::nullopt;
}

SharingSection EffectiveSharing(const SlicePolicy& policy,
                                const std::map<std::string, std::string>& node_labels) {
  std::optional<size_t> i = MatchingNodeOverride(policy, node_labels);
  if (!i) return policy.sharing;
  return policy.node_overrides[*i].sharing.ApplyTo(policy.sharing);
}

ChipCapacity CapacityFor(const SlicePolicy& policy, const Chip& chip,
                         const std::map<std::string, std::string>& node_labels) {
  SharingSection sharing = EffectiveSharing(policy, node_labels);
  ChipCapacity capacity;
  capacity.memory_mib = std::max<int64_t>(0, chip.memory_mib - sharing.reserved_memory_mib);
  capacity.cores = kCoresPerChip;
  capacity.max_slices = sharing.max_slices_per_chip;
  capacity.memory_oversubscription = sharing.memory_oversubscription;
  return capacity;
}

}  // namespace flexai::partition
