// Each policy's score on small hand-built nodes, computed by hand from the FGD paper's formulas.
#include <gtest/gtest.h>

#include "partition/placement/fgd_policy.h"
#include "partition/placement/policy_factory.h"
#include "partition/placement/simple_policies.h"
#include "test_nodes.h"

namespace flexai::partition {
namespace {

using testing::GpuNode;
using testing::Place;
using testing::Task;

// Two GPUs, 64 cores; GPU 1 already holds a 400-milli share (600 left), so 1600 milli idle.
NodeState HalfUsedNode() {
  NodeState node = GpuNode("n", 2, 64000 + 2000);
  Place(node, Task("old", 400, 1, 2000), ChipSet{0b10});
  return node;
}

TEST(BestFitPolicy, ScoresByWhatIsLeftAndPicksTheTightestGpu) {
  NodeState node = HalfUsedNode();
  auto c = BestFitPolicy().Evaluate(node, Task("p", 400, 1, 8000));
  ASSERT_TRUE(c);
  // (1 - 0.5 * 56000/128000 - 0.5 * 1200/8000) * 100 = 70.625 -> 70
  EXPECT_EQ(c->score, 70);
  EXPECT_EQ(c->chips[0], ChipSet{0b10});
}

TEST(DotProductPolicy, PrefersTheSmallestDotProduct) {
  NodeState node = HalfUsedNode();
  auto c = DotProductPolicy().Evaluate(node, Task("p", 400, 1, 8000));
  ASSERT_TRUE(c);
  // node (0.5, 0.2), pod (0.0625, 0.05): dot/2 = 0.020625 -> 100 * (1 - 0.020625) = 97.9 -> 97
  EXPECT_EQ(c->score, 97);
}

TEST(PackingPolicy, FillsPartlyUsedGpusFirst) {
  NodeState node = HalfUsedNode();
  auto c = PackingPolicy().Evaluate(node, Task("p", 400, 1, 8000));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->score, 94);  // max(100 - (600*100/1000)/10, 50)
  EXPECT_EQ(c->chips[0], ChipSet{0b10});
  // A fresh GPU on a partly used node: max(50 - 1, 33) = 49.
  EXPECT_EQ(PackingPolicy().Evaluate(node, Task("q", 700, 1, 0))->score, 49);
  // Idle nodes: max(33 - free, free).
  EXPECT_EQ(PackingPolicy().Evaluate(GpuNode("i2", 2, 64000), Task("p", 400, 1, 0))->score, 31);
  EXPECT_EQ(PackingPolicy().Evaluate(GpuNode("i8", 8, 64000), Task("p", 400, 1, 0))->score, 25);
  // CPU-only tasks score 0 everywhere.
  EXPECT_EQ(PackingPolicy().Evaluate(node, Task("cpu", 0, 0, 1000))->score, 0);
}

TEST(ClusteringPolicy, GroupsTasksOfTheSameKind) {
  NodeState node = HalfUsedNode();
  ClusteringPolicy policy;
  // base = 25 * (8000 - 1600) / 8000 = 20; only shared tasks here -> +75
  EXPECT_EQ(policy.Evaluate(node, Task("p", 300, 1, 1000))->score, 95);
  // A whole-GPU task is a different kind, and the node is not empty -> base only.
  EXPECT_EQ(policy.Evaluate(node, Task("w", 1000, 1, 1000))->score, 20);
  // An empty 2-GPU node: base = 25 * 6000 / 8000 = 18 (truncated), +25.
  EXPECT_EQ(policy.Evaluate(GpuNode("e", 2, 64000), Task("w", 1000, 1, 1000))->score, 43);
  // The cache follows node changes: after a whole-GPU task lands, shared tasks get +50.
  Place(node, Task("w1", 1000, 1, 1000), ChipSet{0b01});
  EXPECT_EQ(policy.Evaluate(node, Task("p", 300, 1, 1000))->score, 25 * (8000 - 600) / 8000 + 50);
}

TEST(FgdPolicy, ScoreIsTheSigmoidOfTheFragmentationDrop) {
  EXPECT_EQ(FragGradientScore(1000, 1000), 50);
  EXPECT_EQ(FragGradientScore(1000, 500), 62);  // sigmoid(0.5) = 0.6225
  EXPECT_EQ(FragGradientScore(0, 2000), 11);    // sigmoid(-2) = 0.1192
}

TEST(FgdPolicy, PutsAShareWhereItFragmentsLeast) {
  // Typical workload: only 600-milli shares. GPU 0 has 600 free, GPU 1 is idle.
  TypicalWorkload w{{{{0, 600, 1, ""}, 1.0}}};
  NodeState node = GpuNode("n", 2, 64000);
  Place(node, Task("old", 400, 1, 0), ChipSet{0b01});
  FgdPolicy fgd(w);
  // A 400 share: on GPU 1 it leaves 600+600 (frag 0, from 0: score 50); on GPU 0 it leaves
  // 200 + 1000 (frag 200: sigmoid(-0.2) -> 45). FGD picks GPU 1.
  auto c = fgd.Evaluate(node, Task("p", 400, 1, 0));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->chips[0], ChipSet{0b10});
  EXPECT_EQ(c->score, 50);
}

TEST(ChooseNode, TakesTheHighestScoreAndTheFirstNodeOnTies) {
  std::vector<NodeState> nodes = {GpuNode("a", 8, 96000), GpuNode("b", 2, 64000),
                                  GpuNode("c", 2, 64000)};
  auto c = ChooseNode(PackingPolicy(), nodes, Task("p", 500, 1, 1000));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->node_index, 1u);  // 31 beats 25; b and c tie, b comes first
}

TEST(Policies, RefuseNodesThatCannotHostThePod) {
  NodeState small = GpuNode("s", 2, 4000);
  PolicyContext ctx;
  ctx.workload = {{{{1000, 500, 1, ""}, 1.0}}};
  for (const auto& name : PlacementPolicyNames()) {
    auto policy = MakePlacementPolicy(name, ctx);
    ASSERT_TRUE(policy.ok()) << name;
    EXPECT_FALSE((*policy)->Evaluate(small, Task("cpu-heavy", 500, 1, 8000))) << name;
    EXPECT_FALSE((*policy)->Evaluate(small, Task("too-many", 1000, 4, 0))) << name;
    EXPECT_TRUE((*policy)->Evaluate(small, Task("fits", 1000, 2, 1000))) << name;
  }
}

TEST(PolicyFactory, UnknownNameIsAClearError) {
  auto p = MakePlacementPolicy("worstfit", {});
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().message.find("unknown placement policy 'worstfit'"), std::string::npos);
  EXPECT_NE(p.error().message.find("fgd"), std::string::npos);
}

}  // namespace
}  // namespace flexai::partition
