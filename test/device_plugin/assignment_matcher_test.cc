#include "device_plugin/assignment_matcher.h"

#include <gtest/gtest.h>

#include "fake_cluster_client.h"

namespace flexai::device_plugin {
namespace {

using testing::PendingPod;

const std::set<std::string> kChips = {"GPU-0", "GPU-1", "GPU-2"};

TEST(AssignmentMatcher, PicksTheOldestPendingPodWithTheSameChipCount) {
  std::vector<PodSummary> pods = {
      PendingPod("newer", "n1", "node=n1;cpu=0;mem=0|main=GPU-0:1000:10", "2026-11-28T03:00:02Z"),
      PendingPod("older", "n1", "node=n1;cpu=0;mem=0|main=GPU-1:1000:10", "2026-11-28T03:00:01.5Z"),
      PendingPod("two", "n1", "node=n1;cpu=0;mem=0|main=GPU-0:1:1,GPU-1:1:1",
                 "2026-11-28T02:00:00Z"),
  };
  auto match = MatchAssignment(pods, "n1", 1, kChips, {});
  ASSERT_TRUE(match.ok()) << match.error().message;
  EXPECT_EQ(match->pod.name, "older");
  EXPECT_EQ(match->container().grants[0].chip_uuid, "GPU-1");
}

TEST(AssignmentMatcher, SkipsPodsNotAllocating) {
  auto pod = PendingPod("done", "n1", "node=n1;cpu=0;mem=0|main=GPU-0:1:1", "2026-11-28T03:00:00Z");
  pod.annotations[kBindPhaseAnnotation] = kBindPhaseSuccess;
  auto match = MatchAssignment({pod}, "n1", 1, kChips, {});
  ASSERT_FALSE(match.ok());
  EXPECT_NE(match.error().message.find("no pod on node n1"), std::string::npos);
}

// A cache that still shows the deleted predecessor of a pod recreated under its name (older, so
// first in line) must not hand it the new pod's Allocate.
TEST(AssignmentMatcher, SkipsPodsBeingDeleted) {
  auto gone = PendingPod("p", "n1", "node=n1;cpu=0;mem=0|main=GPU-0:1:1", "2026-11-28T03:00:00Z");
  gone.being_deleted = true;
  auto again = PendingPod("p", "n1", "node=n1;cpu=0;mem=0|main=GPU-1:1:1", "2026-11-28T03:00:09Z");
  again.uid = "uid-p-again";
  auto match = MatchAssignment({gone, again}, "n1", 1, kChips, {});
  ASSERT_TRUE(match.ok()) << match.error().message;
  EXPECT_EQ(match->pod.uid, "uid-p-again");
  auto alone = MatchAssignment({gone}, "n1", 1, kChips, {});
  ASSERT_FALSE(alone.ok());
  EXPECT_NE(alone.error().message.find("default/p: being deleted"), std::string::npos)
      << alone.error().message;
}

TEST(AssignmentMatcher, NeverGuessesWhenCountsDiffer) {
  auto pod = PendingPod("p", "n1", "node=n1;cpu=0;mem=0|main=GPU-0:1:1", "2026-11-28T03:00:00Z");
  auto match = MatchAssignment({pod}, "n1", 2, kChips, {});
  ASSERT_FALSE(match.ok());
  EXPECT_NE(match.error().message.find("skipped default/p: its next container main has 1 chip(s)"),
            std::string::npos)
      << match.error().message;
}

TEST(AssignmentMatcher, ExplainsSkippedPods) {
  auto bad = PendingPod("bad", "n1", "garbage", "2026-11-28T03:00:00Z");
  auto elsewhere =
      PendingPod("elsewhere", "n1", "node=n2;cpu=0;mem=0|main=GPU-0:1:1", "2026-11-28T03:00:00Z");
  auto foreign =
      PendingPod("foreign", "n1", "node=n1;cpu=0;mem=0|main=GPU-9:1:1", "2026-11-28T03:00:00Z");
  auto match = MatchAssignment({bad, elsewhere, foreign}, "n1", 1, kChips, {});
  ASSERT_FALSE(match.ok());
  EXPECT_NE(match.error().message.find("default/bad: malformed"), std::string::npos);
  EXPECT_NE(match.error().message.find("assigned to node n2"), std::string::npos);
  EXPECT_NE(match.error().message.find("not on this node"), std::string::npos);
}

TEST(AssignmentMatcher, ContainersOfOnePodAreMatchedInOrder) {
  auto pod = PendingPod("multi", "n1", "node=n1;cpu=0;mem=0|a=GPU-0:1:1|b=GPU-1:2:2",
                        "2026-11-28T03:00:00Z");
  auto first = MatchAssignment({pod}, "n1", 1, kChips, {});
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->container().container, "a");
  auto second = MatchAssignment({pod}, "n1", 1, kChips, {{pod.uid, "a"}});
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->container().container, "b");
  EXPECT_FALSE(MatchAssignment({pod}, "n1", 1, kChips, {{pod.uid, "a"}, {pod.uid, "b"}}).ok());
}

