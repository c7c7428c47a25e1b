// Activity boards: each container posts its processes' queued GPU work on a board of its own per
// GPU, and reads every container's boards of the GPU from a read-only folder of hard links, so
// that contended launch timings are told from clean ones.
#include "isolation/hook/device_activity.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

namespace flexai::isolation {
namespace {

constexpr std::int64_t kMs = 1'000'000;

TEST(ActivityBoardTest, OnlyOtherOwnersOverlappingPostsCount) {
  std::array<ActivitySlot, 8> slots{};
  ActivityBoard board(slots);
  std::size_t mine = kActivitySlots, theirs = kActivitySlots;
  board.Post(1, {10 * kMs, 50 * kMs}, 0, 10 * kMs, mine);
  EXPECT_EQ(CountOverlapping(slots, 1, {20 * kMs, 30 * kMs}), 0);  // only my own work
  EXPECT_EQ(CountOverlapping(slots, 2, {20 * kMs, 30 * kMs}), 1);
  board.Post(2, {25 * kMs, 40 * kMs}, 0, 25 * kMs, theirs);
  EXPECT_NE(mine, theirs);
  EXPECT_EQ(CountOverlapping(slots, 1, {20 * kMs, 30 * kMs}), 1);  // theirs from 25 ms
  EXPECT_EQ(CountOverlapping(slots, 1, {10 * kMs, 24 * kMs}), 0);  // a sample that ended first
  EXPECT_EQ(CountOverlapping(slots, 1, {40 * kMs, 45 * kMs}), 0);  // one that began after
  EXPECT_EQ(CountOverlapping(slots, 3, {30 * kMs, 35 * kMs}), 2);
  board.Withdraw(2);  // its process exited
  EXPECT_EQ(CountOverlapping(slots, 1, {20 * kMs, 30 * kMs}), 0);
}

TEST(ActivityBoardTest, AStalePostFreesItsSlotAndAFullBoardDropsPosts) {
  std::array<ActivitySlot, 2> slots{};
  ActivityBoard board(slots);
  std::size_t a = kActivitySlots, b = kActivitySlots, c = kActivitySlots;
  board.Post(1, {0, 5 * kMs}, 0, 0, a);
  board.Post(2, {0, 5 * kMs}, 0, 0, b);
  board.Post(3, {10 * kMs, 20 * kMs}, 0, 10 * kMs, c);  // full, nothing stale yet
  EXPECT_EQ(c, kActivitySlots);
  const std::int64_t later = 5 * kMs + kActivityStaleNs + kMs;
  board.Post(3, {later, later + 20 * kMs}, 0, later, c);  // owner 1's slot is stale: taken over
  EXPECT_EQ(c, a);
  EXPECT_EQ(CountOverlapping(slots, 1, {later, later + kMs}), 1);
  // Nothing of owner 1's periods is passed off as owner 3's: not busy before `later`.
  EXPECT_EQ(CountOverlapping(slots, 2, {kMs, 2 * kMs}), 0);
  EXPECT_EQ(CountOverlapping(slots, 2, {later - kMs, later}), 0);
  board.Post(1, {later, later + 30 * kMs}, 0, later, a);  // owner 1 comes back: the other one
  EXPECT_EQ(a, b);
}

// Containers on one GPU as the device plugin lays them out: each has its own shared directory
// with its board, hard-linked into the GPU's folder under the view directory.
class DeviceActivityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/flexai-activity-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    std::filesystem::create_directories(dir_ + "/view/GPU-a");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  // The shared directory of a new container on GPU-a.
  std::string Container(const std::string& name) {
    std::string shared = dir_ + "/" + name;
    std::filesystem::create_directories(shared);
    std::ofstream(shared + "/activity-GPU-a").flush();
    std::filesystem::create_hard_link(shared + "/activity-GPU-a", dir_ + "/view/GPU-a/" + name);
    return shared;
  }
  std::string view() const { return dir_ + "/view"; }
  std::string dir_;
};

TEST_F(DeviceActivityTest, ContainersOnTheSameGpuSeeEachOthersQueuedWork) {
  DeviceActivity first(Container("c1"), view(), {"GPU-a", "GPU-b"});
  DeviceActivity second(Container("c2"), view(), {"GPU-a"});
  EXPECT_TRUE(first.Posts(0));
  first.NoteLaunch(0, 10 * kMs, 100 * kMs);  // busy from 100 ms until 120 ms at least
  EXPECT_EQ(second.Contenders(0, {105 * kMs, 110 * kMs}), 1);
  EXPECT_EQ(first.Contenders(0, {105 * kMs, 110 * kMs}), 0);   // its own work is not contention
  EXPECT_EQ(second.Contenders(0, {90 * kMs, 99 * kMs}), 0);    // before it began
  EXPECT_EQ(second.Contenders(0, {200 * kMs, 210 * kMs}), 0);  // after it ended (with slack)
}

TEST_F(DeviceActivityTest, ProcessesOfOneContainerSeeEachOther) {
  std::string shared = Container("c1");
  DeviceActivity parent(shared, view(), {"GPU-a"});
  DeviceActivity sibling(shared, view(), {"GPU-a"});
  parent.NoteLaunch(0, 10 * kMs, 100 * kMs);
  EXPECT_EQ(sibling.Contenders(0, {105 * kMs, 110 * kMs}), 1);
}

TEST_F(DeviceActivityTest, QueuedWorkAddsUpButItsPostDoesNotDrift) {
  DeviceActivity launcher(Container("c1"), view(), {"GPU-a"});
  DeviceActivity neighbour(Container("c2"), view(), {"GPU-a"});
  for (int i = 0; i < 10; ++i) launcher.NoteLaunch(0, 5 * kMs, 0);  // 50 ms queued at once
  EXPECT_EQ(neighbour.Contenders(0, {60 * kMs, 61 * kMs}), 1);
  // A process busy at 70% of the GPU, as its costs are estimated, posts its queued work
  // stretched twice from now on: its post keeps near now, it does not run further and further
  // ahead (as adding up twice each cost would).
  std::int64_t now = 100 * kMs;
  for (int i = 0; i < 10'000; ++i, now += kMs) launcher.NoteLaunch(0, 7 * kMs / 10, now);
  EXPECT_EQ(neighbour.Contenders(0, {now + 100 * kMs, now + 101 * kMs}), 0);
  EXPECT_EQ(neighbour.Contenders(0, {now - kMs, now}), 1);
  // Costs over-estimated (3 ms a launch, 1 ms apart) add up, but only to kMaxAheadNs.
  for (int i = 0; i < 10'000; ++i, now += kMs) launcher.NoteLaunch(0, 3 * kMs, now);
  EXPECT_GT(launcher.QueueEnd(0), now + DeviceActivity::kMaxAheadNs / 2);
  EXPECT_LE(launcher.QueueEnd(0), now + DeviceActivity::kMaxAheadNs);
}

TEST_F(DeviceActivityTest, ASampleReadLateStillSeesTheBurstBeforeTheLastOne) {
  DeviceActivity neighbour(Container("c1"), view(), {"GPU-a"});
  DeviceActivity reader(Container("c2"), view(), {"GPU-a"});
  neighbour.NoteLaunch(0, 10 * kMs, 100 * kMs);  // a burst from 100 ms
  neighbour.NoteLaunch(0, 10 * kMs, 500 * kMs);  // and another, long after
  EXPECT_EQ(reader.Contenders(0, {105 * kMs, 110 * kMs}), 1);
  EXPECT_EQ(reader.Contenders(0, {300 * kMs, 310 * kMs}), 0);
}

TEST_F(DeviceActivityTest, AWithdrawnProcessIsNoLongerCounted) {
  DeviceActivity leaving(Container("c1"), view(), {"GPU-a"});
  DeviceActivity staying(Container("c2"), view(), {"GPU-a"});
  leaving.NoteLaunch(0, 10 * kMs, 100 * kMs);
  leaving.Withdraw();  // at exit
  EXPECT_EQ(staying.Contenders(0, {105 * kMs, 110 * kMs}), 0);
}

TEST_F(DeviceActivityTest, AForkChildPostsAsAProcessOfItsOwn) {
  DeviceActivity activity(Container("c1"), view(), {"GPU-a"});
  activity.NoteLaunch(0, 10 * kMs, 100 * kMs);
  EXPECT_EQ(activity.Contenders(0, {105 * kMs, 110 * kMs}), 0);
  activity.ForgetOwnerInChild();  // what the hook's fork handler does in the child
  EXPECT_EQ(activity.Contenders(0, {105 * kMs, 110 * kMs}), 1);  // the parent's post
}

TEST_F(DeviceActivityTest, WorkSinceAddsUpEveryProcesssEstimatedWorkOnTheGpu) {
  DeviceActivity closer(Container("c1"), view(), {"GPU-a"});
  DeviceActivity neighbour(Container("c2"), view(), {"GPU-a"});
  closer.NoteLaunch(0, 3 * kMs, 0);
  neighbour.NoteLaunch(0, 7 * kMs, 0);
  EXPECT_EQ(closer.WorkSince(0, 0), std::nullopt);  // the first call only sees where things stand
  // Launches far enough apart that every one is posted (the closer's own need not be).
  closer.NoteLaunch(0, 2 * kMs, kMs);
  neighbour.NoteLaunch(0, 5 * kMs, 100 * kMs);
  neighbour.NoteLaunch(0, 5 * kMs, 200 * kMs);
  EXPECT_EQ(closer.WorkSince(0, 0), 12 * kMs);
  EXPECT_EQ(closer.WorkSince(0, 0), 0);  // nothing since
  EXPECT_EQ(neighbour.WorkSince(0, 0), std::nullopt);
}

// Writes one slot of a board file, an owner and its work total (as a container may, whatever it
// likes).
void WriteSlot(const std::string& path, std::size_t index, std::uint64_t owner,
               std::int64_t work_ns) {
  ActivitySlot slot{};
  slot.owner = owner;
  slot.work_ns = work_ns;
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  file.seekp(static_cast<std::streamoff>(sizeof(ActivityHeader) + index * sizeof(ActivitySlot)));
  file.write(reinterpret_cast<const char*>(&slot), sizeof(slot));
}

TEST_F(DeviceActivityTest, WorkSinceBoundsWhatABoardClaims) {
  DeviceActivity closer(Container("c1"), view(), {"GPU-a"});
  std::string liar = Container("c2");
  DeviceActivity(liar, view(), {"GPU-a"}).NoteLaunch(0, kMs, 0);  // lays its board out
  const std::string board = liar + "/activity-GPU-a";
  closer.NoteLaunch(0, kMs, 0);
  WriteSlot(board, 0, 9, 50 * kMs);
  WriteSlot(board, 1, 10, -1);  // never counted
  ASSERT_EQ(closer.WorkSince(0, 0), std::nullopt);
  // A total that went back adds nothing; one that leapt adds at most the time since plus how far
  // ahead work may be queued.
  WriteSlot(board, 0, 9, 10 * kMs);
  EXPECT_EQ(closer.WorkSince(0, 1000 * kMs), 0);
  WriteSlot(board, 0, 9, std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(closer.WorkSince(0, 2000 * kMs), 1000 * kMs + DeviceActivity::kMaxAheadNs);
}

TEST_F(DeviceActivityTest, ABoardOfAnEarlierLayoutIsLaidOutAgain) {
  std::string shared = Container("c1");
  {
    std::ofstream old(shared + "/activity-GPU-a", std::ios::binary);
    old << "FLXACTV1" << std::string(5000, '\x7f');
  }
  DeviceActivity activity(shared, view(), {"GPU-a"});
  EXPECT_TRUE(activity.Posts(0));
  activity.NoteLaunch(0, 10 * kMs, 100 * kMs);
  DeviceActivity neighbour(Container("c2"), view(), {"GPU-a"});
  EXPECT_EQ(neighbour.Contenders(0, {105 * kMs, 110 * kMs}), 1);  // one post, no garbage slots
}

TEST_F(DeviceActivityTest, WorkSinceCannotTellWhenProcessesCameOrWent) {
  DeviceActivity closer(Container("c1"), view(), {"GPU-a"});
  closer.NoteLaunch(0, kMs, 0);
  ASSERT_EQ(closer.WorkSince(0, 0), std::nullopt);
  // A newcomer's work before it was first seen is unknown.
  DeviceActivity newcomer(Container("c2"), view(), {"GPU-a"});
  newcomer.NoteLaunch(0, 50 * kMs, 0);
  EXPECT_EQ(closer.WorkSince(0, 0), std::nullopt);
  newcomer.NoteLaunch(0, 5 * kMs, 100 * kMs);
  EXPECT_EQ(closer.WorkSince(0, 0), 5 * kMs);
  // So is a leaver's last work.
  newcomer.NoteLaunch(0, 5 * kMs, 200 * kMs);
  newcomer.Withdraw();
  EXPECT_EQ(closer.WorkSince(0, 0), std::nullopt);
  EXPECT_EQ(closer.WorkSince(0, 0), 0);
  // Without boards there is nothing to add up.
  DeviceActivity none("", "", {"GPU-a"});
  EXPECT_EQ(none.WorkSince(0, 0), std::nullopt);
  EXPECT_EQ(none.WorkSince(0, 0), std::nullopt);
}

// The latest busy-until on a board file.
std::int64_t LatestPost(const std::string& path) {
  std::array<ActivitySlot, kActivitySlots> slots{};
  std::ifstream file(path, std::ios::binary);
  file.seekg(sizeof(ActivityHeader));
  file.read(reinterpret_cast<char*>(slots.data()), sizeof(ActivitySlot) * slots.size());
  std::int64_t latest = 0;
  for (const ActivitySlot& slot : slots) latest = std::max(latest, slot.busy_until_ns);
  return latest;
}

TEST_F(DeviceActivityTest, AContinuousLauncherRewritesTheBoardOnlyWhenItsPostRunsOut) {
  std::string shared = Container("c1");
  DeviceActivity launcher(shared, view(), {"GPU-a"});
  DeviceActivity neighbour(Container("c2"), view(), {"GPU-a"});
  // Tiny kernels launched back to back: the post carries slack, so the board is not rewritten
  // on every launch, yet it always covers the queued work.
  std::int64_t now = 0, last_seen = 0;
  int rewrites = 0;
  for (int i = 0; i < 3000; ++i, now += 3'000) {  // 9 ms
    launcher.NoteLaunch(0, 1'000, now);
    ASSERT_EQ(neighbour.Contenders(0, {now, now + 1'000}), 1) << i;
    std::int64_t seen = LatestPost(shared + "/activity-GPU-a");
    rewrites += seen != last_seen;
    last_seen = seen;
  }
  EXPECT_LE(rewrites, 3);  // about once per slack interval (>= 5 ms), not 3000 times
}

TEST_F(DeviceActivityTest, ANeighboursBrokenOrForeignBoardIsIgnoredNotFatal) {
  DeviceActivity reader(Container("c1"), view(), {"GPU-a"});
  DeviceActivity writer(Container("c2"), view(), {"GPU-a"});
  writer.NoteLaunch(0, 10 * kMs, 100 * kMs);
  ASSERT_EQ(reader.Contenders(0, {105 * kMs, 110 * kMs}), 1);
  // What another container does to its own board cannot crash this process: it is read with
  // pread, so a truncation mid-way is a short read, not SIGBUS.
  std::filesystem::resize_file(dir_ + "/c2/activity-GPU-a", 30);  // within its first slot
  EXPECT_EQ(reader.Contenders(0, {105 * kMs, 110 * kMs}), 0);
  std::ofstream(dir_ + "/view/GPU-a/junk") << "not a board at all, but long enough to read";
  std::filesystem::create_directories(dir_ + "/view/GPU-a/folder");
  EXPECT_EQ(reader.Contenders(0, {105 * kMs, 110 * kMs}), 0);
}

TEST(DeviceActivityDisabledTest, WithoutTheFoldersNoNeighbourIsEverSeenOrPosted) {
  DeviceActivity none("", "", {"GPU-a"});
  none.NoteLaunch(0, kMs, 0);
  EXPECT_FALSE(none.Posts(0));
  EXPECT_EQ(none.Contenders(0, {0, kMs}), 0);
}

TEST_F(DeviceActivityTest, AnUnwritableSharedDirectoryMeansNoPostsNotAFailure) {
  DeviceActivity broken(dir_ + "/missing/deeper", view(), {"GPU-a"});
  broken.NoteLaunch(0, kMs, 0);
  EXPECT_FALSE(broken.Posts(0));
  EXPECT_EQ(broken.Contenders(0, {0, kMs}), 0);
}

}  // namespace
}  // namespace flexai::isolation
