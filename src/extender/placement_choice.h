// The one place that decides which placement policy the Hi Scheduler scores with: the slice
// policy's `scheduler.policy` and `scheduler.weights` through the domain core's factory, measured
// against the workload the cluster actually runs.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "partition/placement/placement_policy.h"
#include "partition/placement/typical_workload.h"
#include "partition/policy/slice_policy.h"

namespace flexai::extender {

// Fragmentation-aware policies (hi, fgd) measure a node against the typical workload, built from
// the shapes of the pods placed in the cluster. With fewer placed pods than this there is no
// workload to speak of, and they would score every node alike: bestfit (packing) scores instead.
inline constexpr size_t kMinObservedPods = 10;

// `observed`: shapes of the pods placed in the cluster. Falls back to bestfit (with a log line)
// when the name is unknown or too few pods were observed. For `hi` the static bin-packing plan is
// off unless the weights ask for it (`plan: 1`): the plan needs every node change fed back and,
// with tasks leaving, measured worse than the gradient (README, timeline replay).
std::shared_ptr<const partition::PlacementPolicy> MakeExtenderPlacementPolicy(
    const partition::SlicePolicy& policy, const std::vector<partition::TaskShape>& observed = {});

}  // namespace flexai::extender
