#include "device_plugin/allocator.h"

#include <gtest/gtest.h>

#include "device_plugin/backend/sim/sim_backend.h"
#include "device_plugin/device_id.h"
#include "fake_cluster_client.h"
#include "kube/protocol.h"
#include "test_kubelet.h"

#include <filesystem>
#include <fstream>
#include <future>

namespace flexai::device_plugin {
namespace {

using testing::FakeClusterClient;
using testing::PendingPod;

class AllocatorTest : public ::testing::Test {
 protected:
  SimBackend backend_{"", "n1"};
  ChipInventory inventory_{partition::Vendor::kSim, *backend_.Discover()};
  FakeClusterClient cluster_;
  testing::TempDir dir_;
  PluginSettings settings_ = [this] {
    PluginSettings s;
    s.shared_host_dir = dir_.File("shared");
    return s;
  }();
  Allocator allocator_{"n1", inventory_, backend_, settings_, &cluster_};

  std::string Uuid(int i) const { return inventory_.chips()[static_cast<size_t>(i)].uuid; }
  std::string Id(int i, int slot = 0) const { return FormatDeviceId(Uuid(i), slot); }
  // A pod with two one-chip containers: c1 (2048 MiB on chip 0), c2 (3072 MiB on chip 1).
  void AddPair(const std::string& bind_time) {
    cluster_.AddPod(PendingPod(
        "pair", "n1", "node=n1;cpu=0;mem=0|c1=" + Uuid(0) + ":2048:10|c2=" + Uuid(1) + ":3072:20",
        bind_time));
  }
};

TEST_F(AllocatorTest, AllocateReturnsTheAssignedChipsAndMarksThePodSuccessful) {
  cluster_.AddPod(PendingPod(
      "train", "n1", "node=n1;cpu=0;mem=0|main=" + Uuid(3) + ":4096:25," + Uuid(1) + ":4096:25",
      "2026-11-28T03:00:00Z"));
  // kubelet's device IDs only say how many chips; the assignment says which.
  AllocateOutcome outcome = allocator_.AllocateContainer({Id(0), Id(7)});
  ASSERT_TRUE(outcome.ok()) << outcome.message;
  // Devices are numbered in chip order inside the container.
  EXPECT_EQ(outcome.setup.env["FLEXAI_VISIBLE_DEVICES"], Uuid(1) + "," + Uuid(3));
  EXPECT_EQ(outcome.setup.env["FLEXAI_MEMORY_LIMIT_MIB"], "4096,4096");
  EXPECT_EQ(cluster_.PodAnnotation("train", kBindPhaseAnnotation), kBindPhaseSuccess);
  auto usage = allocator_.UsageByChip();
  EXPECT_EQ(usage[Uuid(3)].memory_mib, 4096);
  EXPECT_EQ(usage[Uuid(3)].cores, 25);
  EXPECT_EQ(usage[Uuid(3)].slices, 1);
}

TEST_F(AllocatorTest, SuccessRecordsTheDeviceIdsKubeletPassedPerContainer) {
  cluster_.AddPod(PendingPod("two", "n1",
                             "node=n1;cpu=0;mem=0|a=" + Uuid(0) + ":1024:10|b=" + Uuid(1) +
                                 ":1024:10," + Uuid(2) + ":1024:10",
                             "2026-11-28T03:00:00Z"));
  ASSERT_TRUE(allocator_.AllocateContainer({Id(4, 2)}).ok());
  EXPECT_EQ(cluster_.PodAnnotation("two", kDeviceIdsAnnotation), "");  // not complete yet
  ASSERT_TRUE(allocator_.AllocateContainer({Id(6, 1), Id(5, 3)}).ok());
  EXPECT_EQ(cluster_.PodAnnotation("two", kDeviceIdsAnnotation),
            "a=" + Id(4, 2) + ";b=" + Id(5, 3) + "," + Id(6, 1));
}

TEST_F(AllocatorTest, RepeatedAllocateGetsTheSameAnswerInsteadOfTheNextPodsAssignment) {
  cluster_.AddPod(PendingPod("first", "n1", "node=n1;cpu=0;mem=0|m=" + Uuid(2) + ":1024:10",
                             "2026-11-28T03:00:00Z"));
  cluster_.AddPod(PendingPod("next", "n1", "node=n1;cpu=0;mem=0|m=" + Uuid(5) + ":2048:20",
                             "2026-11-28T03:00:01Z"));
  AllocateOutcome first = allocator_.AllocateContainer({Id(0, 1)});
  ASSERT_TRUE(first.ok()) << first.message;
  AllocateOutcome repeat = allocator_.AllocateContainer({Id(0, 1)});
  ASSERT_TRUE(repeat.ok()) << repeat.message;
  EXPECT_TRUE(repeat.repeated);
  EXPECT_EQ(repeat.pod_name, "first");
  EXPECT_EQ(repeat.setup.env, first.setup.env);
  EXPECT_EQ(cluster_.PodAnnotation("next", kBindPhaseAnnotation), kBindPhaseAllocating);
  EXPECT_EQ(allocator_.UsageByChip()[Uuid(2)].slices, 1);  // counted once
  // Other devices are a new container: the next pod's.
  AllocateOutcome next = allocator_.AllocateContainer({Id(0, 2)});
  ASSERT_TRUE(next.ok()) << next.message;
  EXPECT_FALSE(next.repeated);
  EXPECT_EQ(next.pod_name, "next");
}

TEST_F(AllocatorTest, RepeatedAllocateIsRecognisedAfterARestartFromThePodAnnotation) {
  // Bound just now: after a restart the bind time bounds how old the first answer can be.
  const auto bound = std::chrono::system_clock::now();
  cluster_.AddPod(PendingPod("first", "n1", "node=n1;cpu=0;mem=0|m=" + Uuid(2) + ":1024:10",
                             FormatRfc3339(bound)));
  cluster_.AddPod(PendingPod("next", "n1", "node=n1;cpu=0;mem=0|m=" + Uuid(5) + ":2048:20",
                             FormatRfc3339(bound + std::chrono::seconds(1))));
  AllocateOutcome first = allocator_.AllocateContainer({Id(0, 1)});
  ASSERT_TRUE(first.ok()) << first.message;
  Allocator restarted{"n1", inventory_, backend_, settings_, &cluster_};
  AllocateOutcome repeat = restarted.AllocateContainer({Id(0, 1)});
  ASSERT_TRUE(repeat.ok()) << repeat.message;
  EXPECT_TRUE(repeat.repeated);
  EXPECT_EQ(repeat.setup.env, first.setup.env);
  EXPECT_EQ(cluster_.PodAnnotation("next", kBindPhaseAnnotation), kBindPhaseAllocating);
}

TEST_F(AllocatorTest, RepeatWhileTheSuccessPatchIsInFlightIsRetriedNotAnswered) {
  cluster_.AddPod(PendingPod("first", "n1", "node=n1;cpu=0;mem=0|m=" + Uuid(2) + ":1024:10",
                             "2026-11-28T03:00:00Z"));
  cluster_.AddPod(PendingPod("next", "n1", "node=n1;cpu=0;mem=0|m=" + Uuid(5) + ":2048:20",
                             "2026-11-28T03:00:01Z"));
  AllocateOutcome during_patch;
  cluster_.SetDuringNextPatch([&] { during_patch = allocator_.AllocateContainer({Id(0, 1)}); });
  cluster_.SetPatchFails(true);
  EXPECT_EQ(allocator_.AllocateContainer({Id(0, 1)}).failure, AllocateFailure::kClusterUnavailable);
  // The first answer was not confirmed yet: kubelet must retry, not get that answer.
  EXPECT_EQ(during_patch.failure, AllocateFailure::kClusterUnavailable) << during_patch.message;
  EXPECT_TRUE(allocator_.UsageByChip().empty());
  // The failed patch took the answer back: the retry allocates the first pod anew and marks it.
  cluster_.SetPatchFails(false);
  AllocateOutcome retry = allocator_.AllocateContainer({Id(0, 1)});
  ASSERT_TRUE(retry.ok()) << retry.message;
  EXPECT_FALSE(retry.repeated);
  EXPECT_EQ(retry.pod_name, "first");
  EXPECT_EQ(cluster_.PodAnnotation("first", kBindPhaseAnnotation), kBindPhaseSuccess);
  EXPECT_EQ(cluster_.PodAnnotation("first", kDeviceIdsAnnotation), "m=" + Id(0, 1));
  EXPECT_EQ(cluster_.PodAnnotation("next", kBindPhaseAnnotation), kBindPhaseAllocating);
}

TEST_F(AllocatorTest, RetryAfterAFailedSuccessPatchWritesSuccess) {
  cluster_.AddPod(PendingPod("p", "n1", "node=n1;cpu=0;mem=0|m=" + Uuid(2) + ":1024:10",
                             "2026-11-28T03:00:00Z"));
  cluster_.SetPatchFails(true);
  EXPECT_FALSE(allocator_.AllocateContainer({Id(0, 1)}).ok());
  cluster_.SetPatchFails(false);
  ASSERT_TRUE(allocator_.AllocateContainer({Id(0, 1)}).ok());
  EXPECT_EQ(cluster_.PodAnnotation("p", kBindPhaseAnnotation), kBindPhaseSuccess);
  EXPECT_EQ(cluster_.PodAnnotation("p", kDeviceIdsAnnotation), "m=" + Id(0, 1));
}

TEST_F(AllocatorTest, RepeatOfACompletePodStillAllocatingSendsSuccessAgain) {
  cluster_.AddPod(PendingPod("p", "n1", "node=n1;cpu=0;mem=0|m=" + Uuid(2) + ":1024:10",
                             "2026-11-28T03:00:00Z"));
  ASSERT_TRUE(allocator_.AllocateContainer({Id(0, 1)}).ok());
  // The pod lost its `success` (e.g. an earlier write reverted it): the repeat restores it.
  PodSummary pod = cluster_.pods()[0];
  cluster_.RemovePod("p");
  pod.annotations[kBindPhaseAnnotation] = kBindPhaseAllocating;
  pod.annotations.erase(kDeviceIdsAnnotation);
  cluster_.AddPod(pod);
  AllocateOutcome repeat = allocator_.AllocateContainer({Id(0, 1)});
  ASSERT_TRUE(repeat.ok()) << repeat.message;
  EXPECT_TRUE(repeat.repeated);
  EXPECT_EQ(cluster_.PodAnnotation("p", kBindPhaseAnnotation), kBindPhaseSuccess);
  EXPECT_EQ(cluster_.PodAnnotation("p", kDeviceIdsAnnotation), "m=" + Id(0, 1));
}

TEST_F(AllocatorTest, UsageStaysReadableWhileAllocateWaitsForTheApiServer) {
  cluster_.AddPod(PendingPod("first", "n1", "node=n1;cpu=0;mem=0|m=" + Uuid(2) + ":1024:10",
                             "2026-11-28T03:00:00Z"));
  ASSERT_TRUE(allocator_.AllocateContainer({Id(0, 1)}).ok());
  // Every list (the repeat's confirmation, the fresh list when nothing matches) and the failed
  // patch of an unhealthy chip: metrics read usage meanwhile, from another thread.
  std::vector<std::future<size_t>> readers;
  std::vector<bool> answered;
  auto read_usage = [&] {
    readers.push_back(
        std::async(std::launch::async, [&] { return allocator_.UsageByChip().size(); }));
    // Generous: a reader blocked on the allocator's lock never finishes before the call ends.
    answered.push_back(readers.back().wait_for(std::chrono::seconds(10)) ==
                       std::future_status::ready);
  };
  cluster_.SetOnEveryList(read_usage);
  EXPECT_TRUE(allocator_.AllocateContainer({Id(0, 1)}).repeated);
  EXPECT_FALSE(allocator_.AllocateContainer({Id(0, 2)}).ok());  // no pod waits: fresh list
  cluster_.SetOnEveryList(nullptr);
  cluster_.AddPod(PendingPod("sick", "n1", "node=n1;cpu=0;mem=0|m=" + Uuid(5) + ":1:1",
                             "2026-11-28T03:00:01Z"));
  inventory_.ApplyHealth({{Uuid(5), partition::Health::kUnhealthy}});
  cluster_.SetDuringNextPatch(read_usage);
  EXPECT_FALSE(allocator_.AllocateContainer({Id(0, 3)}).ok());
  for (auto& reader : readers) reader.wait();
  ASSERT_GE(answered.size(), 4u);
  for (bool ok : answered) EXPECT_TRUE(ok);
}

TEST_F(AllocatorTest, SameDeviceIdsOfAPodThatRanAreANewContainerEvenBeforeItShowsEnded) {
  cluster_.AddPod(PendingPod("ran", "n1", "node=n1;cpu=0;mem=0|m=" + Uuid(2) + ":1024:10",
                             "2026-11-28T03:00:00Z"));
  ASSERT_TRUE(allocator_.AllocateContainer({Id(0, 1)}).ok());
  // kubelet started it, it ended, and kubelet reuses its device for the next pod while the API
  // server still says Running.
  PodSummary ran = cluster_.pods()[0];
  cluster_.RemovePod("ran");
  ran.phase = "Running";
  cluster_.AddPod(ran);
  cluster_.AddPod(PendingPod("new", "n1", "node=n1;cpu=0;mem=0|m=" + Uuid(4) + ":1024:10",
                             "2026-11-28T03:00:01Z"));
  AllocateOutcome outcome = allocator_.AllocateContainer({Id(0, 1)});
  ASSERT_TRUE(outcome.ok()) << outcome.message;
  EXPECT_FALSE(outcome.repeated);
  EXPECT_EQ(outcome.pod_name, "new");
  EXPECT_EQ(outcome.setup.env["FLEXAI_VISIBLE_DEVICES"], Uuid(4));
}

TEST_F(AllocatorTest, SameDeviceIdsOfAPodBeingDeletedAreANewContainer) {
  cluster_.AddPod(PendingPod("leaving", "n1", "node=n1;cpu=0;mem=0|m=" + Uuid(2) + ":1024:10",
                             "2026-11-28T03:00:00Z"));
  ASSERT_TRUE(allocator_.AllocateContainer({Id(0, 1)}).ok());
  // Deleted before it started: still Pending in the API, but kubelet frees its devices.
  PodSummary leaving = cluster_.pods()[0];
  cluster_.RemovePod("leaving");
  leaving.being_deleted = true;
  cluster_.AddPod(leaving);
  cluster_.AddPod(PendingPod("new", "n1", "node=n1;cpu=0;mem=0|m=" + Uuid(4) + ":1024:10",
                             "2026-11-28T03:00:01Z"));
  AllocateOutcome outcome = allocator_.AllocateContainer({Id(0, 1)});
  ASSERT_TRUE(outcome.ok()) << outcome.message;
  EXPECT_FALSE(outcome.repeated);
  EXPECT_EQ(outcome.pod_name, "new");
}

TEST_F(AllocatorTest, SameDeviceIdsOfAFinishedPodAreANewContainer) {
  cluster_.AddPod(PendingPod("done", "n1", "node=n1;cpu=0;mem=0|m=" + Uuid(2) + ":1024:10",
                             "2026-11-28T03:00:00Z"));
  ASSERT_TRUE(allocator_.AllocateContainer({Id(0, 1)}).ok());
  cluster_.RemovePod("done");  // kubelet frees its devices and may hand them out again
  cluster_.AddPod(PendingPod("new", "n1", "node=n1;cpu=0;mem=0|m=" + Uuid(4) + ":1024:10",
                             "2026-11-28T03:00:01Z"));
  AllocateOutcome outcome = allocator_.AllocateContainer({Id(0, 1)});
  ASSERT_TRUE(outcome.ok()) << outcome.message;
  EXPECT_FALSE(outcome.repeated);
  EXPECT_EQ(outcome.pod_name, "new");
}

TEST_F(AllocatorTest, AnsweredPodWhoseAssignmentNamesABogusChipFailsClearly) {
  // A user edited the assignment of a pod already answered to name a chip not on this node.
  auto pod = PendingPod("edited", "n1", "node=n1;cpu=0;mem=0|m=GPU-bogus:1024:10",
                        FormatRfc3339(std::chrono::system_clock::now()));
  pod.annotations[kBindPhaseAnnotation] = kBindPhaseSuccess;
  pod.annotations[kDeviceIdsAnnotation] = "m=" + Id(0, 1);
  cluster_.AddPod(pod);
  AllocateOutcome outcome = allocator_.AllocateContainer({Id(0, 1)});
  EXPECT_EQ(outcome.failure, AllocateFailure::kNoAssignment);
  EXPECT_FALSE(outcome.repeated);
  EXPECT_TRUE(allocator_.UsageByChip().empty());
}

TEST_F(AllocatorTest, HookModePreparesAWritableAccountingDirectoryPerContainer) {
  cluster_.AddPod(PendingPod("p", "n1", "node=n1;cpu=0;mem=0|worker=" + Uuid(0) + ":1024:10",
                             "2026-11-28T03:00:00Z"));
  AllocateOutcome outcome = allocator_.AllocateContainer({Id(0)});
  ASSERT_TRUE(outcome.ok()) << outcome.message;
  std::string expected = dir_.File("shared") + "/uid-p/worker";
  EXPECT_TRUE(std::filesystem::is_directory(expected));
  bool mounted = false;
  for (const auto& m : outcome.setup.mounts) {
    mounted = mounted || (m.host_path == expected && m.container_path == "/var/run/flexai/shared");
  }
  EXPECT_TRUE(mounted);
}

TEST_F(AllocatorTest, HookModeGivesEachContainerABoardAndTheChipsFolderOfAllBoards) {
  namespace fs = std::filesystem;
  cluster_.AddPod(PendingPod("p", "n1", "node=n1;cpu=0;mem=0|worker=" + Uuid(0) + ":1024:10",
                             "2026-11-28T03:00:00Z"));
  cluster_.AddPod(PendingPod("q", "n1", "node=n1;cpu=0;mem=0|worker=" + Uuid(0) + ":1024:10",
                             "2026-11-28T03:00:01Z"));
  const std::string folder = dir_.File("shared") + "/activity-" + Uuid(0);
  for (int pod = 0; pod < 2; ++pod) {
    AllocateOutcome outcome = allocator_.AllocateContainer({Id(0, pod)});
    ASSERT_TRUE(outcome.ok()) << outcome.message;
    EXPECT_EQ(outcome.setup.env["FLEXAI_ACTIVITY_DIR"], "/var/run/flexai/activity");
    bool mounted = false;
    for (const auto& m : outcome.setup.mounts) {
      mounted = mounted || (m.host_path == folder && m.read_only &&
                            m.container_path == "/var/run/flexai/activity/" + Uuid(0));
    }
    EXPECT_TRUE(mounted) << "pod " << pod;  // both containers of the chip: the same folder
  }
  // Each container's own board, in its accounting directory, is linked into the folder.
  for (const std::string uid : {"uid-p", "uid-q"}) {
    const std::string board = dir_.File("shared") + "/" + uid + "/worker/activity-" + Uuid(0);
    ASSERT_TRUE(fs::is_regular_file(board)) << board;
    EXPECT_TRUE(fs::equivalent(board, folder + "/" + uid + ".worker"));
    // Its processes may run as any user.
    EXPECT_NE(fs::status(board).permissions() & fs::perms::others_write, fs::perms::none);
  }
  // When a departed pod's accounting directory is cleaned up, its link goes too.
  fs::last_write_time(dir_.File("shared") + "/uid-p",
                      fs::file_time_type::clock::now() - std::chrono::hours(1));
  std::vector<PodSummary> only_q;
  for (const auto& pod : *cluster_.ListPodsOnNode("n1")) {
    if (pod.uid == "uid-q") only_q.push_back(pod);
  }
  allocator_.Reconcile(only_q, std::chrono::system_clock::now());
  EXPECT_FALSE(fs::exists(dir_.File("shared") + "/uid-p"));
  EXPECT_FALSE(fs::exists(folder + "/uid-p.worker"));
  EXPECT_TRUE(fs::exists(folder + "/uid-q.worker"));
}

TEST_F(AllocatorTest, ABoardMadeAgainByItsContainerIsLinkedAgainAtTheNextReconcile) {
  namespace fs = std::filesystem;
  cluster_.AddPod(PendingPod("p", "n1", "node=n1;cpu=0;mem=0|worker=" + Uuid(0) + ":1024:10",
                             "2026-11-28T03:00:00Z"));
  ASSERT_TRUE(allocator_.AllocateContainer({Id(0)}).ok());
  const std::string board = dir_.File("shared") + "/uid-p/worker/activity-" + Uuid(0);
  const std::string link = dir_.File("shared") + "/activity-" + Uuid(0) + "/uid-p.worker";
  // The container cleaned its directory; its hook made a new board (another file).
  fs::remove(board);
  std::ofstream(board).flush();
  ASSERT_FALSE(fs::equivalent(board, link));
  allocator_.Reconcile(*cluster_.ListPodsOnNode("n1"), std::chrono::system_clock::now());
  EXPECT_TRUE(fs::equivalent(board, link));
}

TEST_F(AllocatorTest, ALinkPlantedInTheAccountingDirectoryIsNeverFollowed) {
  namespace fs = std::filesystem;
  // The container writes its accounting directory; on a repeated Allocate (after a restart) a
  // symlink it left where its board goes must not make this root daemon create or chmod a host
  // file elsewhere.
  const std::string victim = dir_.File("victim");
  std::ofstream(victim) << "host file";
  fs::permissions(victim, fs::perms::owner_read | fs::perms::owner_write);
  fs::create_directories(dir_.File("shared") + "/uid-p/worker");
  fs::create_symlink(victim, dir_.File("shared") + "/uid-p/worker/activity-" + Uuid(0));
  cluster_.AddPod(PendingPod("p", "n1", "node=n1;cpu=0;mem=0|worker=" + Uuid(0) + ":1024:10",
                             "2026-11-28T03:00:00Z"));
  AllocateOutcome outcome = allocator_.AllocateContainer({Id(0)});
  ASSERT_TRUE(outcome.ok()) << outcome.message;  // the slice works, without boards
  EXPECT_EQ(outcome.setup.env.count("FLEXAI_ACTIVITY_DIR"), 0u);
  EXPECT_EQ(fs::status(victim).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_FALSE(fs::exists(dir_.File("shared") + "/activity-" + Uuid(0) + "/uid-p.worker"));
}

TEST_F(AllocatorTest, AFileLeftWhereTheBoardFolderGoesIsReplaced) {
  const std::string folder = dir_.File("shared") + "/activity-" + Uuid(0);
  std::filesystem::create_directories(dir_.File("shared"));
  std::ofstream(folder) << "one shared board, as an earlier version kept it";
  cluster_.AddPod(PendingPod("p", "n1", "node=n1;cpu=0;mem=0|worker=" + Uuid(0) + ":1024:10",
                             "2026-11-28T03:00:00Z"));
  AllocateOutcome outcome = allocator_.AllocateContainer({Id(0)});
  ASSERT_TRUE(outcome.ok()) << outcome.message;
  EXPECT_EQ(outcome.setup.env["FLEXAI_ACTIVITY_DIR"], "/var/run/flexai/activity");
  EXPECT_TRUE(std::filesystem::is_directory(folder));
  EXPECT_EQ(std::filesystem::status(folder).permissions() & std::filesystem::perms::all,
            std::filesystem::perms(0755));
}

TEST_F(AllocatorTest, MpsModeMountsNoActivityBoard) {
  settings_.isolation = IsolationMode::kMps;
  Allocator allocator{"n1", inventory_, backend_, settings_, &cluster_};
  cluster_.AddPod(PendingPod("p", "n1", "node=n1;cpu=0;mem=0|worker=" + Uuid(0) + ":1024:10",
                             "2026-11-28T03:00:00Z"));
  AllocateOutcome outcome = allocator.AllocateContainer({Id(0)});
  ASSERT_TRUE(outcome.ok()) << outcome.message;
  EXPECT_EQ(outcome.setup.env.count("FLEXAI_ACTIVITY_DIR"), 0u);
  EXPECT_FALSE(std::filesystem::exists(dir_.File("shared") + "/activity-" + Uuid(0)));
}

TEST_F(AllocatorTest, AnAssignmentThatDoesNotFitItsChipsFailsThePodVisibly) {
  // Pod annotations can be written by users too: more memory than the chip has, or one chip
  // twice, is never answered.
  cluster_.AddPod(PendingPod("big", "n1", "node=n1;cpu=0;mem=0|m=" + Uuid(5) + ":90000:10",
                             "2026-11-28T03:00:00Z"));
  AllocateOutcome outcome = allocator_.AllocateContainer({Id(0)});
  EXPECT_EQ(outcome.failure, AllocateFailure::kNoAssignment);
  EXPECT_EQ(cluster_.PodAnnotation("big", kBindPhaseAnnotation), kBindPhaseFailed);
  EXPECT_EQ(cluster_.PodAnnotation("big", kBindErrorAnnotation),
            "default/big container m: the assignment gives 90000 MiB of chip " + Uuid(5) +
                ", which has 81559 MiB");
  cluster_.AddPod(PendingPod(
      "twice", "n1", "node=n1;cpu=0;mem=0|m=" + Uuid(3) + ":1024:10," + Uuid(3) + ":1024:10",
      "2026-11-28T03:00:01Z"));
  outcome = allocator_.AllocateContainer({Id(0), Id(1)});
  EXPECT_EQ(outcome.failure, AllocateFailure::kNoAssignment);
  EXPECT_NE(cluster_.PodAnnotation("twice", kBindErrorAnnotation)
                .find("names chip " + Uuid(3) + " twice"),
            std::string::npos)
      << outcome.message;
  cluster_.AddPod(PendingPod("nothing", "n1", "node=n1;cpu=0;mem=0|m=" + Uuid(4) + ":0:30",
                             "2026-11-28T03:00:02Z"));
  outcome = allocator_.AllocateContainer({Id(0)});
  EXPECT_EQ(outcome.failure, AllocateFailure::kNoAssignment);
  EXPECT_NE(cluster_.PodAnnotation("nothing", kBindErrorAnnotation).find("0 MiB of chip"),
            std::string::npos);
  EXPECT_TRUE(allocator_.UsageByChip().empty());
}

TEST_F(AllocatorTest, AnMpsSliceWhoseDaemonIsDownFailsThePodInsteadOfRunningUnlimited) {
  PluginSettings mps = settings_;
  mps.isolation = IsolationMode::kMps;
  Allocator allocator("n1", inventory_, backend_, mps, &cluster_);
  std::string asked;
  allocator.SetMpsReadiness([&](const std::string& daemon) {
    asked = daemon;
    return daemon != Uuid(2);
  });
  cluster_.AddPod(PendingPod("down", "n1", "node=n1;cpu=0;mem=0|m=" + Uuid(2) + ":4096:20",
                             "2026-11-28T03:00:00Z"));
  AllocateOutcome outcome = allocator.AllocateContainer({Id(0)});
  EXPECT_EQ(outcome.failure, AllocateFailure::kNoAssignment);
  EXPECT_EQ(asked, Uuid(2));
  EXPECT_EQ(cluster_.PodAnnotation("down", kBindPhaseAnnotation), kBindPhaseFailed);
  EXPECT_NE(cluster_.PodAnnotation("down", kBindErrorAnnotation).find("MPS control daemon"),
            std::string::npos);
  // Two chips are served by the node-wide daemon, which answers.
  cluster_.AddPod(PendingPod(
      "up", "n1", "node=n1;cpu=0;mem=0|m=" + Uuid(2) + ":4096:20," + Uuid(3) + ":4096:20",
      "2026-11-28T03:00:01Z"));
  outcome = allocator.AllocateContainer({Id(0), Id(1)});
  ASSERT_TRUE(outcome.ok()) << outcome.message;
  EXPECT_EQ(asked, "all");
}

TEST_F(AllocatorTest, UnhealthyAssignedChipFailsThePodVisibly) {
  cluster_.AddPod(
      PendingPod("p", "n1", "node=n1;cpu=0;mem=0|m=" + Uuid(5) + ":1:1", "2026-11-28T03:00:00Z"));
  inventory_.ApplyHealth({{Uuid(5), partition::Health::kUnhealthy}});
  AllocateOutcome outcome = allocator_.AllocateContainer({Id(0)});
  EXPECT_EQ(outcome.failure, AllocateFailure::kNoAssignment);
  EXPECT_EQ(cluster_.PodAnnotation("p", kBindPhaseAnnotation), kBindPhaseFailed);
  EXPECT_NE(cluster_.PodAnnotation("p", kBindErrorAnnotation).find("Unhealthy"), std::string::npos);
}

TEST_F(AllocatorTest, PodAskingAnIsolationModeThisNodeDoesNotRunFailsVisibly) {
  PodSummary mps = PendingPod("mps", "n1", "node=n1;cpu=0;mem=0|m=" + Uuid(2) + ":4096:20",
                              "2026-11-28T03:00:00Z");
  mps.annotations[std::string(kube::kIsolationAnnotation)] = "mps";
  cluster_.AddPod(mps);
  AllocateOutcome outcome = allocator_.AllocateContainer({Id(0)});
  EXPECT_EQ(outcome.failure, AllocateFailure::kNoAssignment);
  EXPECT_EQ(cluster_.PodAnnotation("mps", kBindPhaseAnnotation), kBindPhaseFailed);
  EXPECT_EQ(cluster_.PodAnnotation("mps", kBindErrorAnnotation),
            "default/mps: the pod asks flexai.io/isolation=mps, this node's slice policy runs "
            "isolation hook");
  EXPECT_TRUE(allocator_.UsageByChip().empty());

  // The mode the node runs is served as usual.
  PodSummary hook = PendingPod("hook", "n1", "node=n1;cpu=0;mem=0|m=" + Uuid(3) + ":4096:20",
                               "2026-11-28T03:00:01Z");
  hook.annotations[std::string(kube::kIsolationAnnotation)] = "hook";
  cluster_.AddPod(hook);
  outcome = allocator_.AllocateContainer({Id(1)});
  ASSERT_TRUE(outcome.ok()) << outcome.message;
  EXPECT_EQ(outcome.setup.env["FLEXAI_ISOLATION"], "hook");
}

// The pod was deleted and recreated under its name while its success patch was on its way: the
// new pod is not marked, and the Allocate fails (the old pod is gone) with nothing recorded.
TEST_F(AllocatorTest, SuccessPatchNeverMarksAPodRecreatedUnderTheSameName) {
  const std::string assignment = "node=n1;cpu=0;mem=0|m=" + Uuid(1) + ":4096:20";
  cluster_.AddPod(PendingPod("p", "n1", assignment, "2026-11-28T03:00:00Z"));
  cluster_.SetDuringNextPatch([&] {
    cluster_.RemovePod("p");
    PodSummary again = PendingPod("p", "n1", assignment, "2026-11-28T03:00:05Z");
    again.uid = "uid-p-again";
    cluster_.AddPod(again);
  });
  AllocateOutcome outcome = allocator_.AllocateContainer({Id(0)});
  EXPECT_FALSE(outcome.ok());
  EXPECT_NE(outcome.message.find("another pod"), std::string::npos) << outcome.message;
  EXPECT_EQ(cluster_.PodAnnotation("p", kBindPhaseAnnotation), kBindPhaseAllocating);
  EXPECT_TRUE(allocator_.UsageByChip().empty());
}

TEST_F(AllocatorTest, RefusesARequestWithoutAssignment) {
  AllocateOutcome outcome = allocator_.AllocateContainer({Id(0)});
  EXPECT_EQ(outcome.failure, AllocateFailure::kNoAssignment);
  EXPECT_NE(outcome.message.find("1 chip(s)"), std::string::npos) << outcome.message;
  EXPECT_TRUE(allocator_.UsageByChip().empty());
}

TEST_F(AllocatorTest, RefusesDeviceIdsItDoesNotServe) {
  cluster_.AddPod(
      PendingPod("p", "n1", "node=n1;cpu=0;mem=0|m=" + Uuid(0) + ":1:1", "2026-11-28T03:00:00Z"));
  EXPECT_EQ(allocator_.AllocateContainer({"GPU-elsewhere::0"}).failure,
            AllocateFailure::kBadDeviceIds);
  EXPECT_EQ(allocator_.AllocateContainer({Id(0, 99)}).failure, AllocateFailure::kBadDeviceIds);
  EXPECT_EQ(allocator_.AllocateContainer({}).failure, AllocateFailure::kBadDeviceIds);
  EXPECT_EQ(cluster_.PodAnnotation("p", kBindPhaseAnnotation), kBindPhaseAllocating);
}

TEST_F(AllocatorTest, WithoutClusterEveryAllocateFailsClearly) {
  Allocator lonely{"n1", inventory_, backend_, settings_, nullptr};
  AllocateOutcome outcome = lonely.AllocateContainer({Id(0)});
  EXPECT_EQ(outcome.failure, AllocateFailure::kNoAssignment);
  EXPECT_NE(outcome.message.find("no Kubernetes connection"), std::string::npos);
}

TEST_F(AllocatorTest, ClusterErrorsAreUnavailableAndLeaveStateIntact) {
  cluster_.AddPod(
      PendingPod("p", "n1", "node=n1;cpu=0;mem=0|m=" + Uuid(0) + ":1:1", "2026-11-28T03:00:00Z"));
  cluster_.SetUnavailable(true);
  EXPECT_EQ(allocator_.AllocateContainer({Id(0)}).failure, AllocateFailure::kClusterUnavailable);
  cluster_.SetUnavailable(false);
  cluster_.SetPatchFails(true);
  EXPECT_EQ(allocator_.AllocateContainer({Id(0)}).failure, AllocateFailure::kClusterUnavailable);
  EXPECT_TRUE(allocator_.UsageByChip().empty());
  // kubelet retries: the same pod is found again once the apiserver answers.
  cluster_.SetPatchFails(false);
  EXPECT_TRUE(allocator_.AllocateContainer({Id(0)}).ok());
  EXPECT_EQ(cluster_.PodAnnotation("p", kBindPhaseAnnotation), kBindPhaseSuccess);
}

TEST_F(AllocatorTest, OneRequestUsesOneSettingsSnapshotForAllItsContainers) {
  auto store = std::make_shared<SettingsStore>(settings_);
  Allocator allocator{"n1", inventory_, backend_, store, &cluster_};
  cluster_.AddPod(PendingPod(
      "pair", "n1", "node=n1;cpu=0;mem=0|a=" + Uuid(0) + ":100:10|b=" + Uuid(1) + ":200:20",
      "2026-11-28T03:00:00Z"));
  // A policy reload lands while the request is between its containers.
  int lists = 0;
  cluster_.SetOnEveryList([&] {
    if (++lists == 2) {
      PluginSettings reloaded = settings_;
      reloaded.isolation = IsolationMode::kNone;
      store->Replace(reloaded);
    }
  });
  std::vector<AllocateOutcome> outcomes;
  Status done = allocator.AllocateRequest({{Id(4)}, {Id(5)}}, outcomes);
  ASSERT_TRUE(done.ok()) << done.message();
  ASSERT_GE(lists, 2);
  ASSERT_EQ(outcomes.size(), 2u);
  EXPECT_TRUE(outcomes[0].setup.env.contains("LD_PRELOAD"));  // hook mode, as the request began
  EXPECT_TRUE(outcomes[1].setup.env.contains("LD_PRELOAD"));
}

// "Same answer" means the same answer: a policy reload between an Allocate and kubelet's repeat
// of it does not change what the container is told.
TEST_F(AllocatorTest, ARepeatAfterAPolicyReloadGetsTheFirstAnswer) {
  auto store = std::make_shared<SettingsStore>(settings_);
  Allocator allocator{"n1", inventory_, backend_, store, &cluster_};
  cluster_.AddPod(PendingPod("one", "n1", "node=n1;cpu=0;mem=0|m=" + Uuid(2) + ":1024:10",
                             FormatRfc3339(std::chrono::system_clock::now())));
  AllocateOutcome first = allocator.AllocateContainer({Id(0, 1)});
  ASSERT_TRUE(first.ok()) << first.message;
  ASSERT_TRUE(first.setup.env.contains("LD_PRELOAD"));
  PluginSettings reloaded = settings_;
  reloaded.isolation = IsolationMode::kNone;
  store->Replace(reloaded);
  AllocateOutcome repeat = allocator.AllocateContainer({Id(0, 1)});
  ASSERT_TRUE(repeat.ok()) << repeat.message;
  EXPECT_TRUE(repeat.repeated);
  EXPECT_EQ(repeat.setup.env, first.setup.env);
}

// NPUs are named by logic IDs, which change when a chip before them on their card vanishes.
class RenumberingNpuBackend : public SimBackend {
 public:
  RenumberingNpuBackend() : SimBackend("", "n1") {}
  partition::Vendor vendor() const override { return partition::Vendor::kAscend; }
  std::map<std::string, std::string> VisibleDevicesEnv(
      const std::vector<partition::Chip>& chips) const override {
    return {{"ASCEND_VISIBLE_DEVICES", std::to_string(chips.front().index + renumbered_by)}};
  }
  int renumbered_by = 0;
};

TEST_F(AllocatorTest, ARepeatNamesNpusByTheirLogicIdsOfNow) {
  RenumberingNpuBackend npus;
  Allocator allocator{"n1", inventory_, npus, settings_, &cluster_};
  cluster_.AddPod(PendingPod("one", "n1", "node=n1;cpu=0;mem=0|m=" + Uuid(2) + ":1024:10",
                             FormatRfc3339(std::chrono::system_clock::now())));
  AllocateOutcome first = allocator.AllocateContainer({Id(0, 1)});
  ASSERT_TRUE(first.ok()) << first.message;
  EXPECT_EQ(first.setup.env["ASCEND_VISIBLE_DEVICES"], "2");
  npus.renumbered_by = 7;
  AllocateOutcome repeat = allocator.AllocateContainer({Id(0, 1)});
  ASSERT_TRUE(repeat.ok()) << repeat.message;
  EXPECT_TRUE(repeat.repeated);
  EXPECT_EQ(repeat.setup.env["ASCEND_VISIBLE_DEVICES"], "9");
  repeat.setup.env["ASCEND_VISIBLE_DEVICES"] = "2";
  EXPECT_EQ(repeat.setup.env, first.setup.env);  // the rest is the first answer
}

// The node's last line against an over-committing placement (an edited assignment trusted after
// a scheduler restart, a scheduler bug): a slice that would put more memory on a chip than the
// policy ever admits there is refused, and the pod marked failed; what is held stays.
TEST_F(AllocatorTest, ASliceThatWouldOverCommitItsChipIsRefused) {
  const int64_t chip = inventory_.chips()[2].memory_mib;
  cluster_.AddPod(PendingPod(
      "big", "n1", "node=n1;cpu=0;mem=0|m=" + Uuid(2) + ":" + std::to_string(chip - 1000) + ":10",
      "2026-11-28T03:00:00Z"));
  ASSERT_TRUE(allocator_.AllocateContainer({Id(0, 1)}).ok());
  cluster_.AddPod(PendingPod("over", "n1", "node=n1;cpu=0;mem=0|m=" + Uuid(2) + ":2000:10",
                             "2026-11-28T03:00:01Z"));
  AllocateOutcome refused = allocator_.AllocateContainer({Id(0, 2)});
  EXPECT_EQ(refused.failure, AllocateFailure::kNoAssignment);
  EXPECT_NE(refused.message.find("more than the " + std::to_string(chip) + " MiB"),
            std::string::npos)
      << refused.message;
  EXPECT_EQ(cluster_.PodAnnotation("over", kBindPhaseAnnotation), kBindPhaseFailed);
  EXPECT_EQ(allocator_.UsageByChip()[Uuid(2)].memory_mib, chip - 1000);
}

// Slices of a pod that ended moments ago, which the last reconcile still holds, do not count:
// the node's pods are listed afresh before a slice is refused.
TEST_F(AllocatorTest, ASliceOnRoomAPodJustLeftIsServed) {
  const int64_t chip = inventory_.chips()[2].memory_mib;
  auto big = PendingPod(
      "big", "n1", "node=n1;cpu=0;mem=0|m=" + Uuid(2) + ":" + std::to_string(chip - 1000) + ":10",
      "2026-11-28T03:00:00Z");
  cluster_.AddPod(big);
  ASSERT_TRUE(allocator_.AllocateContainer({Id(0, 1)}).ok());
  big = cluster_.pods().front();
  big.phase = "Succeeded";
  cluster_.RemovePod("big");
  cluster_.AddPod(big);
  cluster_.AddPod(PendingPod("next", "n1", "node=n1;cpu=0;mem=0|m=" + Uuid(2) + ":2000:10",
                             "2026-11-28T03:00:01Z"));
  AllocateOutcome next = allocator_.AllocateContainer({Id(0, 1)});
  ASSERT_TRUE(next.ok()) << next.message;
  EXPECT_EQ(next.pod_name, "next");
  EXPECT_EQ(allocator_.UsageByChip()[Uuid(2)].memory_mib, 2000);
}

TEST_F(AllocatorTest, MultiContainerPodIsSuccessfulAfterItsLastContainer) {
  cluster_.AddPod(PendingPod(
      "pair", "n1", "node=n1;cpu=0;mem=0|a=" + Uuid(0) + ":100:10|b=" + Uuid(1) + ":200:20",
      "2026-11-28T03:00:00Z"));
  AllocateOutcome a = allocator_.AllocateContainer({Id(4)});
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a.setup.env["FLEXAI_VISIBLE_DEVICES"], Uuid(0));
  EXPECT_EQ(cluster_.PodAnnotation("pair", kBindPhaseAnnotation), kBindPhaseAllocating);
  AllocateOutcome b = allocator_.AllocateContainer({Id(5)});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b.setup.env["FLEXAI_VISIBLE_DEVICES"], Uuid(1));
  EXPECT_EQ(cluster_.PodAnnotation("pair", kBindPhaseAnnotation), kBindPhaseSuccess);
  EXPECT_FALSE(allocator_.AllocateContainer({Id(6)}).ok());
}

// A restart between the containers of one pod: the next Allocate is for its second container,
// which must get the second container's slice, not the first one's again.
TEST_F(AllocatorTest, ARestartBetweenTheContainersOfAPodHandsOutTheNextContainer) {
  AddPair("2026-11-28T03:00:00Z");
  AllocateOutcome c1 = allocator_.AllocateContainer({Id(3, 0)});
  ASSERT_TRUE(c1.ok()) << c1.message;
  EXPECT_EQ(c1.setup.env["FLEXAI_VISIBLE_DEVICES"], Uuid(0));
  EXPECT_EQ(cluster_.PodAnnotation("pair", kBindPhaseAnnotation), kBindPhaseAllocating);

  Allocator restarted{"n1", inventory_, backend_, settings_, &cluster_};
  restarted.Reconcile(cluster_.pods());  // its metrics know c1 at once
  EXPECT_EQ(restarted.UsageByChip()[Uuid(0)].memory_mib, 2048);
  AllocateOutcome c2 = restarted.AllocateContainer({Id(3, 1)});
  ASSERT_TRUE(c2.ok()) << c2.message;
  EXPECT_EQ(c2.container, "c2");
  EXPECT_EQ(c2.setup.env["FLEXAI_VISIBLE_DEVICES"], Uuid(1));
  EXPECT_EQ(c2.setup.env["FLEXAI_MEMORY_LIMIT_MIB"], "3072");
  EXPECT_EQ(cluster_.PodAnnotation("pair", kBindPhaseAnnotation), kBindPhaseSuccess);
  EXPECT_EQ(cluster_.PodAnnotation("pair", kDeviceIdsAnnotation),
            "c1=" + Id(3, 0) + ";c2=" + Id(3, 1));
  EXPECT_EQ(restarted.UsageByChip()[Uuid(1)].memory_mib, 3072);
}

// Also before its first reconcile, and when kubelet repeats the first container's Allocate.
TEST_F(AllocatorTest, AfterARestartTheFirstContainerRepeatedGetsItsOwnAnswer) {
  // Bound just now: a repeat is recognised within kRepeatWindow of the bind.
  AddPair(FormatRfc3339(std::chrono::system_clock::now()));
  ASSERT_TRUE(allocator_.AllocateContainer({Id(3, 0)}).ok());
  Allocator restarted{"n1", inventory_, backend_, settings_, &cluster_};
  AllocateOutcome repeat = restarted.AllocateContainer({Id(3, 0)});
  ASSERT_TRUE(repeat.ok()) << repeat.message;
  EXPECT_TRUE(repeat.repeated);
  EXPECT_EQ(repeat.container, "c1");
  AllocateOutcome c2 = restarted.AllocateContainer({Id(3, 1)});
  ASSERT_TRUE(c2.ok()) << c2.message;
  EXPECT_EQ(c2.container, "c2");
}

// A restarted plugin's watch cache may not show the progress written just before: a pod it knows
// nothing of, with several containers, is matched against the API server's own list.
TEST_F(AllocatorTest, ARestartedPluginWhoseCacheLagsAsksTheApiServerBeforeTheFirstContainer) {
  AddPair("2026-11-28T03:00:00Z");
  const std::vector<PodSummary> before = cluster_.pods();
  ASSERT_TRUE(allocator_.AllocateContainer({Id(3, 0)}).ok());
  cluster_.SetLaggingCache(before);
  Allocator restarted{"n1", inventory_, backend_, settings_, &cluster_};
  AllocateOutcome c2 = restarted.AllocateContainer({Id(3, 1)});
  ASSERT_TRUE(c2.ok()) << c2.message;
  EXPECT_EQ(c2.container, "c2");
}

// The same with kubelet repeating the first container's Allocate: the repeat is recognised on
// the fresh list, not matched to the next container.
TEST_F(AllocatorTest, ARestartedPluginWhoseCacheLagsRecognisesARepeatOfTheFirstContainer) {
  AddPair(FormatRfc3339(std::chrono::system_clock::now()));
  const std::vector<PodSummary> before = cluster_.pods();
  ASSERT_TRUE(allocator_.AllocateContainer({Id(3, 0)}).ok());
  cluster_.SetLaggingCache(before);
  Allocator restarted{"n1", inventory_, backend_, settings_, &cluster_};
  AllocateOutcome repeat = restarted.AllocateContainer({Id(3, 0)});
  ASSERT_TRUE(repeat.ok()) << repeat.message;
  EXPECT_TRUE(repeat.repeated);
  EXPECT_EQ(repeat.container, "c1");
  AllocateOutcome c2 = restarted.AllocateContainer({Id(3, 1)});
  ASSERT_TRUE(c2.ok()) << c2.message;
  EXPECT_EQ(c2.container, "c2");
}

// A request whose later patch fails takes back what it answered, and the progress it already
// wrote on a pod says so again.
TEST_F(AllocatorTest, AFailedRequestTakesBackTheProgressItWrote) {
  cluster_.AddPod(PendingPod("pair", "n1",
                             "node=n1;cpu=0;mem=0|c1=" + Uuid(0) + ":2048:10|c2=" + Uuid(1) +
                                 ":1024:10," + Uuid(2) + ":1024:10",
                             "2026-11-28T03:00:00Z"));
  cluster_.AddPod(PendingPod("single", "n1", "node=n1;cpu=0;mem=0|m=" + Uuid(3) + ":1024:10",
                             "2026-11-28T03:00:01Z"));
  cluster_.FailNthPatch(2);  // pair's progress lands, single's success does not
  std::vector<AllocateOutcome> outcomes;
  Status done = allocator_.AllocateRequest({{Id(4, 0)}, {Id(5, 0)}}, outcomes);
  ASSERT_FALSE(done.ok());
  EXPECT_TRUE(allocator_.UsageByChip().empty());
  Allocator restarted{"n1", inventory_, backend_, settings_, &cluster_};
  AllocateOutcome again = restarted.AllocateContainer({Id(4, 1)});
  ASSERT_TRUE(again.ok()) << again.message;
  EXPECT_EQ(again.container, "c1");
}

// The progress annotation names a pod UID and its bind time: copied into another pod, or left
// from an earlier assignment of the same pod, it names no container.
TEST_F(AllocatorTest, ProgressOfAnotherPodOrAnEarlierAssignmentIsIgnored) {
  auto pod = PendingPod("pair", "n1",
                        "node=n1;cpu=0;mem=0|c1=" + Uuid(0) + ":2048:10|c2=" + Uuid(1) + ":3072:20",
                        "2026-11-28T03:00:00Z");
  for (const std::string& key :
       {std::string("uid-other@2026-11-28T03:00:00Z/"), pod.uid + "@2026-11-28T02:00:00Z/"}) {
    pod.annotations[kAllocatedContainersAnnotation] = key + "c1=" + Id(3, 0);
    cluster_.RemovePod("pair");
    cluster_.AddPod(pod);
    Allocator fresh{"n1", inventory_, backend_, settings_, &cluster_};
    AllocateOutcome first = fresh.AllocateContainer({Id(4, 0)});
    ASSERT_TRUE(first.ok()) << first.message;
    EXPECT_EQ(first.container, "c1") << key;
  }
}

TEST_F(AllocatorTest, APartAnswerThatCannotBeRecordedOnThePodIsNotGiven) {
  AddPair("2026-11-28T03:00:00Z");
  cluster_.SetPatchFails(true);
  AllocateOutcome refused = allocator_.AllocateContainer({Id(3, 0)});
  EXPECT_EQ(refused.failure, AllocateFailure::kClusterUnavailable);
  EXPECT_NE(refused.message.find("which containers are allocated"), std::string::npos)
      << refused.message;
  EXPECT_TRUE(allocator_.UsageByChip().empty());
  cluster_.SetPatchFails(false);
  AllocateOutcome retried = allocator_.AllocateContainer({Id(3, 0)});
  ASSERT_TRUE(retried.ok()) << retried.message;
  EXPECT_EQ(retried.container, "c1");
}

// A pod deleted (no longer listed after it was) is forgotten at once, not after the grace that
// covers a cache which has not shown a just-answered pod yet.
TEST_F(AllocatorTest, ReconcileForgetsAnAnsweredPodThatWasListedAndIsGone) {
  cluster_.AddPod(PendingPod("gone", "n1", "node=n1;cpu=0;mem=0|m=" + Uuid(3) + ":512:5",
                             "2026-11-28T03:00:00Z"));
  ASSERT_TRUE(allocator_.AllocateContainer({Id(3)}).ok());
  allocator_.Reconcile(cluster_.pods());
  EXPECT_EQ(allocator_.UsageByChip()[Uuid(3)].memory_mib, 512);
  cluster_.RemovePod("gone");
  allocator_.Reconcile(cluster_.pods());
  EXPECT_TRUE(allocator_.UsageByChip().empty());
}

TEST_F(AllocatorTest, ReconcileRecoversSuccessfulPodsAndForgetsDeletedOnes) {
  auto running = PendingPod("running", "n1", "node=n1;cpu=0;mem=0|m=" + Uuid(2) + ":512:5",
                            "2026-11-28T03:00:00Z");
  running.annotations[kBindPhaseAnnotation] = kBindPhaseSuccess;
  allocator_.Reconcile({running});
  EXPECT_EQ(allocator_.UsageByChip()[Uuid(2)].memory_mib, 512);
  allocator_.Reconcile({});
  EXPECT_TRUE(allocator_.UsageByChip().empty());
}

// The reconcile reads the watch cache, which may not show yet a pod the Allocate just matched
// (from a fresh list). Its first container must stay answered, or the next Allocate of the pod
// would hand out that container again.
TEST_F(AllocatorTest, ReconcileKeepsAPodJustAnsweredThatTheCacheDoesNotShowYet) {
  cluster_.AddPod(PendingPod("pair", "n1",
                             "node=n1;cpu=0;mem=0|a=" + Uuid(0) + ":512:5|b=" + Uuid(1) + ":512:5",
                             "2026-11-28T03:00:00Z"));
  AllocateOutcome a = allocator_.AllocateContainer({Id(4)});
  ASSERT_TRUE(a.ok()) << a.message;
  EXPECT_EQ(a.setup.env["FLEXAI_VISIBLE_DEVICES"], Uuid(0));
  allocator_.Reconcile({});  // a stale cache: no such pod yet
  AllocateOutcome b = allocator_.AllocateContainer({Id(5)});
  ASSERT_TRUE(b.ok()) << b.message;
  EXPECT_EQ(b.setup.env["FLEXAI_VISIBLE_DEVICES"], Uuid(1));

  // Long after, a pod the list still does not show is gone, and one it shows ended is forgotten
  // at once.
  allocator_.Reconcile({}, std::chrono::system_clock::now() + std::chrono::minutes(3));
  EXPECT_TRUE(allocator_.UsageByChip().empty());
}

TEST_F(AllocatorTest, ReconcileForgetsAnAnsweredPodTheListShowsEnded) {
  cluster_.AddPod(PendingPod("done", "n1", "node=n1;cpu=0;mem=0|m=" + Uuid(3) + ":512:5",
                             "2026-11-28T03:00:00Z"));
  ASSERT_TRUE(allocator_.AllocateContainer({Id(3)}).ok());
  auto ended = PendingPod("done", "n1", "node=n1;cpu=0;mem=0|m=" + Uuid(3) + ":512:5",
                          "2026-11-28T03:00:00Z");
  ended.phase = "Succeeded";
  allocator_.Reconcile({ended});
  EXPECT_TRUE(allocator_.UsageByChip().empty());
}

TEST_F(AllocatorTest, ReconcileForgetsAnAnsweredPodTheListShowsFailed) {
  cluster_.AddPod(PendingPod("failed", "n1", "node=n1;cpu=0;mem=0|m=" + Uuid(3) + ":512:5",
                             "2026-11-28T03:00:00Z"));
  ASSERT_TRUE(allocator_.AllocateContainer({Id(3)}).ok());
  auto listed = PendingPod("failed", "n1", "node=n1;cpu=0;mem=0|m=" + Uuid(3) + ":512:5",
                           "2026-11-28T03:00:00Z");
  listed.annotations[kBindPhaseAnnotation] = kBindPhaseFailed;
  allocator_.Reconcile({listed});
  EXPECT_TRUE(allocator_.UsageByChip().empty());
}

TEST_F(AllocatorTest, ReconcileRemovesAccountingDirectoriesOfPodsLongGone) {
  namespace fs = std::filesystem;
  for (const char* uid : {"uid-gone-long", "uid-gone-now", "uid-running"}) {
    fs::create_directories(dir_.File("shared") + "/" + uid + "/main");
  }
  auto old = fs::file_time_type::clock::now() - std::chrono::hours(1);
  fs::last_write_time(dir_.File("shared") + "/uid-gone-long", old);
  fs::last_write_time(dir_.File("shared") + "/uid-running", old);
  auto running = PendingPod("running", "n1", "node=n1;cpu=0;mem=0|main=" + Uuid(0) + ":1:1",
                            "2026-11-28T03:00:00Z");
  allocator_.Reconcile({running});
  EXPECT_FALSE(fs::exists(dir_.File("shared") + "/uid-gone-long"));
  EXPECT_TRUE(fs::exists(dir_.File("shared") + "/uid-gone-now"));  // within the grace period
  EXPECT_TRUE(fs::exists(dir_.File("shared") + "/uid-running"));
}

TEST_F(AllocatorTest, PendingChipsNamesTheNextAssignmentWithoutConsumingIt) {
  cluster_.AddPod(
      PendingPod("p", "n1", "node=n1;cpu=0;mem=0|m=" + Uuid(6) + ":1:1", "2026-11-28T03:00:00Z"));
  EXPECT_EQ(allocator_.PendingChips(1), (std::vector<std::string>{Uuid(6)}));
  EXPECT_TRUE(allocator_.PendingChips(2).empty());
  EXPECT_TRUE(allocator_.AllocateContainer({Id(0)}).ok());
}

}  // namespace
}  // namespace flexai::device_plugin
