// Builds placement policies by name: the one place that knows every policy, used by the
// simulator, the Hi Scheduler extender and the tests alike.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "partition/placement/placement_policy.h"
#include "partition/placement/typical_workload.h"
#include "partition/result.h"

namespace flexai::partition {

struct PolicyContext {
  uint64_t seed = 42;                     // for policies that draw random numbers
  TypicalWorkload workload;               // for fragmentation-aware policies
  std::map<std::string, double> weights;  // policy knobs (the slice policy's scheduler weights)
};

// Names accepted by MakePlacementPolicy, default first.
const std::vector<std::string>& PlacementPolicyNames();
// Weight (knob) names some policy reads; any other name in PolicyContext::weights is a mistake.
const std::vector<std::string>& PlacementWeightNames();
inline constexpr const char* kDefaultPlacementPolicy = "hi";

Result<std::unique_ptr<PlacementPolicy>> MakePlacementPolicy(const std::string& name,
                                                             const PolicyContext& context);

}  // namespace flexai::partition
