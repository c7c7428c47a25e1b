#include "partition/placement/policy_factory.h"

#include "partition/placement/fgd_policy.h"
#include "partition/placement/hi_policy.h"
#include "partition/placement/simple_policies.h"

namespace flexai::partition {

const std::vector<std::string>& PlacementPolicyNames() {
  static const std::vector<std::string> names = {"hi",         "fgd",     "bestfit", "packing",
                                                 "clustering", "dotprod", "random"};
  return names;
}

const std::vector<std::string>& PlacementWeightNames() { return HiPolicy::WeightNames(); }

Result<std::unique_ptr<PlacementPolicy>> MakePlacementPolicy(const std::string& name,
                                                             const PolicyContext& context) {
  std::unique_ptr<PlacementPolicy> policy;
  if (name == "hi") {
    policy = std::make_unique<HiPolicy>(context.workload, context.weights);
  } else if (name == "fgd") {
    policy = std::make_unique<FgdPolicy>(context.workload);
  } else if (name == "bestfit") {
    policy = std::make_unique<BestFitPolicy>();
  } else if (name == "packing") {
    policy = std::make_unique<PackingPolicy>();
  } else if (name == "clustering") {
    policy = std::make_unique<ClusteringPolicy>();
  } else if (name == "dotprod") {
    policy = std::make_unique<DotProductPolicy>();
  } else if (name == "random") {
    policy = std::make_unique<RandomPolicy>(context.seed);
  } else {
    std::string known;
    for (const auto& n : PlacementPolicyNames()) known += (known.empty() ? "" : ", ") + n;
    return Error{"unknown placement policy '" + name + "' (known: " + known + ")"};
  }
  return policy;
}

}  // namespace flexai::partition
