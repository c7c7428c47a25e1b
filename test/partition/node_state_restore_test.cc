// Pods already placed keep their slices when the node's capacity shrinks under them (a policy
// reserving more memory, a smaller allocatable, a vanished chip): Restore records what they hold
// without checking room, the node becomes over-full, and no new slice fits there until it drains.
#include <gtest/gtest.h>

#include "partition/chip_ledger.h"
#include "partition/node_state.h"

namespace flexai::partition {
namespace {

// A node with `chips` chips of 16384 MiB, each handing out `usable_mib`.
NodeState Node(int chips, int64_t usable_mib, HostResources host = {32000, 64000}) {
  std::vector<Chip> list;
  std::vector<ChipCapacity> caps;
  for (int i = 0; i < chips; ++i) {
    Chip c;
    c.index = i;
    c.uuid = "GPU-t-" + std::to_string(i);
    c.memory_mib = 16384;
    list.push_back(c);
    ChipCapacity cap;
    cap.memory_mib = usable_mib;
    caps.push_back(cap);
  }
  return NodeState("n1", host, list, caps);
}

PodRequest Pod(const std::string& uid, int chips, int64_t mem, HostResources host = {}) {
  PodRequest p;
  p.uid = uid;
  p.host = host;
  SliceRequest slice;
  slice.chips = chips;
  slice.memory_mib = mem;
  slice.cores = 10;
  p.containers.push_back({"main", slice});
  return p;
}

SliceRequest Ask(int64_t mem) {
  SliceRequest slice;
  slice.memory_mib = mem;
  return slice;
}

TEST(ChipLedgerRestore, RecordsPastCapacityAndRefusesNewSlicesUntilDrained) {
  ChipCapacity cap;
  cap.memory_mib = 14384;
  ChipLedger ledger(cap);
  ASSERT_TRUE(ledger.Restore({"p1", "main"}, {15000, 10, false}).ok());
  EXPECT_EQ(ledger.used_memory_mib(), 15000);
  EXPECT_TRUE(ledger.over_full());
  EXPECT_EQ(ledger.free_memory_mib(), 0);  // never negative
  EXPECT_FALSE(ledger.CanFit({0, 0, false}));
  EXPECT_FALSE(ledger.Allocate({"p2", "main"}, {1, 1, false}).ok());
  ASSERT_TRUE(ledger.Restore({"p1", "main"}, {15000, 10, false}).ok());  // idempotent
  EXPECT_EQ(ledger.slices().size(), 1u);
  ASSERT_TRUE(ledger.Release({"p1", "main"}));
  EXPECT_TRUE(ledger.Allocate({"p2", "main"}, {13000, 10, false}).ok());
}

// Repro: a policy reload reserving 2000 MiB per chip made a running 15000 MiB pod "not fit" on
// rebuild; its slice was forgotten and a 13000 MiB pod was then placed on the same 16384 MiB chip.
TEST(NodeStateRestore, RebuildKeepsPlacedPodsWhenCapacityShrinks) {
  NodeState before = Node(2, 16384);
  PodAssignment p1 = before.MakeAssignment(Pod("p1", 1, 15000), {ChipSet{0b01}});
  PodAssignment p2 = before.MakeAssignment(Pod("p2", 1, 4000), {ChipSet{0b10}});
  NodeState after = Node(2, 14384);
  std::vector<Error> warnings = after.Rebuild({p1, p2});
  EXPECT_EQ(after.pods().size(), 2u);
  EXPECT_EQ(after.ledger(0).used_memory_mib() + after.ledger(1).used_memory_mib(), 19000);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].message.find("GPU-t-0"), std::string::npos) << warnings[0].message;
  EXPECT_NE(warnings[0].message.find("over-full"), std::string::npos) << warnings[0].message;
  // Chip 0 takes nothing new; chip 1 still has room.
  EXPECT_EQ(after.FeasibleChips(Ask(13000)), ChipSet{0});
  EXPECT_EQ(after.FeasibleChips(Ask(1000)), ChipSet{0b10});
  EXPECT_FALSE(after.Apply(after.MakeAssignment(Pod("p3", 1, 13000), {ChipSet{0b01}})).ok());
  // Once the pod ends the chip is usable again.
  EXPECT_TRUE(after.Release("p1"));
  EXPECT_EQ(after.FeasibleChips(Ask(13000)), ChipSet{0b01});
}

// Reservations not bound yet are only applied where they still fit.
TEST(NodeStateRestore, RebuildDropsTentativeAssignmentsThatNoLongerFit) {
  NodeState node = Node(1, 16384);
  PodAssignment placed = node.MakeAssignment(Pod("placed", 1, 12000), {ChipSet{1}});
  PodAssignment reserved = node.MakeAssignment(Pod("reserved", 1, 8000), {ChipSet{1}});
  std::vector<Error> warnings = node.Rebuild({placed}, {reserved});
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].message.find("reserved"), std::string::npos) << warnings[0].message;
  EXPECT_EQ(node.ledger(0).used_memory_mib(), 12000);
  EXPECT_EQ(node.pods().count("reserved"), 0u);
}

// Repro: a pod with 1000 MiB on each of 4 chips lost all of them when the inventory lost chip 3.
TEST(NodeStateRestore, AVanishedChipDropsOnlyTheSlicesOnIt) {
  NodeState four = Node(4, 16384);
  PodAssignment a = four.MakeAssignment(Pod("p1", 4, 1000), {ChipSet{0b1111}});
  NodeState three = Node(3, 16384);
  std::vector<Error> warnings = three.Rebuild({a});
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].message.find("GPU-t-3"), std::string::npos) << warnings[0].message;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(three.ledger(i).used_memory_mib(), 1000) << i;
  ASSERT_EQ(three.pods().count("p1"), 1u);
  EXPECT_TRUE(three.Release("p1"));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(three.ledger(i).empty()) << i;
}

TEST(NodeStateRestore, SmallerAllocatableLeavesHostOverFullNotPodsForgotten) {
  NodeState node = Node(1, 16384, {2000, 4000});
  PodAssignment a = node.MakeAssignment(Pod("p1", 1, 1000, {3000, 1000}), {ChipSet{1}});
  std::vector<Error> warnings = node.Rebuild({a});
  EXPECT_EQ(node.pods().count("p1"), 1u);
  EXPECT_EQ(node.host_used().cpu_milli, 3000);
  EXPECT_EQ(node.host_free().cpu_milli, 0);
  EXPECT_FALSE(node.HostFits({0, 0}));
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].message.find("host"), std::string::npos) << warnings[0].message;
}

TEST(NodeStateRestore, ADifferentAssignmentForTheSamePodIsRefused) {
  NodeState node = Node(2, 16384);
  ASSERT_TRUE(node.Restore(node.MakeAssignment(Pod("p1", 1, 1000), {ChipSet{1}})).empty());
  EXPECT_TRUE(node.Restore(node.MakeAssignment(Pod("p1", 1, 1000), {ChipSet{1}})).empty());
  EXPECT_EQ(node.Restore(node.MakeAssignment(Pod("p1", 1, 1000), {ChipSet{2}})).size(), 1u);
  EXPECT_EQ(node.ledger(0).used_memory_mib(), 1000);
  EXPECT_TRUE(node.ledger(1).empty());
}

}  // namespace
}  // namespace flexai::partition
