#include "kubectl_flexai/pod_table.h"

#include <gtest/gtest.h>

#include "fixtures.h"

namespace flexai::kubectl {
namespace {

using testing::InventoryChip;
using testing::List;
using testing::Node;
using testing::Pod;

const std::vector<std::string> kNames = {"flexai.io/gpu", "flexai.io/gpu-cores"};

TEST(FormatTable, PadsColumnsToTheirWidestCell) {
  EXPECT_EQ(FormatTable({{"A", "BB"}, {"CCC", "D"}}), "A    BB\nCCC  D\n");
}

TEST(RenderPods, ListsEachGrantAndPodsStillWaiting) {
  auto snapshot = BuildSnapshot(
      List({Node("gpu-1", {InventoryChip(0, "GPU-a", 80000), InventoryChip(1, "GPU-b", 80000)})}),
      List({Pod("team", "quarter", {{"flexai.io/gpu", 1}},
                "node=gpu-1;cpu=0;mem=0|main=GPU-b:20000:25", "Running"),
            Pod("team", "waiting", {{"flexai.io/gpu", 1}, {"flexai.io/gpu-cores", 50}}),
            Pod("team", "plain", {{"cpu", "1"}}, "", "Running"),
            Pod("other", "whole", {{"flexai.io/gpu", 1}},
                "node=gpu-1;cpu=0;mem=0|main=GPU-a:80000:100:x", "Running")}));
  ASSERT_TRUE(snapshot.ok());
  EXPECT_EQ(
      RenderPods(*snapshot, kNames, "team"),
      "NAMESPACE  POD      NODE   PHASE    BIND     CONTAINER  CHIP                MEMORY   CORES\n"
      "team       quarter  gpu-1  Running  success  main       #1 GPU-b            20000Mi  25%\n"
      "team       waiting  -      Pending  -        -          (not assigned yet)  -        -\n");
  const std::string all = RenderPods(*snapshot, kNames, "");
  EXPECT_NE(all.find("other      whole    gpu-1  Running  success  main       #0 GPU-a"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("whole    100%"), std::string::npos) << all;
}

TEST(RenderPods, SaysSoWhenThereAreNone) {
  auto snapshot = BuildSnapshot(List({}), List({}));
  ASSERT_TRUE(snapshot.ok());
  EXPECT_EQ(RenderPods(*snapshot, kNames, "team"), "No flexai pods in namespace team\n");
}

}  // namespace
}  // namespace flexai::kubectl
