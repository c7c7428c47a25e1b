// The pending queue's order and the bounded chip hold: one hold at a time, it expires, the same
// pod cannot hold back to back, and the node closest to fitting a multi-chip pod is chosen.
#include <gtest/gtest.h>

#include "partition/queue/chip_hold.h"
#include "partition/queue/pending_queue.h"

namespace flexai::partition {
namespace {

using namespace std::chrono_literals;

const HoldClock::time_point kT0 = HoldClock::time_point{} + 1000h;

PodRequest Whole(int chips) {
  PodRequest r;
  SliceRequest s;
  s.chips = chips;
  r.containers.push_back({"main", s});
  return r;
}

PodRequest Sliced(int64_t memory_mib) {
  PodRequest r;
  SliceRequest s;
  s.memory_mib = memory_mib;
  r.containers.push_back({"main", s});
  return r;
}

NodeState Node(const std::string& name, int chips) {
  std::vector<Chip> list;
  std::vector<ChipCapacity> caps;
  for (int i = 0; i < chips; ++i) {
    Chip c;
    c.index = i;
    c.uuid = name + "-gpu" + std::to_string(i);
    c.model = "H100";
    c.memory_mib = 80000;
    list.push_back(c);
    caps.push_back({80000});
  }
  return NodeState(name, {64000, 1 << 20}, std::move(list), std::move(caps), {});
}

// Takes chip `i` of `node` for a one-chip pod.
void Occupy(NodeState& node, int i, const std::string& uid) {
  PodRequest r = Sliced(1000);
  r.uid = uid;
  ASSERT_TRUE(node.Apply(node.MakeAssignment(r, {ChipSet{1} << i})).ok());
}

TEST(PendingQueueTest, OldestMultiChipPodSkipsSmallPodsAndGangMembers) {
  PendingQueue q;
  q.Upsert({"u1", "ns/small", kT0, Sliced(1000), false});
  q.Upsert({"u2", "ns/gang", kT0 + 1s, Whole(4), true});
  q.Upsert({"u3", "ns/big-late", kT0 + 3s, Whole(2), false});
  q.Upsert({"u4", "ns/big", kT0 + 2s, Whole(4), false});
  ASSERT_TRUE(q.OldestMultiChip());
  EXPECT_EQ(q.OldestMultiChip()->key, "ns/big");
  EXPECT_EQ(q.Oldest(2).front().key, "ns/small");
  q.Remove("u4");
  EXPECT_EQ(q.OldestMultiChip()->key, "ns/big-late");
  EXPECT_EQ(q.size(), 3u);
}

TEST(PendingQueueTest, OnlyWholeChipsCountAsMultiChip) {
  EXPECT_EQ(WholeChipsAsked(Whole(4)), 4);
  PodRequest two_slices = Sliced(1000);
  two_slices.containers[0].slice.chips = 2;
  EXPECT_EQ(WholeChipsAsked(two_slices), 0);
}

TEST(HoldBookTest, OneHoldAtATimeUntilItExpires) {
  HoldBook book(30s);
  auto held = book.Claim({"u1", "ns/big", "n1"}, kT0);
  ASSERT_TRUE(held);
  EXPECT_EQ(held->until, kT0 + 30s);
  EXPECT_FALSE(book.Claim({"u2", "ns/other", "n2"}, kT0 + 1s));
  EXPECT_EQ(book.Claim({"u1", "ns/big", "n1"}, kT0 + 5s)->until, kT0 + 30s);  // not extended
  EXPECT_TRUE(book.Active(kT0 + 29s));
  EXPECT_FALSE(book.Active(kT0 + 30s));
  EXPECT_TRUE(book.Claim({"u2", "ns/other", "n2"}, kT0 + 30s));
}

TEST(HoldBookTest, SamePodMustWaitAHoldLengthBeforeHoldingAgain) {
  HoldBook book(30s);
  ASSERT_TRUE(book.Claim({"u1", "ns/big", "n1"}, kT0));
  EXPECT_FALSE(book.Claim({"u1", "ns/big", "n1"}, kT0 + 31s));
  EXPECT_TRUE(book.Claim({"u1", "ns/big", "n1"}, kT0 + 60s));
}

TEST(HoldBookTest, ReleasedHoldFreesTheNodeAtOnce) {
  HoldBook book(30s);
  ASSERT_TRUE(book.Claim({"u1", "ns/big", "n1"}, kT0));
  book.Release("u2", kT0 + 1s);  // not the holder: nothing happens
  EXPECT_TRUE(book.Active(kT0 + 1s));
  book.Release("u1", kT0 + 1s);
  EXPECT_FALSE(book.Active(kT0 + 1s));
}

TEST(HoldBookTest, ZeroDurationTurnsHoldsOff) {
  HoldBook book(0s);
  EXPECT_FALSE(book.Claim({"u1", "ns/big", "n1"}, kT0));
}

TEST(NodeClosestToFittingTest, PicksTheNodeWithTheMostIdleChipsAmongThoseLargeEnough) {
  NodeState small = Node("small", 2);
  NodeState busy = Node("busy", 4);
  NodeState calmer = Node("calmer", 4);
  Occupy(busy, 0, "p1");
  Occupy(busy, 1, "p2");
  Occupy(busy, 2, "p3");
  Occupy(calmer, 0, "p4");
  int64_t memory = 0;
  auto node = NodeClosestToFitting({&small, &busy, &calmer}, Whole(4), &memory);
  ASSERT_TRUE(node);
  EXPECT_EQ(*node, "calmer");
  EXPECT_EQ(memory, 4 * 80000);
  EXPECT_FALSE(NodeClosestToFitting({&small}, Whole(4), nullptr));
}

}  // namespace
}  // namespace flexai::partition
