// hi-scheduler measures fragmentation against the workload the cluster runs: the placement policy
// is rebuilt from the placed pods' shapes (bestfit until there are enough), and hi then keeps two
// chips of a node together for the 2-chip pods it has seen.
#include "extender/workload_refresher.h"

#include <gtest/gtest.h>

#include "extender/scheduler.h"
#include "partition/placement/policy_factory.h"
#include "partition/placement/simple_policies.h"
#include "test_objects.h"

namespace flexai::extender {
namespace {

using testing::GpuPod;
using testing::Json;
using testing::NodeWithChips;

class WorkloadRefresherTest : public ::testing::Test {
 protected:
  WorkloadRefresherTest()
      : policy_(std::make_shared<partition::SlicePolicy>(partition::DefaultSlicePolicy())),
        cache_(policy_),
        scheduler_(cache_, std::make_shared<partition::BestFitPolicy>()),
        refresher_(cache_, [this](std::shared_ptr<const partition::PlacementPolicy> p) {
          ++applied_;
          last_ = p;
          scheduler_.SetPlacementPolicy(std::move(p));
        }) {
    // `mixed` has one chip taken by half; `whole` is idle; the busy nodes run the workload.
    std::vector<Json> nodes = {NodeWithChips("mixed", {{"GPU-m0"}, {"GPU-m1"}}),
                               NodeWithChips("whole", {{"GPU-w0"}, {"GPU-w1"}})};
    for (int i = 0; i < 12; ++i) {
      const std::string n = std::to_string(i);
      nodes.push_back(NodeWithChips("busy" + n, {{"GPU-b" + n + "a"}, {"GPU-b" + n + "b"}}));
    }
    cache_.ReplaceNodes(nodes);
    PlaceHalf("p-mixed", "mixed", "GPU-m0");
  }
  void PlaceHalf(const std::string& name, const std::string& node, const std::string& chip) {
    Json pod = GpuPod(name, 1, 40000, 50);
    pod["metadata"]["annotations"]["flexai.io/assignment"] =
        "node=" + node + ";cpu=0;mem=0|main=" + chip + ":40000:50";
    cache_.UpsertPod(pod);
  }
  // `count` busy nodes run a 2-chip whole-chip pod each, the others a half-chip pod.
  void RunWorkload(int count) {
    for (int i = 0; i < 12; ++i) {
      const std::string n = std::to_string(i), a = "GPU-b" + n + "a", b = "GPU-b" + n + "b";
      if (i >= count) {
        PlaceHalf("p" + n, "busy" + n, a);
        continue;
      }
      Json pod = GpuPod("p" + n, 2);
      pod["metadata"]["annotations"]["flexai.io/assignment"] =
          "node=busy" + n + ";cpu=0;mem=0|main=" + a + ":81559:100:x," + b + ":81559:100:x";
      cache_.UpsertPod(pod);
    }
  }
  // Scores of a pod asking one whole chip.
  std::map<std::string, int64_t> WholeChipScores() {
    std::map<std::string, int64_t> out;
    PodIntent intent = ParsePodIntent(GpuPod("new", 1), *policy_);
    for (const auto& s : scheduler_.Prioritize(intent, {"mixed", "whole"})) out[s.host] = s.score;
    return out;
  }

  std::shared_ptr<partition::SlicePolicy> policy_;
  ClusterCache cache_;
  Scheduler scheduler_;
  int applied_ = 0;
  std::shared_ptr<const partition::PlacementPolicy> last_;  // the policy applied last
  WorkloadRefresher refresher_;
};

TEST_F(WorkloadRefresherTest, BestfitUntilEnoughPodsThenHiMeasuredAgainstThem) {
  EXPECT_TRUE(refresher_.Refresh());  // the first look applies what it has: too few pods
  EXPECT_EQ(last_->name(), "bestfit");
  EXPECT_FALSE(refresher_.Refresh());  // nothing changed
  RunWorkload(6);
  EXPECT_EQ(PlacedPodShapes(cache_).size(), 13u);
  EXPECT_TRUE(refresher_.Refresh());
  EXPECT_EQ(last_->name(), "hi");
  EXPECT_EQ(applied_, 2);
  EXPECT_FALSE(refresher_.Refresh());
  // The cluster runs 2-chip pods: a 1-chip pod goes where it leaves two idle chips together.
  auto scores = WholeChipScores();
  EXPECT_GT(scores.at("mixed"), scores.at("whole"));
}

TEST_F(WorkloadRefresherTest, WithoutTheWorkloadHiScoredWholeChipPodsAlikeEverywhere) {
  // What hi-scheduler ran before it learned the workload: an empty one.
  RunWorkload(6);
  scheduler_.SetPlacementPolicy(partition::MakePlacementPolicy("hi", {}).value());
  auto scores = WholeChipScores();
  EXPECT_EQ(scores.at("mixed"), scores.at("whole"));
}

TEST_F(WorkloadRefresherTest, ANewSlicePolicyIsAppliedEvenWithTheSameWorkload) {
  RunWorkload(6);
  ASSERT_TRUE(refresher_.Refresh());
  EXPECT_EQ(last_->name(), "hi");
  auto fgd = std::make_shared<partition::SlicePolicy>(partition::DefaultSlicePolicy());
  fgd->scheduler.policy = "fgd";
  cache_.SetPolicy(fgd);
  EXPECT_TRUE(refresher_.Refresh());
  EXPECT_EQ(last_->name(), "fgd");
}

TEST_F(WorkloadRefresherTest, ShapesComeFromTheAssignments) {
  RunWorkload(1);
  auto shapes = PlacedPodShapes(cache_);
  ASSERT_EQ(shapes.size(), 13u);
  int two_chip = 0, half = 0;
  for (const auto& s : shapes) {
    two_chip += s.num_gpu == 2 && s.gpu_milli == 1000;
    half += s.num_gpu == 1 && s.gpu_milli == 500;
  }
  EXPECT_EQ(two_chip, 1);
  EXPECT_EQ(half, 12);
}

}  // namespace
}  // namespace flexai::extender
