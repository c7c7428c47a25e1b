// The scheduler's memo of per-node verdicts (node_score_cache.h) never changes a decision: a node
// that changed, a policy that changed (object or internal state) and a stale heartbeat are seen
// at once, and a cached scheduler answers like one that evaluates every node afresh.
#include <gtest/gtest.h>

#include <atomic>

#include "extender/placement_choice.h"
#include "extender/scheduler.h"
#include "test_objects.h"

namespace flexai::extender {
namespace {

using testing::GpuPod;
using testing::Json;
using testing::NodeWithChips;

// Scores every node by a per-name table; the table can be swapped, bumping StateVersion.
class TableScorePolicy : public partition::PlacementPolicy {
 public:
  explicit TableScorePolicy(std::map<std::string, double> scores) : scores_(std::move(scores)) {}
  std::string_view name() const override { return "table"; }
  std::optional<partition::NodeChoice> Evaluate(const partition::NodeState& node,
                                                const partition::PodRequest&) const override {
    ++evaluations;
    std::lock_guard lock(mu_);
    return partition::NodeChoice{scores_.at(node.name()), {partition::ChipSet{1}}};
  }
  std::optional<uint64_t> StateVersion() const override {
    std::lock_guard lock(mu_);
    return version_;
  }
  void Replace(std::map<std::string, double> scores) {
    std::lock_guard lock(mu_);
    scores_ = std::move(scores);
    ++version_;
  }
  mutable std::atomic<int> evaluations{0};

 private:
  mutable std::mutex mu_;
  std::map<std::string, double> scores_;
  uint64_t version_ = 0;
};

class SchedulerScoreCacheTest : public ::testing::Test {
 protected:
  SchedulerScoreCacheTest()
      : policy_(std::make_shared<partition::SlicePolicy>(partition::DefaultSlicePolicy())),
        cache_(policy_) {
    cache_.ReplaceNodes({NodeWithChips("n1", {{"GPU-a", 81559}}),
                         NodeWithChips("n2", {{"GPU-b", 81559}, {"GPU-c", 81559}}),
                         NodeWithChips("n3", {{"GPU-d", 30000}})});
  }
  PodIntent Intent(const Json& pod) const { return ParsePodIntent(pod, *policy_); }
  void Place(const std::string& name, const std::string& node, const std::string& chip,
             int64_t memory_mib) {
    Json pod = GpuPod(name, 1, memory_mib);
    pod["metadata"]["annotations"]["flexai.io/assignment"] =
        "node=" + node + ";cpu=0;mem=0|main=" + chip + ":" + std::to_string(memory_mib) + ":0";
    cache_.UpsertPod(pod);
  }
  static std::map<std::string, int64_t> Scores(const std::vector<HostScore>& scores) {
    std::map<std::string, int64_t> out;
    for (const auto& s : scores) out[s.host] = s.score;
    return out;
  }

