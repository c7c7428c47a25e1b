#include "partition/node_state.h"

#include <gtest/gtest.h>

namespace flexai::partition {
namespace {

NodeState FourChipNode() {
  std::vector<Chip> chips;
  std::vector<ChipCapacity> caps;
  for (int i = 0; i < 4; ++i) {
    Chip c;
    c.index = i;
    c.uuid = "GPU-" + std::to_string(i);
    c.model = i < 2 ? "A100" : "T4";
    c.memory_mib = 16000;
    chips.push_back(c);
    ChipCapacity cap;
    cap.memory_mib = 16000;
    caps.push_back(cap);
  }
  return NodeState("n1", {32000, 64000}, chips, caps);
}

PodRequest Pod(const std::string& uid, int chips, int64_t mem, int cores) {
  PodRequest p;
  p.uid = uid;
  p.host = {1000, 1000};
  SliceRequest slice;
  slice.chips = chips;
  slice.memory_mib = mem;
  slice.cores = cores;
  p.containers.push_back({"main", slice});
  return p;
}

TEST(NodeState, ApplyTakesSlicesAndHostResources) {
  NodeState node = FourChipNode();
  PodRequest pod = Pod("p1", 1, 4000, 25);
  ASSERT_TRUE(node.Apply(node.MakeAssignment(pod, {ChipSet{1}})).ok());
  EXPECT_EQ(node.ledger(0).used_memory_mib(), 4000);
  EXPECT_EQ(node.ledger(0).used_cores(), 25);
  EXPECT_EQ(node.host_used().cpu_milli, 1000);
}

TEST(NodeState, ReapplyingTheSameAssignmentIsANoOp) {
  NodeState node = FourChipNode();
  PodRequest pod = Pod("p1", 2, 4000, 25);
  PodAssignment a = node.MakeAssignment(pod, {ChipSet{0b11}});
  ASSERT_TRUE(node.Apply(a).ok());
  ASSERT_TRUE(node.Apply(a).ok());
  EXPECT_EQ(node.ledger(1).used_memory_mib(), 4000);
  EXPECT_EQ(node.host_used().cpu_milli, 1000);
}

TEST(NodeState, FailedApplyLeavesNothingBehind) {
  NodeState node = FourChipNode();
  ASSERT_TRUE(node.Apply(node.MakeAssignment(Pod("big", 1, 15000, 10), {ChipSet{0b10}})).ok());
  // Two chips, the second of which is too full: the first must not keep a slice.
  PodAssignment a = node.MakeAssignment(Pod("p2", 2, 4000, 10), {ChipSet{0b11}});
  Status s = node.Apply(a);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("GPU-1"), std::string::npos) << s.message();
  EXPECT_TRUE(node.ledger(0).empty());
  EXPECT_EQ(node.host_used().cpu_milli, 1000);
  EXPECT_EQ(node.pods().count("p2"), 0u);
}

TEST(NodeState, ReleaseFreesEverythingAndIsIdempotent) {
  NodeState node = FourChipNode();
  ASSERT_TRUE(node.Apply(node.MakeAssignment(Pod("p1", 2, 4000, 25), {ChipSet{0b1100}})).ok());
  EXPECT_TRUE(node.Release("p1"));
  EXPECT_FALSE(node.Release("p1"));
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(node.ledger(i).empty());
  EXPECT_EQ(node.host_used().cpu_milli, 0);
}

TEST(NodeState, FeasibleChipsHonourModelsUuidsHealthAndRoom) {
  NodeState node = FourChipNode();
  SliceRequest req;
  req.memory_mib = 8000;
  req.cores = 50;
  req.allowed_models = {"T4"};
  req.excluded_uuids = {"GPU-3"};
  EXPECT_EQ(node.FeasibleChips(req), ChipSet{0b0100});
  ASSERT_TRUE(node.SetHealth("GPU-2", Health::kUnhealthy).ok());
  EXPECT_EQ(node.FeasibleChips(req), ChipSet{0});
  EXPECT_FALSE(node.SetHealth("GPU-9", Health::kUnhealthy).ok());
}

TEST(NodeState, ExclusiveRequestNeedsEmptyChips) {
  NodeState node = FourChipNode();
  ASSERT_TRUE(node.Apply(node.MakeAssignment(Pod("small", 1, 100, 5), {ChipSet{1}})).ok());
  SliceRequest whole;
  whole.chips = 1;
  EXPECT_EQ(node.FeasibleChips(whole), ChipSet{0b1110});
}

TEST(NodeState, RebuildRestoresLedgersFromAssignments) {
  NodeState node = FourChipNode();
  PodAssignment a = node.MakeAssignment(Pod("p1", 1, 4000, 25), {ChipSet{0b1000}});
  PodAssignment b = node.MakeAssignment(Pod("p2", 1, 4000, 25), {ChipSet{0b1000}});
  NodeState restarted = FourChipNode();
  std::vector<Error> errors = restarted.Rebuild({a, b});
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(restarted.ledger(3).used_cores(), 50);
  EXPECT_EQ(restarted.pods().size(), 2u);
  // Rebuilding again from a shorter list forgets what is gone.
  errors = restarted.Rebuild({a});
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(restarted.ledger(3).used_cores(), 25);
}

TEST(NodeState, RebuildReportsTentativeAssignmentsThatNoLongerFit) {
  NodeState node = FourChipNode();
  PodAssignment a = node.MakeAssignment(Pod("p1", 1, 12000, 60), {ChipSet{1}});
  PodAssignment b = node.MakeAssignment(Pod("p2", 1, 12000, 60), {ChipSet{1}});
  std::vector<Error> errors = node.Rebuild({}, {a, b});
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].message.find("p2"), std::string::npos);
  EXPECT_EQ(node.ledger(0).used_cores(), 60);
}

}  // namespace
}  // namespace flexai::partition
