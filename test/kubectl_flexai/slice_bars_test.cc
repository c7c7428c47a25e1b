#include "kubectl_flexai/slice_bars.h"

#include <gtest/gtest.h>

#include "fixtures.h"

namespace flexai::kubectl {
namespace {

using testing::InventoryChip;
using testing::List;
using testing::Node;
using testing::Pod;

TEST(DrawBar, SplitsTheBarInProportionAndLeavesFreeCellsDotted) {
  EXPECT_EQ(DrawBar({{'A', 50}, {'B', 25}}, 100, 8), "AAAABB..");
  EXPECT_EQ(DrawBar({}, 100, 4), "....");
  EXPECT_EQ(DrawBar({{'A', 100}}, 100, 4), "AAAA");
}

TEST(DrawBar, KeepsTinySlicesVisibleAndMarksOversubscription) {
  EXPECT_EQ(DrawBar({{'A', 1}}, 1000, 10), "A.........");
  EXPECT_EQ(DrawBar({{'A', 100}, {'B', 100}}, 100, 10), "AAAAABBBB!");
  EXPECT_EQ(DrawBar({{'A', 10}}, 0, 3), "...");  // no capacity known: nothing to scale by
}

TEST(OwnerLetter, RunsThroughUpperThenLowerCase) {
  EXPECT_EQ(OwnerLetter(0), 'A');
  EXPECT_EQ(OwnerLetter(25), 'Z');
  EXPECT_EQ(OwnerLetter(26), 'a');
  EXPECT_EQ(OwnerLetter(60), '#');
}

TEST(RenderNodes, DrawsEachChipsSlicesWithALegendOfOwnerPods) {
  auto snapshot = BuildSnapshot(
      List({Node("gpu-1",
                 {InventoryChip(0, "GPU-a", 80000), InventoryChip(1, "GPU-b", 80000, "Unhealthy")}),
            Node("cpu-only", {})}),
      List({Pod("team", "shared-a", {}, "node=gpu-1;cpu=0;mem=0|main=GPU-a:40000:50", "Running"),
            Pod("team", "shared-b", {}, "node=gpu-1;cpu=0;mem=0|main=GPU-a:20000:25", "Running")}));
  ASSERT_TRUE(snapshot.ok());
  BarOptions options;
  options.width = 8;
  EXPECT_EQ(RenderNodes(*snapshot, options),
            "NODE gpu-1  2 chips, 1 unhealthy\n"
            "  #0 H100 GPU-a\n"
            "     mem   [AAAABB..] 60000/80000 MiB\n"
            "     cores [AAAABB..] 75/100%  2 slices\n"
            "  #1 H100 GPU-b  UNHEALTHY\n"
            "     mem   [........] 0/80000 MiB\n"
            "     cores [........] 0/100%  0 slices\n"
            "  A team/shared-a (main)\n"
            "  B team/shared-b (main)\n");
}

TEST(RenderNodes, ShowsWhatTheSlicesReallyUseUnderTheirAllocation) {
  Json node = Node("gpu-1", {InventoryChip(0, "GPU-a", 80000), InventoryChip(1, "GPU-b", 80000)});
  node["metadata"]["annotations"]["flexai.io/live-usage"] =
      R"({"version":1,"sampledAt":"2026-01-01T00:00:00Z","chips":[)"
      R"({"index":0,"uuid":"GPU-a","memoryUsedMiB":31000,"computeUsedPercent":42.5},)"
      R"({"index":1,"uuid":"GPU-b","memoryUsedMiB":0,"computeUsedPercent":0}]})";
  Json broken = Node("gpu-2", {InventoryChip(0, "GPU-c", 80000)});
  broken["metadata"]["annotations"]["flexai.io/live-usage"] = "{not json";
  auto snapshot = BuildSnapshot(
      List({node, broken}),
      List({Pod("team", "shared-a", {}, "node=gpu-1;cpu=0;mem=0|main=GPU-a:40000:50", "Running")}));
  ASSERT_TRUE(snapshot.ok());
  BarOptions options;
  options.width = 8;
  std::string text = RenderNodes(*snapshot, options);
  EXPECT_NE(text.find("     cores [AAAA....] 50/100%  1 slice\n"
                      "     used  31000 MiB, 42.5% compute (live)\n"
                      "  #1 H100 GPU-b\n"),
            std::string::npos)
      << text;
  // GPU-b is idle and holds no slice: no line for it.
  EXPECT_EQ(text.find("used  0 MiB"), std::string::npos) << text;
  EXPECT_NE(text.find("  ! live usage unreadable: "), std::string::npos) << text;
}

TEST(RenderNodes, SaysSoWhenNoNodePublishesChips) {
  auto snapshot = BuildSnapshot(List({Node("cpu-only", {})}), List({}));
  ASSERT_TRUE(snapshot.ok());
  EXPECT_NE(RenderNodes(*snapshot, {}).find("No node publishes a flexai inventory"),
            std::string::npos);
  BarOptions all;
  all.only_with_chips = false;
  EXPECT_NE(RenderNodes(*snapshot, all).find("NODE cpu-only  (no flexai inventory"),
            std::string::npos);
}

TEST(RenderNodes, ShowsHeartbeatAgeWhenGivenTheTime) {
  auto snapshot =
      BuildSnapshot(List({Node("gpu-1", {InventoryChip(0, "GPU-a", 80000)})}), List({}));
  ASSERT_TRUE(snapshot.ok());
  BarOptions options;
  options.now = *kube::ParseTime("2026-01-01T00:00:42Z");
  EXPECT_NE(RenderNodes(*snapshot, options).find("heartbeat 42s ago"), std::string::npos);
}

}  // namespace
}  // namespace flexai::kubectl