  std::shared_ptr<partition::SlicePolicy> policy_;
  ClusterCache cache_;
  const std::vector<std::string> names_ = {"n1", "n2", "n3", "ghost"};
};

TEST_F(SchedulerScoreCacheTest, ANodeThatFilledUpFailsTheNextPodOfTheSameShape) {
  Scheduler scheduler(cache_, MakeExtenderPlacementPolicy(*policy_));
  auto first = scheduler.Filter(Intent(GpuPod("a", 1, 40000)), names_);
  EXPECT_EQ(first.passed, (std::vector<std::string>{"n1", "n2"}));

  Place("big", "n1", "GPU-a", 60000);
  auto second = scheduler.Filter(Intent(GpuPod("b", 1, 40000)), names_);
  EXPECT_EQ(second.passed, (std::vector<std::string>{"n2"}));
  ASSERT_TRUE(second.failed.count("n1"));
  EXPECT_NE(second.failed.at("n1").find("40000 MiB"), std::string::npos) << second.failed.at("n1");

  cache_.RemovePod(GpuPod("big", 1, 60000));
  auto third = scheduler.Filter(Intent(GpuPod("c", 1, 40000)), names_);
  EXPECT_EQ(third.passed, (std::vector<std::string>{"n1", "n2"}));
}

TEST_F(SchedulerScoreCacheTest, AnswersLikeASchedulerWithoutMemoAfterEveryChange) {
  Scheduler cached(cache_, MakeExtenderPlacementPolicy(*policy_));
  const std::vector<std::pair<std::string, std::string>> landing = {
      {"n2", "GPU-b"}, {"n1", "GPU-a"}, {"n2", "GPU-c"}, {"n3", "GPU-d"}, {"n2", "GPU-b"}};
  for (size_t step = 0; step <= landing.size(); ++step) {
    // A scheduler made now has an empty memo: it evaluates every node.
    Scheduler fresh(cache_, MakeExtenderPlacementPolicy(*policy_));
    for (int64_t memory : {10000, 25000}) {
      PodIntent pod = Intent(GpuPod("p" + std::to_string(step), 1, memory, 20));
      auto want = fresh.Filter(pod, names_);
      auto got = cached.Filter(pod, names_);
      EXPECT_EQ(got.passed, want.passed) << "step " << step;
      EXPECT_EQ(got.failed, want.failed) << "step " << step;
      EXPECT_EQ(got.unresolvable, want.unresolvable) << "step " << step;
      EXPECT_EQ(Scores(cached.Prioritize(pod, names_)), Scores(fresh.Prioritize(pod, names_)))
          << "step " << step;
    }
    if (step < landing.size()) {
      const auto& [node, chip] = landing[step];
      Place("filler" + std::to_string(step), node, chip, 20000);
    }
  }
}

TEST_F(SchedulerScoreCacheTest, AStoppedHeartbeatFailsTheNodeThoughItsScoreIsKept) {
  auto now = std::chrono::system_clock::now();
  SchedulerOptions options;
  options.now = [&] { return now; };
  Scheduler scheduler(cache_, MakeExtenderPlacementPolicy(*policy_), options);
  PodIntent pod = Intent(GpuPod("p", 1, 1000));
  EXPECT_EQ(scheduler.Filter(pod, {"n1"}).passed, (std::vector<std::string>{"n1"}));
  now += std::chrono::minutes(5);
  auto later = scheduler.Filter(pod, {"n1"});
  EXPECT_TRUE(later.passed.empty());
  ASSERT_TRUE(later.unresolvable.count("n1"));
  EXPECT_NE(later.unresolvable.at("n1").find("heartbeat"), std::string::npos);
  EXPECT_EQ(Scores(scheduler.Prioritize(pod, {"n1"})).at("n1"), 0);
}

TEST_F(SchedulerScoreCacheTest, FilterAfterPrioritizeStillSaysWhyANodeDoesNotFit) {
  Scheduler scheduler(cache_, MakeExtenderPlacementPolicy(*policy_));
  PodIntent pod = Intent(GpuPod("p", 1, 40000));
  scheduler.Prioritize(pod, {"n3"});
  auto out = scheduler.Filter(pod, {"n3"});
  ASSERT_TRUE(out.unresolvable.count("n3"));
  EXPECT_EQ(out.unresolvable.at("n3"),
            "node n3: asks 40000 MiB per chip, more than any chip has (30000 MiB)");
}

TEST_F(SchedulerScoreCacheTest, ANewPolicyObjectScoresAtOnce) {
  const std::vector<std::string> names = {"n1", "n2"};
  Scheduler scheduler(cache_, std::make_shared<TableScorePolicy>(
                                  std::map<std::string, double>{{"n1", 1}, {"n2", 2}}));
  PodIntent pod = Intent(GpuPod("p", 1, 1000));
  EXPECT_LT(Scores(scheduler.Prioritize(pod, names)).at("n1"),
            Scores(scheduler.Prioritize(pod, names)).at("n2"));
  scheduler.SetPlacementPolicy(
      std::make_shared<TableScorePolicy>(std::map<std::string, double>{{"n1", 2}, {"n2", 1}}));
  auto scores = Scores(scheduler.Prioritize(pod, names));
  EXPECT_GT(scores.at("n1"), scores.at("n2"));
}

TEST_F(SchedulerScoreCacheTest, APolicyStateChangeScoresAtOnce) {
  const std::vector<std::string> names = {"n1", "n2"};
  auto table =
      std::make_shared<TableScorePolicy>(std::map<std::string, double>{{"n1", 1}, {"n2", 2}});
  Scheduler scheduler(cache_, table);
  PodIntent pod = Intent(GpuPod("p", 1, 1000));
  auto before = Scores(scheduler.Prioritize(pod, names));
  EXPECT_LT(before.at("n1"), before.at("n2"));
  table->Replace({{"n1", 2}, {"n2", 1}});
  auto after = Scores(scheduler.Prioritize(pod, names));
  EXPECT_GT(after.at("n1"), after.at("n2"));
}

TEST_F(SchedulerScoreCacheTest, UnchangedNodesAreNotEvaluatedAgainForTheSameShape) {
  const std::vector<std::string> names = {"n1", "n2"};
  auto table =
      std::make_shared<TableScorePolicy>(std::map<std::string, double>{{"n1", 1}, {"n2", 2}});
  Scheduler scheduler(cache_, table);
  scheduler.Filter(Intent(GpuPod("a", 1, 1000)), names);
  EXPECT_EQ(table->evaluations, 2);
  scheduler.Filter(Intent(GpuPod("b", 1, 1000)), names);  // another pod, the same shape
  EXPECT_EQ(table->evaluations, 2);
  Place("x", "n2", "GPU-b", 1000);
  scheduler.Filter(Intent(GpuPod("c", 1, 1000)), names);
  EXPECT_EQ(table->evaluations, 3);                       // only n2 changed
  scheduler.Filter(Intent(GpuPod("d", 1, 2000)), names);  // another shape
  EXPECT_EQ(table->evaluations, 5);
}

}  // namespace
}  // namespace flexai::extender