TEST(AssignmentMatcher, PodsWithoutBindTimeComeLast) {
  auto untimed = PendingPod("a-untimed", "n1", "node=n1;cpu=0;mem=0|m=GPU-0:1:1", "");
  auto timed =
      PendingPod("z-timed", "n1", "node=n1;cpu=0;mem=0|m=GPU-1:1:1", "2026-01-01T00:00:00Z");
  auto match = MatchAssignment({untimed, timed}, "n1", 1, kChips, {});
  ASSERT_TRUE(match.ok());
  EXPECT_EQ(match->pod.name, "z-timed");
}

TEST(AssignmentMatcher, EqualBindTimesFallBackToCreationThenName) {
  auto a = PendingPod("a", "n1", "node=n1;cpu=0;mem=0|m=GPU-0:1:1", "2026-11-28T03:00:00.000001Z");
  auto b = PendingPod("b", "n1", "node=n1;cpu=0;mem=0|m=GPU-1:1:1", "2026-11-28T03:00:00.000001Z");
  a.creation_timestamp = "2026-11-28T02:59:59Z";
  b.creation_timestamp = "2026-11-28T02:59:58Z";
  EXPECT_EQ(MatchAssignment({a, b}, "n1", 1, kChips, {})->pod.name, "b");
  b.creation_timestamp = a.creation_timestamp;
  EXPECT_EQ(MatchAssignment({b, a}, "n1", 1, kChips, {})->pod.name, "a");
}

TEST(AssignmentMatcher, TerminalPodsAreNeverMatched) {
  auto done = PendingPod("done", "n1", "node=n1;cpu=0;mem=0|m=GPU-0:1:1", "2026-11-28T03:00:00Z");
  done.phase = "Failed";
  EXPECT_FALSE(MatchAssignment({done}, "n1", 1, kChips, {}).ok());
}

TEST(AssignmentMatcher, OnlyThePodsNextContainerCanMatch) {
  // Container a (2 chips) comes first: a 1-device request must not jump to container b.
  auto pod = PendingPod("p", "n1", "node=n1;cpu=0;mem=0|a=GPU-0:1:1,GPU-1:1:1|b=GPU-2:1:1",
                        "2026-11-28T03:00:00Z");
  EXPECT_FALSE(MatchAssignment({pod}, "n1", 1, kChips, {}).ok());
  EXPECT_TRUE(MatchAssignment({pod}, "n1", 2, kChips, {}).ok());
}

// A minute after the test pods' bind time.
const auto kNow = *ParseRfc3339("2026-11-28T03:01:00Z");

PodSummary AnsweredPod(const std::string& name, const std::string& devices) {
  auto pod = PendingPod(name, "n1", "node=n1;cpu=0;mem=0|a=GPU-0:1:1|b=GPU-1:1:1,GPU-2:1:1",
                        "2026-11-28T03:00:00Z");
  pod.annotations[kBindPhaseAnnotation] = kBindPhaseSuccess;
  pod.annotations[kDeviceIdsAnnotation] = devices;
  return pod;
}

TEST(FindAnsweredContainer, RecognisesTheDeviceIdsOfTheAnnotationInAnyOrder) {
  auto pod = AnsweredPod("p", "a=GPU-0::4;b=GPU-1::0,GPU-2::7");
  auto found = FindAnsweredContainer({pod}, "n1", {"GPU-2::7", "GPU-1::0"}, kChips, {}, kNow);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->pod.name, "p");
  EXPECT_EQ(found->container().container, "b");
  EXPECT_FALSE(FindAnsweredContainer({pod}, "n1", {"GPU-1::0"}, kChips, {}, kNow));
  EXPECT_FALSE(FindAnsweredContainer({pod}, "n1", {"GPU-0::5"}, kChips, {}, kNow));
}

TEST(FindAnsweredContainer, KnowsWhatThisProcessAnsweredBeforeThePodShowsIt) {
  auto pod = PendingPod("p", "n1", "node=n1;cpu=0;mem=0|a=GPU-0:1:1|b=GPU-1:1:1",
                        "2026-11-28T03:00:00Z");  // still allocating: container b is not done
  AnsweredDeviceIds answered = {{{pod.uid, "a"}, {{"GPU-0::4"}, kNow}}};
  auto found = FindAnsweredContainer({pod}, "n1", {"GPU-0::4"}, kChips, answered, kNow);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->container().container, "a");
}

TEST(FindAnsweredContainer, PodsThatEndedOrFailedOrLeftAreNoRepeat) {
  // Running: kubelet admitted it, so a new container may get its IDs once it ends, even before
  // the API server shows that.
  auto running = AnsweredPod("running", "a=GPU-0::4");
  running.phase = "Running";
  EXPECT_FALSE(FindAnsweredContainer({running}, "n1", {"GPU-0::4"}, kChips, {}, kNow));
  running.phase = "Pending";
  EXPECT_TRUE(FindAnsweredContainer({running}, "n1", {"GPU-0::4"}, kChips, {}, kNow));
  auto ended = AnsweredPod("ended", "a=GPU-0::4");
  ended.phase = "Succeeded";
  auto failed = AnsweredPod("failed", "a=GPU-0::4");
  failed.annotations[kBindPhaseAnnotation] = kBindPhaseFailed;
  auto elsewhere = AnsweredPod("elsewhere", "a=GPU-0::4");
  elsewhere.annotations[kAssignmentAnnotation] = "node=n2;cpu=0;mem=0|a=GPU-0:1:1";
  EXPECT_FALSE(
      FindAnsweredContainer({ended, failed, elsewhere}, "n1", {"GPU-0::4"}, kChips, {}, kNow));
  // Known to this process but gone from the node: kubelet may reuse its IDs.
  EXPECT_FALSE(FindAnsweredContainer({}, "n1", {"GPU-0::4"}, kChips,
                                     {{{"uid-gone", "a"}, {{"GPU-0::4"}, kNow}}}, kNow));
}

