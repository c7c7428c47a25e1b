// Pods already placed keep their slices in the cache: a node rebuild after a smaller capacity
// (policy reload, allocatable, a vanished chip) or an edit of a bound pod's assignment annotation
// never frees what their containers hold, so nothing is placed over them.
#include <gtest/gtest.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <mutex>

#include "extender/cluster_cache.h"
#include "test_objects.h"

namespace flexai::extender {
namespace {

using testing::GpuPod;
using testing::Json;
using testing::NodeWithChips;

Json Running(const std::string& name, const std::string& assignment) {
  Json pod = GpuPod(name, 1, 1000);
  pod["metadata"]["annotations"]["flexai.io/assignment"] = assignment;
  pod["spec"]["nodeName"] = "n1";
  pod["status"]["phase"] = "Running";
  return pod;
}

Json FourChips(int chips = 4) {
  std::vector<testing::ChipSpec> specs;
  for (int i = 0; i < chips; ++i) specs.push_back({"GPU-t-" + std::to_string(i), 16384});
  return NodeWithChips("n1", specs);
}

std::shared_ptr<partition::SlicePolicy> Reserving(int64_t reserved_mib) {
  auto policy = std::make_shared<partition::SlicePolicy>(partition::DefaultSlicePolicy());
  policy->sharing.reserved_memory_mib = reserved_mib;
  return policy;
}

// Chips of n1 on which one slice of `memory_mib` fits now.
partition::ChipSet Feasible(const ClusterCache& cache, int64_t memory_mib) {
  partition::SliceRequest ask;
  ask.memory_mib = memory_mib;
  partition::ChipSet set = 0;
  cache.Read([&](const auto& nodes) { set = nodes.at("n1").state.FeasibleChips(ask); });
  return set;
}

// Counts warnings containing a text while it lives (create it while no other thread logs).
class WarningCount final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  static std::shared_ptr<WarningCount> Attach() {
    auto sink = std::make_shared<WarningCount>();
    spdlog::default_logger()->sinks().push_back(sink);
    return sink;
  }
  static void Detach(const std::shared_ptr<WarningCount>& sink) {
    auto& sinks = spdlog::default_logger()->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink), sinks.end());
  }
  int Count(const std::string& text) {
    std::lock_guard lock(mutex_);
    return static_cast<int>(std::count_if(lines_.begin(), lines_.end(), [&](const auto& l) {
      return l.find(text) != std::string::npos;
    }));
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    if (msg.level == spdlog::level::warn)
      lines_.emplace_back(msg.payload.data(), msg.payload.size());
  }
  void flush_() override {}

 private:
  std::vector<std::string> lines_;
};

// Repro: p1 holds 15000 MiB of GPU-t-0; a reload reserving 2000 MiB per chip used to forget it
// (allocated 19000 -> 4000) and let a 13000 MiB pod onto the same 16384 MiB chip.
TEST(PlacedPodsTest, APolicyReloadLeavesTheNodeOverFullInsteadOfForgettingPods) {
  ClusterCache cache(Reserving(0));
  cache.ReplaceNodes({FourChips()});
  cache.ReplacePods({Running("p1", "node=n1;cpu=0;mem=0|main=GPU-t-0:15000:0"),
                     Running("p2", "node=n1;cpu=0;mem=0|main=GPU-t-1:4000:0")});
  ASSERT_EQ(cache.stats().memory_mib_used, 19000);
  cache.SetPolicy(Reserving(2000));
  EXPECT_EQ(cache.stats().memory_mib_used, 19000);
  EXPECT_EQ(Feasible(cache, 13000) & 1, 0u) << "GPU-t-0 must take no new slice";
  EXPECT_NE(Feasible(cache, 13000) & 0b1100, 0u);
  // The over-full chip frees up as its pod ends.
  Json done = Running("p1", "node=n1;cpu=0;mem=0|main=GPU-t-0:15000:0");
  done["status"]["phase"] = "Succeeded";
  cache.UpsertPod(done);
  EXPECT_EQ(cache.stats().memory_mib_used, 4000);
  EXPECT_EQ(Feasible(cache, 13000) & 1, 1u);
}

// A restarted scheduler under the stricter policy lists nodes, then bound pods that no longer fit.
TEST(PlacedPodsTest, BoundPodsListedAfterACapacityShrinkAreAllHeld) {
  ClusterCache cache(Reserving(2000));
  cache.ReplaceNodes({FourChips()});
  cache.ReplacePods({Running("a", "node=n1;cpu=0;mem=0|main=GPU-t-0:10000:0"),
                     Running("b", "node=n1;cpu=0;mem=0|main=GPU-t-0:6000:0")});
  EXPECT_EQ(cache.stats().memory_mib_used, 16000);
  EXPECT_EQ(Feasible(cache, 1) & 1, 0u);
}

