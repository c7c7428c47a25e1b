// The cluster cache: chips from the inventory annotation, slices from pod assignment annotations
// (in any arrival order), freed at once when a pod ends or is deleted.
#include <gtest/gtest.h>

#include "extender/cluster_cache.h"
#include "partition/assignment_codec.h"
#include "test_objects.h"

namespace flexai::extender {
namespace {

using testing::GpuPod;
using testing::Json;
using testing::NodeWithChips;

Json Assigned(const std::string& name, const std::string& assignment) {
  Json pod = GpuPod(name, 1, 10000);
  pod["metadata"]["annotations"]["flexai.io/assignment"] = assignment;
  pod["spec"]["nodeName"] = "n1";
  pod["status"]["phase"] = "Running";
  return pod;
}

int64_t UsedMemory(const ClusterCache& cache, const std::string& node, int chip) {
  int64_t used = -1;
  cache.Read([&](const auto& nodes) {
    auto it = nodes.find(node);
    if (it != nodes.end()) used = it->second.state.ledger(chip).used_memory_mib();
  });
  return used;
}

class ClusterCacheTest : public ::testing::Test {
 protected:
  ClusterCache cache_{std::make_shared<partition::SlicePolicy>(partition::DefaultSlicePolicy())};
};

TEST_F(ClusterCacheTest, RebuildsSlicesFromAssignmentAnnotations) {
  cache_.ReplaceNodes({NodeWithChips("n1", {{"GPU-a"}, {"GPU-b"}})});
  cache_.ReplacePods({Assigned("p", "node=n1;cpu=0;mem=0|main=GPU-b:10000:0")});
  EXPECT_EQ(UsedMemory(cache_, "n1", 0), 0);
  EXPECT_EQ(UsedMemory(cache_, "n1", 1), 10000);
  EXPECT_EQ(cache_.stats().pods_with_slices, 1u);
}

TEST_F(ClusterCacheTest, PodsSeenBeforeTheirNodeAreAppliedWhenItArrives) {
  cache_.ReplacePods({Assigned("p", "node=n1;cpu=0;mem=0|main=GPU-a:10000:0")});
  cache_.ReplaceNodes({NodeWithChips("n1", {{"GPU-a"}})});
  EXPECT_EQ(UsedMemory(cache_, "n1", 0), 10000);
}

TEST_F(ClusterCacheTest, FinishedOrDeletedPodsFreeTheirSlicesAtOnce) {
  cache_.ReplaceNodes({NodeWithChips("n1", {{"GPU-a"}})});
  Json done = Assigned("done", "node=n1;cpu=0;mem=0|main=GPU-a:10000:0");
  Json gone = Assigned("gone", "node=n1;cpu=0;mem=0|main=GPU-a:5000:0");
  cache_.ReplacePods({done, gone});
  EXPECT_EQ(UsedMemory(cache_, "n1", 0), 15000);
  done["status"]["phase"] = "Succeeded";
  cache_.UpsertPod(done);
  EXPECT_EQ(UsedMemory(cache_, "n1", 0), 5000);
  cache_.RemovePod(gone);
  EXPECT_EQ(UsedMemory(cache_, "n1", 0), 0);
}

TEST_F(ClusterCacheTest, RelistDropsPodsThatVanishedMeanwhile) {
  cache_.ReplaceNodes({NodeWithChips("n1", {{"GPU-a"}})});
  cache_.ReplacePods({Assigned("p", "node=n1;cpu=0;mem=0|main=GPU-a:10000:0")});
  cache_.ReplacePods({});
  EXPECT_EQ(UsedMemory(cache_, "n1", 0), 0);
}

TEST_F(ClusterCacheTest, InventoryChangesKeepExistingSlices) {
  cache_.ReplaceNodes({NodeWithChips("n1", {{"GPU-a"}})});
  cache_.ReplacePods({Assigned("p", "node=n1;cpu=0;mem=0|main=GPU-a:10000:0")});
  cache_.UpsertNode(NodeWithChips("n1", {{"GPU-a"}, {"GPU-new"}}));
  EXPECT_EQ(UsedMemory(cache_, "n1", 0), 10000);
  EXPECT_EQ(cache_.stats().chips, 2u);
}

// A bind killed between its annotation patch and the binding leaves an assignment on a pod that
// never got a node. A bound pod's slices are real and must never be the ones dropped.
TEST_F(ClusterCacheTest, BoundPodsWinOverLeftoverReservationsOfUnboundPods) {
  cache_.ReplaceNodes({NodeWithChips("n1", {{"GPU-a"}})});
  Json stale = Assigned("stale", "node=n1;cpu=0;mem=0|main=GPU-a:1000:80");
  stale["spec"].erase("nodeName");
  stale["status"]["phase"] = "Pending";
  Json bound = Assigned("bound", "node=n1;cpu=0;mem=0|main=GPU-a:2000:80");
  // The leftover arrives first (as after a restart's list), then the bound pod.
  cache_.ReplacePods({stale, bound});
  EXPECT_EQ(UsedMemory(cache_, "n1", 0), 2000);
  // A node rebuild replays bound pods first, whatever the order of the pods.
  cache_.UpsertNode(NodeWithChips("n1", {{"GPU-a"}, {"GPU-new"}}));
  EXPECT_EQ(UsedMemory(cache_, "n1", 0), 2000);
}

// A gang member holding chips before its gang is complete is no dead bind's leftover: its gang
// binds it on those chips later, so a bound pod needing the room makes the node over-full
// instead of dropping it (else another pod could be placed there, and the gang on top).
TEST_F(ClusterCacheTest, ABoundPodDoesNotDropAGangMembersReservation) {
  // gang-reserved, or allocating while the gang's binding of it is retried; listed before or
  // after the bound pod.
  for (const std::string phase : {"gang-reserved", "allocating"}) {
    for (bool member_first : {true, false}) {
      ClusterCache cache{std::make_shared<partition::SlicePolicy>(partition::DefaultSlicePolicy())};
      cache.ReplaceNodes({NodeWithChips("n1", {{"GPU-a"}})});
      Json member = Assigned("member", "node=n1;cpu=0;mem=0|main=GPU-a:1000:80");
      member["spec"].erase("nodeName");
      member["status"]["phase"] = "Pending";
      member["metadata"]["annotations"]["flexai.io/bind-phase"] = phase;
      member["metadata"]["annotations"]["flexai.io/gang"] = "train";
      Json bound = Assigned("bound", "node=n1;cpu=0;mem=0|main=GPU-a:2000:80");
      cache.ReplacePods(member_first ? std::vector<Json>{member, bound}
                                     : std::vector<Json>{bound, member});
      EXPECT_EQ(UsedMemory(cache, "n1", 0), 3000) << phase << member_first;
      EXPECT_EQ(cache.stats().pods_with_slices, 2u);
      cache.UpsertNode(NodeWithChips("n1", {{"GPU-a"}, {"GPU-new"}}));  // a rebuild holds it too
      EXPECT_EQ(UsedMemory(cache, "n1", 0), 3000) << phase << member_first;
    }
  }
}

TEST_F(ClusterCacheTest, MalformedAnnotationsAreIgnoredNotFatal) {
  Json node = NodeWithChips("n1", {{"GPU-a"}});
  node["metadata"]["annotations"]["flexai.io/inventory"] = "{broken";
  cache_.ReplaceNodes({node});
  cache_.ReplacePods({Assigned("p", "garbage")});
  bool has_inventory = true;
  std::string why;
  cache_.Read([&](const auto& nodes) {
    has_inventory = nodes.at("n1").has_inventory;
    why = nodes.at("n1").inventory_error;
  });
  EXPECT_FALSE(has_inventory);
  EXPECT_NE(why.find("flexai.io/inventory"), std::string::npos);
  EXPECT_EQ(cache_.stats().pods_with_slices, 0u);
}

TEST_F(ClusterCacheTest, ReservationSurvivesEventsThatPredateItsPatch) {
  cache_.ReplaceNodes({NodeWithChips("n1", {{"GPU-a"}})});
  Json pod = GpuPod("p", 1, 10000);
  auto reserved = cache_.Reserve("default", "p", "n1", [&](const CachedNode& node) {
    partition::PodRequest req;
    req.uid = "uid-p";
    partition::SliceRequest slice;
    slice.memory_mib = 10000;
    req.containers.push_back({"main", slice});
    return Result<partition::PodAssignment>(node.state.MakeAssignment(req, {1}));
  });
  ASSERT_TRUE(reserved.ok()) << reserved.error().message;
  cache_.UpsertPod(pod);  // an older event without the annotation
  EXPECT_EQ(UsedMemory(cache_, "n1", 0), 10000);
  cache_.Unreserve("uid-p");
  EXPECT_EQ(UsedMemory(cache_, "n1", 0), 0);
}

TEST_F(ClusterCacheTest, ReservationInFlightIsNotReplacedByAnOlderAssignment) {
  cache_.ReplaceNodes({NodeWithChips("n1", {{"GPU-a"}, {"GPU-b"}})});
  auto reserved = cache_.Reserve("default", "p", "n1", [&](const CachedNode& node) {
    partition::PodRequest req;
    req.uid = "uid-p";
    partition::SliceRequest slice;
    slice.memory_mib = 10000;
    req.containers.push_back({"main", slice});
    return Result<partition::PodAssignment>(node.state.MakeAssignment(req, {1}));  // chip 0
  });
  ASSERT_TRUE(reserved.ok()) << reserved.error().message;
  // An event from an earlier attempt, whose assignment was on the other chip.
  Json older = GpuPod("p", 1, 10000);
  older["metadata"]["annotations"]["flexai.io/assignment"] =
      "node=n1;cpu=0;mem=0|main=GPU-b:10000:0";
  cache_.UpsertPod(older);
  EXPECT_EQ(UsedMemory(cache_, "n1", 0), 10000);
  EXPECT_EQ(UsedMemory(cache_, "n1", 1), 0);
  ASSERT_TRUE(cache_.AssignmentOf("uid-p").has_value());
  EXPECT_EQ(EncodeAssignment(*cache_.AssignmentOf("uid-p")), EncodeAssignment(*reserved));
}

TEST_F(ClusterCacheTest, UnreserveKeepsTheSlicesOfABoundPod) {
  cache_.ReplaceNodes({NodeWithChips("n1", {{"GPU-a"}})});
  cache_.UpsertPod(Assigned("p", "node=n1;cpu=0;mem=0|main=GPU-a:10000:0"));
  cache_.Unreserve("uid-p");
  EXPECT_EQ(UsedMemory(cache_, "n1", 0), 10000);
  EXPECT_TRUE(cache_.AssignmentOf("uid-p").has_value());
}

Json WithLiveUsage(Json node, const std::string& text) {
  node["metadata"]["annotations"][std::string(kube::kLiveUsageAnnotation)] = text;
  return node;
}

TEST_F(ClusterCacheTest, LiveUsageIsKeptPerChipWithoutTouchingPlacement) {
  cache_.ReplaceNodes({NodeWithChips("n1", {{"GPU-a"}, {"GPU-b"}})});
  cache_.ReplacePods({Assigned("p", "node=n1;cpu=0;mem=0|main=GPU-b:10000:0")});
  EXPECT_TRUE(cache_.LiveUsage().empty());  // no annotation yet
  const uint64_t generation = cache_.generation();
  uint64_t epoch = 0;
  cache_.Read([&](const auto& nodes) { epoch = nodes.at("n1").epoch; });

  cache_.UpsertNode(WithLiveUsage(NodeWithChips("n1", {{"GPU-a"}, {"GPU-b"}}),
                                  R"({"version":1,"sampledAt":"2026-11-28T03:31:06Z","chips":[
        {"index":0,"uuid":"GPU-a","memoryUsedMiB":0,"computeUsedPercent":0},
        {"index":1,"uuid":"GPU-b","memoryUsedMiB":6144,"computeUsedPercent":37.5}]})"));
  auto live = cache_.LiveUsage();
  ASSERT_EQ(live.count("n1"), 1u);
  EXPECT_EQ(kube::FormatTime(live["n1"].sampled_at), "2026-11-28T03:31:06Z");
  ASSERT_EQ(live["n1"].chips.size(), 2u);
  EXPECT_EQ(live["n1"].chips[1].uuid, "GPU-b");
  EXPECT_EQ(live["n1"].chips[1].memory_used_mib, 6144);
  EXPECT_DOUBLE_EQ(live["n1"].chips[1].compute_used_percent, 37.5);
  // Usage is not capacity: the ledgers, the generation and the node's epoch stay as they were,
  // so no score changes or is recomputed because of it.
  EXPECT_EQ(UsedMemory(cache_, "n1", 1), 10000);
  EXPECT_EQ(cache_.generation(), generation);
  cache_.Read([&](const auto& nodes) { EXPECT_EQ(nodes.at("n1").epoch, epoch); });
}

TEST_F(ClusterCacheTest, MalformedLiveUsageIsIgnoredAndTheNodeStaysUsable) {
  const std::string good = R"({"sampledAt":"2026-11-28T03:31:06Z","chips":[
      {"index":0,"uuid":"GPU-a","memoryUsedMiB":512,"computeUsedPercent":5}]})";
  cache_.ReplaceNodes({WithLiveUsage(NodeWithChips("n1", {{"GPU-a"}}), good)});
  ASSERT_EQ(cache_.LiveUsage().count("n1"), 1u);
  for (const char* bad :
       {"{broken", R"({"sampledAt":"2026-11-28T03:31:06Z","chips":[{"index":0}]})",
        R"({"version":7,"sampledAt":"2026-11-28T03:31:06Z","chips":[]})"}) {
    cache_.UpsertNode(WithLiveUsage(NodeWithChips("n1", {{"GPU-a"}}), bad));
    EXPECT_TRUE(cache_.LiveUsage().empty()) << bad;  // a stale value is not kept either
    cache_.Read([&](const auto& nodes) {
      EXPECT_TRUE(nodes.at("n1").has_inventory) << bad;
      EXPECT_EQ(nodes.at("n1").state.chip_count(), 1) << bad;
    });
  }
  cache_.UpsertNode(WithLiveUsage(NodeWithChips("n1", {{"GPU-a"}}), good));
  EXPECT_EQ(cache_.LiveUsage().at("n1").chips.at(0).memory_used_mib, 512);
}