TEST(FindAnsweredContainer, DeviceIdsOfAPodStillAllocatingAreNotTrusted) {
  auto pod = AnsweredPod("recreated", "a=GPU-0::4");
  ASSERT_TRUE(FindAnsweredContainer({pod}, "n1", {"GPU-0::4"}, kChips, {}, kNow));
  // A recreated pod kept the old annotation, but this plugin never answered it.
  pod.annotations[kBindPhaseAnnotation] = kBindPhaseAllocating;
  EXPECT_FALSE(FindAnsweredContainer({pod}, "n1", {"GPU-0::4"}, kChips, {}, kNow));
}

TEST(FindAnsweredContainer, AnAssignmentNamingAChipNotOnThisNodeIsNoRepeatSource) {
  auto pod = AnsweredPod("edited", "a=GPU-0::4");
  pod.annotations[kAssignmentAnnotation] = "node=n1;cpu=0;mem=0|a=GPU-bogus:1:1";
  EXPECT_FALSE(FindAnsweredContainer({pod}, "n1", {"GPU-0::4"}, kChips, {}, kNow));
}

TEST(FindAnsweredContainer, TheContainerMustHaveOneGrantPerDeviceId) {
  auto pod = AnsweredPod("edited", "a=GPU-0::4");
  pod.annotations[kAssignmentAnnotation] = "node=n1;cpu=0;mem=0|a=GPU-0:1:1,GPU-1:1:1";
  EXPECT_FALSE(FindAnsweredContainer({pod}, "n1", {"GPU-0::4"}, kChips, {}, kNow));
}

TEST(FindAnsweredContainer, APodBeingDeletedIsNoRepeatSource) {
  auto pod = AnsweredPod("leaving", "a=GPU-0::4");
  ASSERT_TRUE(FindAnsweredContainer({pod}, "n1", {"GPU-0::4"}, kChips, {}, kNow));
  pod.being_deleted = true;  // still Pending, but kubelet may give its devices to a new pod
  EXPECT_FALSE(FindAnsweredContainer({pod}, "n1", {"GPU-0::4"}, kChips, {}, kNow));
  AnsweredDeviceIds answered = {{{pod.uid, "a"}, {{"GPU-0::4"}, kNow}}};
  EXPECT_FALSE(FindAnsweredContainer({pod}, "n1", {"GPU-0::4"}, kChips, answered, kNow));
}

TEST(FindAnsweredContainer, AnAnswerOlderThanTheRepeatWindowIsNoRepeatSource) {
  auto pod = PendingPod("stuck", "n1", "node=n1;cpu=0;mem=0|a=GPU-0:1:1", "2026-11-28T03:00:00Z");
  AnsweredDeviceIds answered = {{{pod.uid, "a"}, {{"GPU-0::4"}, kNow}}};
  EXPECT_TRUE(
      FindAnsweredContainer({pod}, "n1", {"GPU-0::4"}, kChips, answered, kNow + kRepeatWindow));
  EXPECT_FALSE(FindAnsweredContainer({pod}, "n1", {"GPU-0::4"}, kChips, answered,
                                     kNow + kRepeatWindow + std::chrono::seconds(1)));
  // After a restart the annotation's age is bounded by the bind time; without one, no repeat.
  auto annotated = AnsweredPod("stuck", "a=GPU-0::4");
  EXPECT_TRUE(FindAnsweredContainer({annotated}, "n1", {"GPU-0::4"}, kChips, {}, kNow));
  EXPECT_FALSE(FindAnsweredContainer({annotated}, "n1", {"GPU-0::4"}, kChips, {},
                                     kNow + kRepeatWindow + std::chrono::seconds(1)));
  annotated.annotations.erase(kBindTimeAnnotation);
  EXPECT_FALSE(FindAnsweredContainer({annotated}, "n1", {"GPU-0::4"}, kChips, {}, kNow));
}

TEST(Rfc3339, RoundTripsAndRejectsJunk) {
  auto t = ParseRfc3339("2026-11-28T03:31:06Z");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(FormatRfc3339(*t), "2026-11-28T03:31:06Z");
  EXPECT_LT(*t, *ParseRfc3339("2026-11-28T03:31:06.25Z"));
  EXPECT_FALSE(ParseRfc3339("yesterday"));
  EXPECT_FALSE(ParseRfc3339("2026-11-28T03:31:06+01:00"));
}

}  // namespace
}  // namespace flexai::device_plugin