// Repro: 1000 MiB on each of 4 chips; the inventory lost GPU-t-3 and all 4000 MiB were freed.
TEST(PlacedPodsTest, AVanishedChipFreesOnlyTheSlicesOnIt) {
  ClusterCache cache(Reserving(0));
  cache.ReplaceNodes({FourChips()});
  cache.ReplacePods({Running(
      "p",
      "node=n1;cpu=0;mem=0|main=GPU-t-0:1000:0,GPU-t-1:1000:0,GPU-t-2:1000:0,GPU-t-3:1000:0")});
  ASSERT_EQ(cache.stats().memory_mib_used, 4000);
  cache.UpsertNode(FourChips(3));
  EXPECT_EQ(cache.stats().memory_mib_used, 3000);
  cache.UpsertNode(FourChips(4));  // the chip is back: so is its slice
  EXPECT_EQ(cache.stats().memory_mib_used, 4000);
}

TEST(PlacedPodsTest, ASmallerAllocatableKeepsBoundPods) {
  ClusterCache cache(Reserving(0));
  cache.ReplaceNodes({FourChips()});
  cache.ReplacePods({Running("p", "node=n1;cpu=6000;mem=1000|main=GPU-t-0:1000:0")});
  Json node = FourChips();
  node["status"]["allocatable"]["cpu"] = "4";
  cache.UpsertNode(node);
  EXPECT_EQ(cache.stats().memory_mib_used, 1000);
  ASSERT_TRUE(cache.AssignmentOf("uid-p").has_value());
}

// Repro: anyone who can edit their pod set its assignment to "garbage!!" and the scheduler freed
// its slices. A bound pod keeps the assignment it was placed with, whatever the annotation says.
TEST(PlacedPodsTest, ABoundPodKeepsItsSlicesWhenItsAssignmentAnnotationIsEdited) {
  ClusterCache cache(Reserving(0));
  cache.ReplaceNodes({FourChips()});
  const std::string held = "node=n1;cpu=0;mem=0|main=GPU-t-0:8192:0,GPU-t-1:8192:0";
  Json pod = Running("b", held);
  cache.UpsertPod(pod);
  ASSERT_EQ(cache.stats().memory_mib_used, 16384);
  auto warnings = WarningCount::Attach();
  for (const char* edit : {"garbage!!", "garbage!!", "", "node=n1;cpu=0;mem=0|main=GPU-t-0:1:0"}) {
    pod["metadata"]["annotations"]["flexai.io/assignment"] = edit;
    pod["metadata"]["labels"]["edited"] = "yes";
    cache.UpsertPod(pod);
    EXPECT_EQ(cache.stats().memory_mib_used, 16384) << edit;
    EXPECT_EQ(Feasible(cache, 9000) & 0b11, 0u) << edit;
    ASSERT_TRUE(cache.AssignmentOf("uid-b").has_value()) << edit;
  }
  cache.UpsertPod(pod);  // the same value again: no second warning
  WarningCount::Detach(warnings);
  EXPECT_EQ(warnings->Count("malformed"), 1);
  EXPECT_EQ(warnings->Count("removed"), 1);
  EXPECT_EQ(warnings->Count("changed to"), 1);
  // Other fields still follow the pod; it frees its slices when it ends.
  cache.ReadPods([](const auto&, const auto& pods) {
    EXPECT_EQ(pods.at("uid-b").labels.at("edited"), "yes");
  });
  pod["status"]["phase"] = "Failed";
  cache.UpsertPod(pod);
  EXPECT_EQ(cache.stats().memory_mib_used, 0);
}

// An unbound pod's assignment is only a reservation: a malformed value still drops it.
TEST(PlacedPodsTest, AnUnboundPodsMalformedAssignmentIsStillDropped) {
  ClusterCache cache(Reserving(0));
  cache.ReplaceNodes({FourChips()});
  Json pod = Running("u", "node=n1;cpu=0;mem=0|main=GPU-t-0:8192:0");
  pod["spec"].erase("nodeName");
  pod["status"]["phase"] = "Pending";
  cache.UpsertPod(pod);
  ASSERT_EQ(cache.stats().memory_mib_used, 8192);
  pod["metadata"]["annotations"]["flexai.io/assignment"] = "garbage!!";
  cache.UpsertPod(pod);
  EXPECT_EQ(cache.stats().memory_mib_used, 0);
}

}  // namespace
}  // namespace flexai::extender
