#include "kubectl_flexai/explain.h"

#include <gtest/gtest.h>

#include "fixtures.h"

namespace flexai::kubectl {
namespace {

using testing::InventoryChip;
using testing::List;
using testing::Node;
using testing::Pod;

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class ExplainTest : public ::testing::Test {
 protected:
  // gpu-full: one chip, 60% of its compute taken; gpu-sick: one unhealthy chip;
  // gpu-free: two free chips; cpu-only: no device plugin.
  void SetUp() override {
    auto snapshot = BuildSnapshot(
        List(
            {Node("gpu-full", {InventoryChip(0, "GPU-f", 80000)}),
             Node("gpu-sick", {InventoryChip(0, "GPU-s", 80000, "Unhealthy")}),
             Node("gpu-free", {InventoryChip(0, "GPU-1", 80000), InventoryChip(1, "GPU-2", 80000)}),
             Node("cpu-only", {})}),
        List({Pod("team", "busy", {{"flexai.io/gpu", 1}, {"flexai.io/gpu-cores", 60}},
                  "node=gpu-full;cpu=0;mem=0|main=GPU-f:48000:60", "Running"),
              Pod("team", "half", {{"flexai.io/gpu", 1}, {"flexai.io/gpu-cores", 50}}),
              Pod("team", "four", {{"flexai.io/gpu", 4}}),
              Pod("team", "broken", {{"flexai.io/gpu-memory", 1000}}),
              Pod("team", "plain", {{"cpu", "1"}})}));
    ASSERT_TRUE(snapshot.ok());
    snapshot_ = std::move(snapshot).value();
    options_.now = *kube::ParseTime("2026-01-01T00:00:10Z");  // heartbeats are 10 s old
  }

  Explanation Explain(const std::string& name) {
    return ExplainPod(snapshot_, policy_, *snapshot_.FindPod("team", name), options_);
  }
  const NodeVerdict& Verdict(const Explanation& e, const std::string& node) {
    for (const auto& v : e.nodes) {
      if (v.node == node) return v;
    }
    ADD_FAILURE() << "no verdict for " << node;
    return e.nodes.front();
  }

  ClusterSnapshot snapshot_;
  partition::SlicePolicy policy_ = partition::DefaultSlicePolicy();
  ExplainOptions options_;
};

TEST_F(ExplainTest, GivesTheSchedulersVerdictForEveryNode) {
  Explanation e = Explain("half");
  ASSERT_EQ(e.nodes.size(), 4u);
  EXPECT_TRUE(Verdict(e, "gpu-free").fits);
  EXPECT_FALSE(Verdict(e, "gpu-full").fits);
  EXPECT_FALSE(Verdict(e, "gpu-full").unresolvable) << "room comes back when busy leaves";
  EXPECT_FALSE(Verdict(e, "gpu-sick").fits);
  EXPECT_TRUE(Verdict(e, "gpu-sick").unresolvable);
  EXPECT_FALSE(Verdict(e, "cpu-only").fits);
  EXPECT_TRUE(Verdict(e, "cpu-only").unresolvable);
  const std::string text = RenderExplanation(e);
  EXPECT_TRUE(Contains(text,
                       "asks  main: 1 chip (nvidia), each memory in proportion and 50% "
                       "compute"))
      << text;
  EXPECT_TRUE(Contains(text, "fits  gpu-free  (score ")) << text;
  EXPECT_TRUE(Contains(text, "no    gpu-full: ")) << text;
  EXPECT_TRUE(Contains(text, "[may fit once other pods leave]")) << text;
  EXPECT_TRUE(Contains(e.summary, "it fits 1 node, best gpu-free")) << e.summary;
}

TEST_F(ExplainTest, SaysNoNodeHasEnoughChips) {
  Explanation e = Explain("four");
  EXPECT_EQ(e.summary, "it fits no node now");
  EXPECT_TRUE(Contains(Verdict(e, "gpu-free").reason, "4")) << Verdict(e, "gpu-free").reason;
}

TEST_F(ExplainTest, StaleHeartbeatsMakeNodesUnusable) {
  options_.now = *kube::ParseTime("2026-01-01T01:00:00Z");
  Explanation e = Explain("half");
  EXPECT_EQ(e.summary, "it fits no node now");
  EXPECT_TRUE(Contains(Verdict(e, "gpu-free").reason, "heartbeat"))
      << Verdict(e, "gpu-free").reason;
}

TEST_F(ExplainTest, ReportsAnInvalidRequestInsteadOfJudgingNodes) {
  Explanation e = Explain("broken");
  EXPECT_TRUE(e.nodes.empty());
  EXPECT_TRUE(Contains(e.summary, "the request is invalid")) << e.summary;
  EXPECT_TRUE(Contains(e.summary, "flexai.io/gpu")) << e.summary;
}

TEST_F(ExplainTest, LeavesPodsWithoutFlexaiResourcesAlone) {
  Explanation e = Explain("plain");
  EXPECT_TRUE(e.nodes.empty());
  EXPECT_TRUE(Contains(e.summary, "asks for no flexai resource"));
}

TEST_F(ExplainTest, APlacedPodIsNotCountedAgainstItself) {
  Explanation e = Explain("busy");
  EXPECT_TRUE(Contains(RenderExplanation(e), "already assigned to node gpu-full"));
  EXPECT_TRUE(Verdict(e, "gpu-full").fits) << RenderExplanation(e);
}

TEST_F(ExplainTest, NotesAPodMeantForAnotherScheduler) {
  Json object = snapshot_.FindPod("team", "half")->object;
  object["spec"]["schedulerName"] = "default-scheduler";
  auto snapshot = BuildSnapshot(List({}), List({object}));
  ASSERT_TRUE(snapshot.ok());
  Explanation e = ExplainPod(*snapshot, policy_, snapshot->pods[0], options_);
  EXPECT_TRUE(Contains(RenderExplanation(e), "schedulerName is default-scheduler"))
      << RenderExplanation(e);
  EXPECT_EQ(e.summary, "there are no nodes");
}

}  // namespace
}  // namespace flexai::kubectl
