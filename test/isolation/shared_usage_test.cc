// The shared accounting behind the hook: atomic quota reservations, dead-process reclaim and the
// launch token bucket, tested in-process.
#include "isolation/hook/shared_usage.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>
#include <vector>

#include "isolation/usage_reader.h"

namespace flexai::isolation {
namespace {

class SharedUsageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "flexai-usage-XXXXXX").string();
    config_.shared_dir = mkdtemp(pattern.data());
    config_.memory_limited = true;
    config_.memory_bytes = {1000};
  }
  void TearDown() override { std::filesystem::remove_all(config_.shared_dir); }
  std::unique_ptr<SharedUsage> Open() {
    std::string warning;
    auto usage = SharedUsage::Open(config_, warning);
    EXPECT_EQ(warning, "");
    return usage;
  }
  HookConfig config_;
};

TEST_F(SharedUsageTest, ReservationsStopAtTheQuota) {
  auto usage = Open();
  EXPECT_TRUE(usage->Reserve(0, 600, true));
  EXPECT_FALSE(usage->Reserve(0, 401, true));
  EXPECT_TRUE(usage->Reserve(0, 400, true));
  EXPECT_EQ(usage->UsedBytes(0), 1000u);
  usage->Release(0, 600);
  EXPECT_EQ(usage->UsedBytes(0), 400u);
}

TEST_F(SharedUsageTest, WithoutEnforcementReservationsOnlyCount) {
  auto usage = Open();
  EXPECT_TRUE(usage->Reserve(0, 5000, false));
  EXPECT_EQ(usage->UsedBytes(0), 5000u);
}

TEST_F(SharedUsageTest, TwoMappingsOfTheFileShareOneQuota) {
  auto first = Open();
  auto second = Open();
  EXPECT_TRUE(first->Reserve(0, 700, true));
  EXPECT_FALSE(second->Reserve(0, 400, true));
  EXPECT_EQ(second->UsedBytes(0), 700u);
}

TEST_F(SharedUsageTest, LaterOpenersCannotChangeTheRecordedLimitsOnlyTightenTheirOwn) {
  config_.cores_limited = true;
  config_.cores_percent = {20};
  auto creator = Open();
  // A process started with no limits at all, then one with larger limits.
  HookConfig unlimited;
  unlimited.shared_dir = config_.shared_dir;
  HookConfig larger = config_;
  larger.memory_bytes = {5000};
  larger.cores_percent = {80};
  for (const HookConfig& later_config : {unlimited, larger}) {
    std::string warning;
    auto later = SharedUsage::Open(later_config, warning);
    ASSERT_EQ(warning, "");
    EXPECT_EQ(later->LimitBytes(0), 1000u);
    EXPECT_EQ(later->CoresPercent(0), 20u);
    EXPECT_FALSE(later->Reserve(0, 1500, true));
    EXPECT_EQ(creator->LimitBytes(0), 1000u);
  }
  // A process with a smaller limit is held to it; the others keep the recorded one.
  HookConfig smaller = config_;
  smaller.memory_bytes = {500};
  smaller.cores_percent = {10};
  std::string warning;
  auto strict = SharedUsage::Open(smaller, warning);
  EXPECT_EQ(strict->LimitBytes(0), 500u);
  EXPECT_EQ(strict->CoresPercent(0), 10u);
  EXPECT_FALSE(strict->Reserve(0, 600, true));
  EXPECT_TRUE(creator->Reserve(0, 600, true));
  EXPECT_FALSE(strict->Reserve(0, 1, true));  // the 600 in use are past its own 500
  EXPECT_EQ(creator->CoresPercent(0), 20u);
  Result<UsageSnapshot> usage = ReadUsageFile(config_.shared_dir + "/usage.bin");
  ASSERT_TRUE(usage.ok()) << usage.error().message;
  EXPECT_EQ(usage->devices.at(0).limit_bytes, 1000u);
  EXPECT_EQ(usage->devices.at(0).cores_percent, 20u);
}

