// The one place that decides which placement policy the Hi Scheduler scores with: the slice
// policy's `scheduler.policy` through the domain core's factory.
#pragma once

#include <memory>

#include "partition/placement/placement_policy.h"
#include "partition/policy/slice_policy.h"

namespace flexai::extender {

// Falls back to bestfit (with a log line) when the name is unknown.
std::shared_ptr<const partition::PlacementPolicy> MakeExtenderPlacementPolicy(
    const partition::SlicePolicy& policy);

}  // namespace flexai::extender
