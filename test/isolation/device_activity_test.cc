// The node-wide activity board per GPU: who else has work queued, so that contended launch
// timings are told from clean ones.
#include "isolation/hook/device_activity.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace flexai::isolation {
namespace {

constexpr std::int64_t kMs = 1'000'000;

TEST(ActivityBoardTest, OnlyOtherOwnersPostsCount) {
  std::array<ActivitySlot, 8> slots{};
  ActivityBoard board(slots);
  std::size_t mine = kActivitySlots, theirs = kActivitySlots;
  board.Post(1, 50 * kMs, 10 * kMs, mine);
  EXPECT_FALSE(board.OthersBusyAfter(1, 20 * kMs));  // only my own work
  EXPECT_TRUE(board.OthersBusyAfter(2, 20 * kMs));
  board.Post(2, 30 * kMs, 10 * kMs, theirs);
  EXPECT_NE(mine, theirs);
  EXPECT_TRUE(board.OthersBusyAfter(1, 20 * kMs));   // theirs runs past 20 ms
  EXPECT_FALSE(board.OthersBusyAfter(1, 30 * kMs));  // and ends at 30 ms
  board.Post(2, 80 * kMs, 40 * kMs, theirs);         // a later post moves their end on
  EXPECT_TRUE(board.OthersBusyAfter(1, 60 * kMs));
  EXPECT_EQ(slots[theirs].busy_until_ns, 80 * kMs);
}

TEST(ActivityBoardTest, AStalePostFreesItsSlotAndAFullBoardDropsPosts) {
  std::array<ActivitySlot, 2> slots{};
  ActivityBoard board(slots);
  std::size_t a = kActivitySlots, b = kActivitySlots, c = kActivitySlots;
  board.Post(1, 5 * kMs, 0, a);
  board.Post(2, 5 * kMs, 0, b);
  board.Post(3, 20 * kMs, 10 * kMs, c);  // full, nothing stale yet
  EXPECT_EQ(c, kActivitySlots);
  EXPECT_FALSE(board.OthersBusyAfter(1, 6 * kMs));
  const std::int64_t later = 5 * kMs + kActivityStaleNs + kMs;
  board.Post(3, later + 20 * kMs, later, c);  // owner 1's slot is stale: taken over
  EXPECT_EQ(c, a);
  EXPECT_TRUE(board.OthersBusyAfter(1, later));
  board.Post(1, later + 30 * kMs, later, a);  // owner 1 comes back: the other stale slot
  EXPECT_EQ(a, b);
}

// The latest busy-until on a board file.
std::int64_t LatestPost(const std::string& path) {
  std::array<ActivitySlot, kActivitySlots> slots{};
  std::ifstream(path, std::ios::binary)
      .read(reinterpret_cast<char*>(slots.data()), sizeof(ActivitySlot) * slots.size());
  std::int64_t latest = 0;
  for (const ActivitySlot& slot : slots) latest = std::max(latest, slot.busy_until_ns);
  return latest;
}

class DeviceActivityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/flexai-activity-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(DeviceActivityTest, ProcessesOnTheSameGpuSeeEachOthersQueuedWork) {
  // Two instances stand for two processes (each has its own random owner token).
  DeviceActivity first(dir_, {"GPU-a", "GPU-b"});
  DeviceActivity second(dir_, {"GPU-a"});
  first.NoteLaunch(0, 10 * kMs, 100 * kMs);  // queued until 120 ms at least (stretched x2)
  EXPECT_TRUE(second.Contended(0, 110 * kMs));
  EXPECT_FALSE(first.Contended(0, 110 * kMs));  // its own work is not contention
  EXPECT_FALSE(second.Contended(0, 130 * kMs));
  EXPECT_FALSE(second.Contended(1, 0));  // GPU-b is another board
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/GPU-a"));
  EXPECT_EQ(std::filesystem::status(dir_ + "/GPU-a").permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
                std::filesystem::perms::group_read | std::filesystem::perms::group_write |
                std::filesystem::perms::others_read | std::filesystem::perms::others_write);
}

TEST_F(DeviceActivityTest, QueuedWorkAddsUpAcrossLaunches) {
  DeviceActivity launcher(dir_, {});
  DeviceActivity neighbour(dir_, {});
  for (int i = 0; i < 10; ++i) launcher.NoteLaunch(0, 5 * kMs, 0);  // 50 ms queued at once
  EXPECT_TRUE(neighbour.Contended(0, 60 * kMs));
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/device-0"));  // no UUID: named by slot
}

TEST_F(DeviceActivityTest, AForkChildPostsAsAProcessOfItsOwn) {
  DeviceActivity activity(dir_, {});
  activity.NoteLaunch(0, 10 * kMs, 100 * kMs);
  EXPECT_FALSE(activity.Contended(0, 110 * kMs));
  activity.ForgetOwnerInChild();                  // what the hook's fork handler does in the child
  EXPECT_TRUE(activity.Contended(0, 110 * kMs));  // the parent's post is another process's
}

TEST_F(DeviceActivityTest, AContinuousLauncherRewritesTheBoardOnlyWhenItsPostRunsOut) {
  DeviceActivity launcher(dir_, {});
  DeviceActivity neighbour(dir_, {});
  // Tiny kernels launched back to back: the post carries slack, so the board is not rewritten
  // on every launch, yet it always covers the queued work.
  std::int64_t now = 0;
  std::int64_t last_seen = 0;
  int rewrites = 0;
  for (int i = 0; i < 3000; ++i, now += 3'000) {  // 9 ms
    launcher.NoteLaunch(0, 1'000, now);
    ASSERT_TRUE(neighbour.Contended(0, now + 1'000)) << i;
    std::int64_t seen = LatestPost(dir_ + "/device-0");
    rewrites += seen != last_seen;
    last_seen = seen;
  }
  EXPECT_LE(rewrites, 3);  // about once per kPostSlackNs, not 3000 times
  EXPECT_FALSE(neighbour.Contended(0, now + DeviceActivity::kPostSlackNs + kMs));
}

TEST(DeviceActivityDisabledTest, WithoutADirectoryNoNeighbourIsEverSeen) {
  DeviceActivity none("", {"GPU-a"});
  none.NoteLaunch(0, kMs, 0);
  EXPECT_FALSE(none.enabled());
  EXPECT_FALSE(none.Contended(0, 0));
}

TEST_F(DeviceActivityTest, AnUnwritableDirectoryMeansNoBoardNotAFailure) {
  DeviceActivity broken(dir_ + "/missing/deeper", {"GPU-a"});
  broken.NoteLaunch(0, kMs, 0);
  EXPECT_FALSE(broken.Contended(0, 0));
}

}  // namespace
}  // namespace flexai::isolation
