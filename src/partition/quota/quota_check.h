// Per-namespace quotas on flexai resources (policy section `quotas`): what a pod takes, what a
// namespace holds, and whether one more pod stays within the limits, with a message that says
// which limit and by how much.
#pragma once

#include <cstdint>
#include <string>

#include "partition/assignment.h"
#include "partition/node_state.h"
#include "partition/policy/slice_policy.h"
#include "partition/result.h"

namespace flexai::partition {

// Amounts counted against a quota, over gpu and npu resources alike: chips = chips granted (a
// container asking 2 chips counts 2, whether whole or sliced); memory in MiB and cores in percent
// of a chip, summed over every chip granted.
struct QuotaAmounts {
  int64_t chips = 0;
  int64_t memory_mib = 0;
  int64_t cores = 0;
  QuotaAmounts& operator+=(const QuotaAmounts& other);
  bool operator==(const QuotaAmounts&) const = default;
};

// What a placed pod holds (its grants).
QuotaAmounts AmountsOf(const PodAssignment& assignment);

// Whether some container's memory depends on the chip it lands on (whole chips, a percentage,
// or cores alone), so the exact amount is only known per node.
bool MemoryDependsOnChip(const PodRequest& pod);

// The least `pod` takes: chips and cores from the request, memory when given in MiB. With `node`,
// chip-dependent memory is resolved on the smallest chip there that accepts the container.
QuotaAmounts MinimumAsk(const PodRequest& pod, const NodeState* node = nullptr);

// Ok when `in_use` + `ask` stays within every limit of `quota`; else an error naming the first
// limit passed, e.g. "namespace team-a: quota memoryMiB 32768 MiB, in use 30000 MiB, this pod
// asks 8192 MiB: over by 5424 MiB".
Status CheckQuota(const std::string& ns, const NamespaceQuota& quota, const QuotaAmounts& in_use,
                  const QuotaAmounts& ask);

}  // namespace flexai::partition
