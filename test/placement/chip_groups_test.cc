// One pod inside one NVLink island / HCCS ring or NUMA node: the chips come from a single group,
// unknown islands never join, and no group with room means no placement.
#include <gtest/gtest.h>

#include <bit>

#include "partition/placement/chip_groups.h"

namespace flexai::partition {
namespace {

// Eight whole GPUs: islands 0 (chips 0-3) and 1 (chips 4-7); NUMA 0 holds chips 0-5.
NodeState EightGpus(std::vector<int> islands = {0, 0, 0, 0, 1, 1, 1, 1}) {
  std::vector<Chip> chips;
  std::vector<ChipCapacity> caps;
  for (int i = 0; i < 8; ++i) {
    Chip c;
    c.index = i;
    c.uuid = "GPU-" + std::to_string(i);
    c.model = "H100";
    c.memory_mib = 80000;
    c.numa_node = i < 6 ? 0 : 1;
    c.link_group = islands[static_cast<size_t>(i)];
    chips.push_back(c);
    caps.push_back({80000});
  }
  return NodeState("n", {64000, 1 << 20}, std::move(chips), std::move(caps), {});
}

PodRequest Whole(int chips, const std::string& uid = "p") {
  PodRequest r;
  r.uid = uid;
  SliceRequest s;
  s.chips = chips;
  r.containers.push_back({"main", s});
  return r;
}

std::vector<int> InIndexOrder() { return {0, 1, 2, 3, 4, 5, 6, 7}; }

ChipSet Take(NodeState& node, ChipSet chips, const std::string& uid) {
  EXPECT_TRUE(node.Apply(node.MakeAssignment(Whole(std::popcount(chips), uid), {chips})).ok());
  return chips;
}

TEST(ChipGroupsTest, IslandBoundPodStaysInsideOneIsland) {
  NodeState node = EightGpus();
  Take(node, 0b0000'0011, "a");  // island 0 keeps 2 free chips, island 1 has 4
  auto chips = PickChipsInOneGroup(node, Whole(3), InIndexOrder(), {false, true}, true);
  ASSERT_TRUE(chips);
  EXPECT_EQ((*chips)[0], ChipSet{0b0111'0000});
}

TEST(ChipGroupsTest, BinpackPrefersTheBusierIslandThatStillFits) {
  NodeState node = EightGpus();
  Take(node, 0b0000'0001, "a");
  auto chips = PickChipsInOneGroup(node, Whole(2), InIndexOrder(), {false, true}, true);
  ASSERT_TRUE(chips);
  EXPECT_EQ((*chips)[0], ChipSet{0b0000'0110});
}

TEST(ChipGroupsTest, NoIslandWithRoomMeansNoPlacement) {
  NodeState node = EightGpus();
  Take(node, 0b0001'0001, "a");  // 3 free in each island
  EXPECT_FALSE(PickChipsInOneGroup(node, Whole(4), InIndexOrder(), {false, true}, true));
  EXPECT_TRUE(PickChipsInOneGroup(node, Whole(4), InIndexOrder(), {}, true));
}

TEST(ChipGroupsTest, ChipsWithUnknownIslandsAreNeverJoined) {
  NodeState node = EightGpus({-1, -1, -1, -1, -1, -1, -1, -1});
  EXPECT_FALSE(PickChipsInOneGroup(node, Whole(2), InIndexOrder(), {false, true}, true));
  EXPECT_TRUE(PickChipsInOneGroup(node, Whole(1), InIndexOrder(), {false, true}, true));
}

TEST(ChipGroupsTest, NumaAndIslandTogetherNarrowTheGroup) {
  NodeState node = EightGpus();
  // Island 1 spans NUMA 0 (chips 4, 5) and NUMA 1 (chips 6, 7): 4 chips in one group only in
  // island 0.
  Take(node, 0b0000'0001, "a");
  EXPECT_FALSE(PickChipsInOneGroup(node, Whole(4), InIndexOrder(), {true, true}, true));
  auto two = PickChipsInOneGroup(node, Whole(2), InIndexOrder(), {true, true}, false);
  ASSERT_TRUE(two);
  EXPECT_EQ(std::popcount((*two)[0]), 2);
}

}  // namespace
}  // namespace flexai::partition
