#include "partition/preemption/disruption_budget.h"

#include <gtest/gtest.h>

namespace flexai::partition {
namespace {

TEST(LabelSelector, MatchLabelsAndExpressionsMustAllHold) {
  LabelSelector s;
  s.match_labels = {{"app", "train"}};
  s.match_expressions = {{"tier", LabelRequirement::Op::kIn, {"gold", "silver"}},
                         {"canary", LabelRequirement::Op::kDoesNotExist, {}}};
  EXPECT_TRUE(s.Matches({{"app", "train"}, {"tier", "gold"}}));
  EXPECT_FALSE(s.Matches({{"app", "train"}, {"tier", "bronze"}}));
  EXPECT_FALSE(s.Matches({{"app", "train"}, {"tier", "gold"}, {"canary", "1"}}));
  EXPECT_FALSE(s.Matches({{"app", "serve"}, {"tier", "gold"}}));
  LabelSelector not_in;
  not_in.match_expressions = {{"tier", LabelRequirement::Op::kNotIn, {"gold"}},
                              {"app", LabelRequirement::Op::kExists, {}}};
  EXPECT_TRUE(not_in.Matches({{"app", "x"}}));
  EXPECT_FALSE(not_in.Matches({{"app", "x"}, {"tier", "gold"}}));
}

DisruptionBudget Budget(const std::string& ns, const std::string& app,
                        const std::string& disrupted = "") {
  DisruptionBudget b;
  b.ns = ns;
  b.name = app.empty() ? "everything" : app;
  if (!app.empty()) b.selector.match_labels["app"] = app;
  b.disruptions_allowed = 1;
  if (!disrupted.empty()) b.disrupted_pods.insert(disrupted);
  return b;
}

TEST(BudgetsCovering, SameNamespaceMatchingSelectorAndNotAlreadyDisrupted) {
  std::vector<DisruptionBudget> budgets = {Budget("team-a", "train"), Budget("team-b", "train"),
                                           Budget("team-a", ""),  // empty selector: covers nothing
                                           Budget("team-a", "train", "worker-0")};
  EXPECT_EQ(BudgetsCovering(budgets, "team-a", "worker-1", {{"app", "train"}}),
            std::vector<size_t>({0, 3}));
  EXPECT_EQ(BudgetsCovering(budgets, "team-a", "worker-0", {{"app", "train"}}),
            std::vector<size_t>({0}));
  EXPECT_TRUE(BudgetsCovering(budgets, "team-a", "unlabelled", {}).empty());
}

}  // namespace
}  // namespace flexai::partition
