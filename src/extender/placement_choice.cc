#include "extender/placement_choice.h"

#include <spdlog/spdlog.h>

#include "partition/placement/policy_factory.h"
#include "partition/placement/simple_policies.h"

namespace flexai::extender {

std::shared_ptr<const partition::PlacementPolicy> MakeExtenderPlacementPolicy(
    const partition::SlicePolicy& policy, const std::vector<partition::TaskShape>& observed) {
  const std::string& name = policy.scheduler.policy;
  partition::PolicyContext context;
  context.weights = policy.scheduler.weights;
  if (name == "hi") context.weights.try_emplace("plan", 0);
  if (name == "hi" || name == "fgd") {
    if (observed.size() < kMinObservedPods) {
      spdlog::info(
          "placement policy {}: {} placed pods seen, it needs {} to learn the typical workload; "
          "scoring with bestfit until then",
          name, observed.size(), kMinObservedPods);
      return std::make_shared<partition::BestFitPolicy>();
    }
    context.workload = partition::BuildTypicalWorkload(observed);
  }
  auto made = partition::MakePlacementPolicy(name, context);
  if (made.ok()) {
    spdlog::info("placement policy: {} ({} typical shapes from {} placed pods)", name,
                 context.workload.tasks.size(), observed.size());
    return std::shared_ptr<const partition::PlacementPolicy>(std::move(*made));
  }
  spdlog::warn("{}: {}; scoring with bestfit instead", policy.source, made.error().message);
  return std::make_shared<partition::BestFitPolicy>();
}

}  // namespace flexai::extender
