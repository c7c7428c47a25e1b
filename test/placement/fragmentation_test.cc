#include "partition/placement/fragmentation.h"

#include <gtest/gtest.h>

#include "partition/placement/fgd_policy.h"
#include "partition/placement/typical_workload.h"

namespace flexai::partition {
namespace {

// Worked example: two GPUs with 1000 and 300 milli free, 8 cores free, model T4.
// Typical tasks: A = 500-milli share with 4 cores (p 0.5), B = one whole GPU with 2 cores (p 0.3),
// C = CPU-only with 1 core (p 0.2).
//   A fits (GPU 0 has room): fragmented = GPUs too small for A = 300
//   B fits (GPU 0 is whole): fragmented = 300
//   C uses no GPU: all idle GPU = 1300
//   frag = 0.5*300 + 0.3*300 + 0.2*1300 = 500
TypicalWorkload Workload(const std::string& spec_a = "") {
  return {{{{4000, 500, 1, spec_a}, 0.5}, {{2000, 1000, 1, ""}, 0.3}, {{1000, 0, 0, ""}, 0.2}}};
}

TEST(Fragmentation, MatchesTheWorkedExample) {
  GpuNodeView node{8000, "T4", {1000, 300}};
  EXPECT_DOUBLE_EQ(NodeFragmentation(node, Workload()), 500.0);
}

TEST(Fragmentation, TaskLackingCpuCountsAllIdleGpu) {
  GpuNodeView node{3000, "T4", {1000, 300}};  // A (4 cores) no longer fits
  EXPECT_EQ(TaskFragmentation(node, {4000, 500, 1, ""}), 1300);
  EXPECT_DOUBLE_EQ(NodeFragmentation(node, Workload()), 0.5 * 1300 + 0.3 * 300 + 0.2 * 1300);
}

TEST(Fragmentation, TaskLackingMemoryCountsAllIdleGpuOnlyWhenMemoryIsMeasured) {
  GpuNodeView node{8000, "T4", {1000, 300}, 4096};
  TaskShape big_memory{4000, 500, 1, "", 8192};
  EXPECT_EQ(TaskFragmentation(node, big_memory), 300);  // FGD's definition: CPU only
  EXPECT_EQ(TaskFragmentation(node, big_memory, true), 1300);
  node.memory_left_mib = 8192;
  EXPECT_EQ(TaskFragmentation(node, big_memory, true), 300);
}

TEST(Fragmentation, MemoryAwareCacheTellsNodesApartByMemoryLeft) {
  TypicalWorkload w{{{{2000, 1000, 1, "", 49152}, 1.0}}};
  FragmentationCache fgd(w), with_memory(w, true);
  GpuNodeView roomy{96000, "G2", {1000, 1000}, 393216}, tight = roomy;
  tight.memory_left_mib = 40000;  // below the typical task's 48 GiB
  EXPECT_DOUBLE_EQ(fgd.Of(roomy), fgd.Of(tight));
  EXPECT_DOUBLE_EQ(with_memory.Of(roomy), 0);
  EXPECT_DOUBLE_EQ(with_memory.Of(tight), 2000);
}

TEST(Fragmentation, WrongModelCountsAllIdleGpu) {
  GpuNodeView node{8000, "T4", {1000, 300}};
  EXPECT_EQ(TaskFragmentation(node, {4000, 500, 1, "V100M16|V100M32"}), 1300);
  EXPECT_EQ(TaskFragmentation(node, {4000, 500, 1, "V100M16|T4"}), 300);
}

TEST(Fragmentation, MultiGpuTaskNeedsEnoughRoomyGpus) {
  GpuNodeView node{64000, "G2", {1000, 1000, 1000, 400}};
  EXPECT_EQ(TaskFragmentation(node, {1000, 1000, 2, ""}), 400);   // fits; the 400 is stranded
  EXPECT_EQ(TaskFragmentation(node, {1000, 1000, 4, ""}), 3400);  // cannot fit: all idle
}

TEST(TypicalWorkload, KeepsTheMostFrequentShapesCoveringTheShare) {
  std::vector<TaskShape> observed;
  for (int i = 0; i < 60; ++i) observed.push_back({1000, 500, 1, ""});
  for (int i = 0; i < 30; ++i) observed.push_back({2000, 1000, 1, ""});
  for (int i = 0; i < 6; ++i) observed.push_back({0, 0, 0, ""});
  for (int i = 0; i < 4; ++i) observed.push_back({9000, 1000, 8, ""});
  TypicalWorkload w = BuildTypicalWorkload(observed, 0.95);
  // 60 + 30 = 90 < 95, + 6 = 96 >= 95: three shapes, renormalised over 96.
  ASSERT_EQ(w.tasks.size(), 3u);
  EXPECT_EQ(w.tasks[0].shape.gpu_milli, 500);
  EXPECT_DOUBLE_EQ(w.tasks[0].popularity, 60.0 / 96);
  EXPECT_DOUBLE_EQ(w.tasks[2].popularity, 6.0 / 96);
}

TEST(TypicalWorkload, MemoryIsTheGroupMedianAndDoesNotSplitShapes) {
  std::vector<TaskShape> observed = {{1000, 500, 1, "", 100},
                                     {1000, 500, 1, "", 900},
                                     {1000, 500, 1, "", 300},
                                     {2000, 1000, 1, "", 7}};
  TypicalWorkload w = BuildTypicalWorkload(observed, 1.0);
  ASSERT_EQ(w.tasks.size(), 2u);
  EXPECT_EQ(w.tasks[0].shape.gpu_milli, 500);
  EXPECT_DOUBLE_EQ(w.tasks[0].popularity, 0.75);
  EXPECT_EQ(w.tasks[0].shape.memory_mib, 300);
  EXPECT_EQ(w.tasks[1].shape.memory_mib, 7);
}

TEST(TypicalWorkload, ModelAllowedFollowsTheSpecList) {
  EXPECT_TRUE(ModelAllowed("", "T4"));
  EXPECT_TRUE(ModelAllowed("V100M16|T4", "T4"));
  EXPECT_FALSE(ModelAllowed("V100M16|V100M32", "T4"));
  EXPECT_TRUE(ModelAllowed("||", "T4"));
}

}  // namespace
}  // namespace flexai::partition
