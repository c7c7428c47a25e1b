#include "extender/placement_choice.h"

#include <spdlog/spdlog.h>

#include "partition/placement/policy_factory.h"
#include "partition/placement/simple_policies.h"

namespace flexai::extender {

std::shared_ptr<const partition::PlacementPolicy> MakeExtenderPlacementPolicy(
    const partition::SlicePolicy& policy) {
  partition::PolicyContext context;
  auto made = partition::MakePlacementPolicy(policy.scheduler.policy, context);
  if (made.ok()) {
    spdlog::info("placement policy: {}", policy.scheduler.policy);
    return std::shared_ptr<const partition::PlacementPolicy>(std::move(*made));
  }
  spdlog::warn("{}: {}; scoring with bestfit instead", policy.source, made.error().message);
  return std::make_shared<partition::BestFitPolicy>();
}

}  // namespace flexai::extender
