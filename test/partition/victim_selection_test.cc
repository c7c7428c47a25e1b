// Victim choice for preemption on hand-built nodes: fewest victims, lowest priorities, budgets
// respected, nothing of equal or higher priority, no answer when eviction cannot make room.
#include "partition/preemption/victim_selection.h"

#include <gtest/gtest.h>

#include "partition/placement/placement_policy.h"

namespace flexai::partition {
namespace {

constexpr int64_t kChipMib = 40000;

NodeState Node(int chips) {
  std::vector<Chip> list;
  std::vector<ChipCapacity> caps;
  for (int i = 0; i < chips; ++i) {
    Chip c;
    c.index = i;
    c.uuid = "GPU-" + std::to_string(i);
    c.memory_mib = kChipMib;
    list.push_back(c);
    ChipCapacity cap;
    cap.memory_mib = kChipMib;
    caps.push_back(cap);
  }
  return NodeState("n1", {64000, 512000}, list, caps);
}

PodRequest Ask(const std::string& uid, int64_t memory_mib, int chips = 1) {
  PodRequest p;
  p.uid = uid;
  SliceRequest slice;
  slice.chips = chips;
  slice.memory_mib = memory_mib;
  p.containers.push_back({"main", slice});
  return p;
}

PodRequest WholeChip(const std::string& uid) {
  PodRequest p;
  p.uid = uid;
  p.containers.push_back({"main", SliceRequest{}});
  return p;
}

// Places `uid` with `memory_mib` on chip `chip` of `node`.
void Place(NodeState& node, const std::string& uid, int64_t memory_mib, int chip) {
  ASSERT_TRUE(node.Apply(node.MakeAssignment(Ask(uid, memory_mib), {ChipSet{1} << chip})).ok());
}

FitCheck FitsFor(const PodRequest& pod) {
  return [pod](const NodeState& node) {
    std::vector<int> order;
    for (int i = 0; i < node.chip_count(); ++i) order.push_back(i);
    return node.HostFits(pod.host) && PickChipsInOrder(node, pod, order).has_value();
  };
}

TEST(SelectVictims, OneLargePodBeatsSeveralSmallOnesOfLowerPriority) {
  // Greedy reprieve alone (kube-scheduler's way) would evict the two priority-1 pods.
  NodeState node = Node(1);
  Place(node, "small-a", 10000, 0);
  Place(node, "small-b", 10000, 0);
  Place(node, "large", 20000, 0);
  std::vector<RunningPod> pods = {{"small-a", 1, {}}, {"small-b", 1, {}}, {"large", 2, {}}};
  auto chosen = SelectVictims(node, 10, pods, {}, FitsFor(Ask("new", 20000)));
  ASSERT_TRUE(chosen.has_value());
  EXPECT_EQ(chosen->uids, std::vector<std::string>({"large"}));
  EXPECT_EQ(chosen->cost.victims, 1);
  EXPECT_EQ(chosen->cost.highest_priority, 2);
}

TEST(SelectVictims, WholeChipIsFreedByEvictingTheChipWithFewestPods) {
  NodeState node = Node(2);
  for (int i = 0; i < 3; ++i) Place(node, "crowd-" + std::to_string(i), 10000, 0);
  Place(node, "alone", 30000, 1);
  std::vector<RunningPod> pods = {
      {"crowd-0", 1, {}}, {"crowd-1", 1, {}}, {"crowd-2", 1, {}}, {"alone", 3, {}}};
  auto chosen = SelectVictims(node, 100, pods, {}, FitsFor(WholeChip("new")));
  ASSERT_TRUE(chosen.has_value());
  EXPECT_EQ(chosen->uids, std::vector<std::string>({"alone"}));
}

TEST(SelectVictims, LowestPriorityPodIsChosenAmongEqualSizes) {
  NodeState node = Node(1);
  Place(node, "important", 20000, 0);
  Place(node, "batch", 20000, 0);
  std::vector<RunningPod> pods = {{"important", 5, {}}, {"batch", 1, {}}};
  auto chosen = SelectVictims(node, 10, pods, {}, FitsFor(Ask("new", 20000)));
  ASSERT_TRUE(chosen.has_value());
  EXPECT_EQ(chosen->uids, std::vector<std::string>({"batch"}));
  EXPECT_EQ(chosen->cost.pdb_violations, 0);
}

TEST(SelectVictims, BudgetProtectedPodIsSparedWhenAnotherChoiceExists) {
  NodeState node = Node(1);
  Place(node, "guarded", 20000, 0);
  Place(node, "free", 20000, 0);
  // Budget 0 covers "guarded" and allows no disruption; "free" has the higher priority.
  std::vector<RunningPod> pods = {{"guarded", 1, {0}}, {"free", 5, {}}};
  auto chosen = SelectVictims(node, 10, pods, {0}, FitsFor(Ask("new", 20000)));
  ASSERT_TRUE(chosen.has_value());
  EXPECT_EQ(chosen->uids, std::vector<std::string>({"free"}));
  EXPECT_EQ(chosen->cost.pdb_violations, 0);
}

TEST(SelectVictims, BudgetIsViolatedOnlyWhenNothingElseMakesRoom) {
  NodeState node = Node(1);
  Place(node, "guarded", 30000, 0);
  Place(node, "free", 10000, 0);
  std::vector<RunningPod> pods = {{"guarded", 1, {0}}, {"free", 5, {}}};
  auto chosen = SelectVictims(node, 10, pods, {0}, FitsFor(Ask("new", 30000)));
  ASSERT_TRUE(chosen.has_value());
  EXPECT_EQ(chosen->uids, std::vector<std::string>({"guarded"}));
  EXPECT_EQ(chosen->cost.pdb_violations, 1);
}

TEST(SelectVictims, BudgetWithRoomForOneChargesTheSecondEviction) {
  std::vector<RunningPod> pods = {{"a", 1, {0}}, {"b", 2, {0}}};
  EXPECT_EQ(CostOf(pods, {0}, {1}).pdb_violations, 0);
  EXPECT_EQ(CostOf(pods, {0, 1}, {1}).pdb_violations, 1);
}

TEST(SelectVictims, PodsOfEqualOrHigherPriorityAreNeverVictims) {
  NodeState node = Node(1);
  Place(node, "peer", 20000, 0);
  Place(node, "boss", 20000, 0);
  std::vector<RunningPod> pods = {{"peer", 10, {}}, {"boss", 50, {}}};
  EXPECT_FALSE(SelectVictims(node, 10, pods, {}, FitsFor(Ask("new", 20000))).has_value());
}

TEST(SelectVictims, NoAnswerWhenEvictingEveryCandidateLeavesTooLittle) {
  NodeState node = Node(1);
  Place(node, "low", 10000, 0);
  Place(node, "high", 25000, 0);
  std::vector<RunningPod> pods = {{"low", 1, {}}, {"high", 100, {}}};
  EXPECT_FALSE(SelectVictims(node, 10, pods, {}, FitsFor(Ask("new", 20000))).has_value());
  EXPECT_FALSE(SelectVictims(node, 1000, pods, {}, FitsFor(Ask("new", 50000))).has_value());
}

TEST(SelectVictims, PodThatFitsAlreadyNeedsNoVictims) {
  NodeState node = Node(1);
  Place(node, "low", 10000, 0);
  std::vector<RunningPod> pods = {{"low", 1, {}}};
  auto chosen = SelectVictims(node, 10, pods, {}, FitsFor(Ask("new", 20000)));
  ASSERT_TRUE(chosen.has_value());
  EXPECT_TRUE(chosen->uids.empty());
}

TEST(SelectVictims, NodeIsLeftAsItCameIn) {
  NodeState node = Node(2);
  Place(node, "a", 30000, 0);
  Place(node, "b", 30000, 1);
  Place(node, "c", 5000, 1);
  std::vector<RunningPod> pods = {{"a", 1, {}}, {"b", 2, {}}, {"c", 3, {}}};
  auto chosen = SelectVictims(node, 10, pods, {}, FitsFor(Ask("new", 35000)));
  ASSERT_TRUE(chosen.has_value());
  EXPECT_EQ(chosen->uids, std::vector<std::string>({"a"}));
  EXPECT_EQ(node.pods().size(), 3u);
  EXPECT_EQ(node.ledger(0).used_memory_mib(), 30000);
  EXPECT_EQ(node.ledger(1).used_memory_mib(), 35000);
}

TEST(SelectVictims, MultiChipPodTakesTheCheapestChipsToClear) {
  // A two-chip pod needs two empty chips: chip 0 holds one priority-1 pod, chip 1 one priority-2
  // pod, chip 2 two priority-1 pods. Fewest victims: chips 0 and 1.
  NodeState node = Node(3);
  Place(node, "c0", 30000, 0);
  Place(node, "c1", 30000, 1);
  Place(node, "c2-a", 20000, 2);
  Place(node, "c2-b", 20000, 2);
  std::vector<RunningPod> pods = {{"c0", 1, {}}, {"c1", 2, {}}, {"c2-a", 1, {}}, {"c2-b", 1, {}}};
  PodRequest two = Ask("new", 0, 2);
  two.containers[0].slice = SliceRequest{};
  two.containers[0].slice.chips = 2;
  auto chosen = SelectVictims(node, 10, pods, {}, FitsFor(two));
  ASSERT_TRUE(chosen.has_value());
  EXPECT_EQ(chosen->uids, std::vector<std::string>({"c0", "c1"}));
}

TEST(SelectVictims, SearchStaysWithinItsFitCheckBudget) {
  NodeState node = Node(1);
  for (int i = 0; i < 8; ++i) Place(node, "p" + std::to_string(i), 5000, 0);
  std::vector<RunningPod> pods;
  for (int i = 0; i < 8; ++i) pods.push_back({"p" + std::to_string(i), i, {}});
  int checks = 0;
  FitCheck fits = FitsFor(Ask("new", 15000));
  auto counted = [&](const NodeState& n) {
    ++checks;
    return fits(n);
  };
  VictimSearchLimits limits;
  limits.max_fit_checks = 5;
  auto chosen = SelectVictims(node, 100, pods, {}, counted, limits);
  ASSERT_TRUE(chosen.has_value());
  EXPECT_EQ(chosen->uids, std::vector<std::string>({"p0", "p1", "p2"}));
  // The greedy pass checks once with everything out and once per pod given back.
  EXPECT_LE(checks, 1 + 8 + limits.max_fit_checks);
}

}  // namespace
}  // namespace flexai::partition
