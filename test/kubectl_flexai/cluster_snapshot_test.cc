#include "kubectl_flexai/cluster_snapshot.h"

#include <gtest/gtest.h>

#include "fixtures.h"

namespace flexai::kubectl {
namespace {

using testing::InventoryChip;
using testing::List;
using testing::Node;
using testing::Pod;

TEST(ClusterSnapshot, PutsEachGrantOnTheChipItNames) {
  auto snapshot = BuildSnapshot(
      List({Node("gpu-1", {InventoryChip(0, "GPU-a", 80000), InventoryChip(1, "GPU-b", 80000)})}),
      List({Pod("team", "p1", {{"flexai.io/gpu", 1}}, "node=gpu-1;cpu=0;mem=0|main=GPU-b:20000:25",
                "Running"),
            Pod("team", "p2", {{"flexai.io/gpu", 2}},
                "node=gpu-1;cpu=0;mem=0|main=GPU-a:80000:100:x,GPU-b:80000:100:x", "Running")}));
  ASSERT_TRUE(snapshot.ok()) << snapshot.error().message;
  const NodeView* node = snapshot->FindNode("gpu-1");
  ASSERT_NE(node, nullptr);
  ASSERT_EQ(node->chips.size(), 2u);
  ASSERT_EQ(node->chips[0].slices.size(), 1u);
  EXPECT_EQ(node->chips[0].slices[0].pod, "team/p2");
  EXPECT_TRUE(node->chips[0].slices[0].exclusive);
  ASSERT_EQ(node->chips[1].slices.size(), 2u);
  EXPECT_EQ(node->chips[1].slices[0].pod, "team/p1");
  EXPECT_EQ(node->chips[1].slices[0].memory_mib, 20000);
  EXPECT_EQ(node->chips[1].slices[0].cores, 25);
  EXPECT_EQ(node->chips[1].allocated_cores(), 125);  // exclusive counts as the whole chip
  EXPECT_TRUE(node->heartbeat.has_value());
}

TEST(ClusterSnapshot, FinishedPodsHoldNoSlices) {
  auto snapshot =
      BuildSnapshot(List({Node("gpu-1", {InventoryChip(0, "GPU-a", 80000)})}),
                    List({Pod("team", "done", {{"flexai.io/gpu", 1}},
                              "node=gpu-1;cpu=0;mem=0|main=GPU-a:100:10", "Succeeded")}));
  ASSERT_TRUE(snapshot.ok());
  EXPECT_TRUE(snapshot->FindNode("gpu-1")->chips[0].slices.empty());
}

TEST(ClusterSnapshot, BadAnnotationsAreReportedPerObjectNotFatal) {
  Json broken = Node("broken", {});
  broken["metadata"]["annotations"]["flexai.io/inventory"] = "{not json";
  auto snapshot =
      BuildSnapshot(List({broken, Node("gpu-1", {InventoryChip(0, "GPU-a", 80000)})}),
                    List({Pod("team", "bad", {{"flexai.io/gpu", 1}}, "node=gpu-1;garbage"),
                          Pod("team", "ghost", {{"flexai.io/gpu", 1}},
                              "node=gpu-1;cpu=0;mem=0|main=GPU-zz:1:1", "Running")}));
  ASSERT_TRUE(snapshot.ok());
  const NodeView* node = snapshot->FindNode("broken");
  EXPECT_TRUE(node->has_inventory);
  EXPECT_FALSE(node->inventory_error.empty());
  EXPECT_FALSE(snapshot->FindPod("team", "bad")->assignment_error.empty());
  EXPECT_FALSE(snapshot->FindPod("team", "bad")->assignment.has_value());
  ASSERT_EQ(snapshot->FindNode("gpu-1")->orphan_grants.size(), 1u);
  EXPECT_EQ(snapshot->FindNode("gpu-1")->orphan_grants[0], "team/ghost/main -> GPU-zz");
}

TEST(ClusterSnapshot, RefusesSomethingThatIsNotAList) {
  auto snapshot = BuildSnapshot(Json{{"kind", "Status"}}, List({}));
  ASSERT_FALSE(snapshot.ok());
  EXPECT_NE(snapshot.error().message.find("node list"), std::string::npos);
  EXPECT_FALSE(BuildSnapshot(List({}), Json{{"items", 3}}).ok());
  EXPECT_TRUE(BuildSnapshot(List({}), Json{{"items", nullptr}}).ok());
}

TEST(ClusterSnapshot, FindsFlexaiPodsByResourceName) {
  auto snapshot = BuildSnapshot(
      List({}), List({Pod("a", "gpu", {{"flexai.io/gpu", 1}}), Pod("a", "cpu", {{"cpu", "1"}})}));
  ASSERT_TRUE(snapshot.ok());
  std::vector<std::string> names = {"flexai.io/gpu"};
  EXPECT_TRUE(RequestsFlexaiResource(*snapshot->FindPod("a", "gpu"), names));
  EXPECT_FALSE(RequestsFlexaiResource(*snapshot->FindPod("a", "cpu"), names));
}

}  // namespace
}  // namespace flexai::kubectl