TEST_F(SharedUsageTest, ConcurrentReservationsNeverPassTheQuota) {
  auto usage = Open();
  std::atomic<int> granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        if (usage->Reserve(0, 7, true)) granted.fetch_add(1);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(granted.load(), 1000 / 7);
  EXPECT_LE(usage->UsedBytes(0), 1000u);
}

TEST_F(SharedUsageTest, ReclaimReturnsMemoryOfAProcessThatExitedHoldingIt) {
  auto usage = Open();
  pid_t child = fork();
  if (child == 0) {
    usage->ForgetProcessSlot();
    _exit(usage->Reserve(0, 800, true) ? 0 : 1);
  }
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(usage->UsedBytes(0), 800u);
  EXPECT_EQ(usage->ReclaimDeadProcesses(), 1);
  EXPECT_EQ(usage->UsedBytes(0), 0u);
}

TEST_F(SharedUsageTest, ReclaimReturnsMemoryOfAnEarlierProcessThatHadOurPid) {
  auto usage = Open();
  ASSERT_TRUE(usage->Reserve(0, 100, true));  // our own live slot
  // A slot left by a process of an earlier container that had our pid number.
  UsageProcess stale{};
  stale.pid = getpid();
  stale.start_ticks = ProcessStartTicks(getpid()) + 12345;
  stale.used_bytes[0] = 500;
  std::uint64_t device_used = 600;
  int fd = open((config_.shared_dir + "/usage.bin").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(pwrite(fd, &stale, sizeof(stale), kUsageProcessesOffset + 7 * sizeof(UsageProcess)),
            static_cast<ssize_t>(sizeof(stale)));
  ASSERT_EQ(pwrite(fd, &device_used, sizeof(device_used),
                   kUsageDevicesOffset + offsetof(UsageDevice, used_bytes)),
            static_cast<ssize_t>(sizeof(device_used)));
  close(fd);
  EXPECT_EQ(usage->ReclaimDeadProcesses(), 1);
  EXPECT_EQ(usage->UsedBytes(0), 100u);
}

TEST_F(SharedUsageTest, ReclaimLeavesLiveProcessesAlone) {
  auto usage = Open();
  ASSERT_TRUE(usage->Reserve(0, 300, true));
  EXPECT_EQ(usage->ReclaimDeadProcesses(), 0);
  EXPECT_EQ(usage->UsedBytes(0), 300u);
}

TEST_F(SharedUsageTest, UnreadableSharedDirFallsBackToPrivateAccountingWithAWarning) {
  config_.shared_dir = "/nonexistent/flexai";
  std::string warning;
  auto usage = SharedUsage::Open(config_, warning);
  ASSERT_NE(usage, nullptr);
  EXPECT_NE(warning.find("/nonexistent/flexai/usage.bin"), std::string::npos);
  EXPECT_FALSE(usage->Reserve(0, 2000, true));  // the quota still holds
}

TEST_F(SharedUsageTest, TokenBucketChargesDebtAtTheShare) {
  auto usage = Open();
  const std::int64_t start = 1'000'000'000;
  // The first take fills the bucket with its burst (20 ms of wall time at 50% = 10 ms).
  EXPECT_EQ(usage->TakeLaunchTokens(0, 10'000'000, start, 50), 0);
  // The next 5 ms of GPU time are debt: at 50% that takes 10 ms of wall time to repay.
  EXPECT_EQ(usage->TakeLaunchTokens(0, 5'000'000, start, 50), 10'000'000);
  // After 10 ms the debt is repaid.
  EXPECT_EQ(usage->TakeLaunchTokens(0, 0, start + 10'000'000, 50), 0);
}

TEST_F(SharedUsageTest, FullShareNeverWaits) {
  auto usage = Open();
  EXPECT_EQ(usage->TakeLaunchTokens(0, 1'000'000'000, 1, 100), 0);
}

}  // namespace
}  // namespace flexai::isolation