// Repro: a chip entry not in the inventory and impossible values were exported as they came.
TEST_F(ClusterCacheTest, LiveUsageKeepsOnlyInventoryChipsWithinTheirLimits) {
  const std::string text = R"({"sampledAt":"2026-11-28T03:31:06Z","chips":[
      {"index":0,"uuid":"GPU-a","memoryUsedMiB":99999999,"computeUsedPercent":1e308},
      {"index":7,"uuid":"GPU-zzz","memoryUsedMiB":99999999,"computeUsedPercent":250}]})";
  cache_.ReplaceNodes({WithLiveUsage(NodeWithChips("n1", {{"GPU-a", 16384}}), text)});
  auto live = cache_.LiveUsage();
  ASSERT_EQ(live.count("n1"), 1u);
  ASSERT_EQ(live["n1"].chips.size(), 1u);
  EXPECT_EQ(live["n1"].chips[0].uuid, "GPU-a");
  EXPECT_EQ(live["n1"].chips[0].memory_used_mib, 16384);
  EXPECT_DOUBLE_EQ(live["n1"].chips[0].compute_used_percent, 100);
  // The inventory gains the chip (same live-usage text): its entry is then kept.
  cache_.UpsertNode(WithLiveUsage(NodeWithChips("n1", {{"GPU-a", 16384},
                                                       {"GPU-b"},
                                                       {"GPU-c"},
                                                       {"GPU-d"},
                                                       {"GPU-e"},
                                                       {"GPU-f"},
                                                       {"GPU-g"},
                                                       {"GPU-zzz", 40000}}),
                                  text));
  live = cache_.LiveUsage();
  ASSERT_EQ(live["n1"].chips.size(), 2u);
  EXPECT_EQ(live["n1"].chips[1].memory_used_mib, 40000);
  EXPECT_DOUBLE_EQ(live["n1"].chips[1].compute_used_percent, 100);
}

}  // namespace
}  // namespace flexai::extender
