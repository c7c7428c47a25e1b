// Compute shares of libflexai-cuda.so: launches are counted and throttled to the cores share.
// Only coarse, load-proof bounds are asserted: throttling can only be slowed down further by a
// busy machine, so "at least this slow" holds; exact ratios belong to bench/gpu/isolation.sh.
#include <gtest/gtest.h>

#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <thread>

#include "isolation/hook/device_activity.h"
#include "isolation/usage_layout.h"
#include "isolation/usage_reader.h"
#include "probe_runner.h"

namespace flexai::isolation {
namespace {

using testing::ProbeRunner;

long LaunchMilliseconds(const std::vector<std::string>& lines) {
  long ms = -1;
  for (const std::string& line : lines) std::sscanf(line.c_str(), "launch ok ms=%ld", &ms);
  return ms;
}

TEST(HookLaunchTest, LaunchesAreThrottledToTheCoresShare) {
  ProbeRunner probe;
  probe.env["FLEXAI_CORES_LIMIT"] = "20";
  // 100 kernels of 2 ms = 200 ms of GPU time; at a 20% share that needs about 1 s of wall time.
  long ms = LaunchMilliseconds(probe.Run({"launch", "100", "2000"}));
  ASSERT_GE(ms, 0);
  EXPECT_GE(ms, 600);
}

TEST(HookLaunchTest, TheFirstThrottledLaunchOfAKernelDoesNotWaitForItToEnd) {
  // A kernel may wait for what its host thread does after the launch returns (a flag it
  // writes, the peer GPU's half of an NCCL collective): timing the first launch of a kernel
  // must not block until that kernel ends.
  ProbeRunner probe;
  probe.env["FLEXAI_CORES_LIMIT"] = "50";
  long returned_ms = -1, ms = -1;
  for (const std::string& line : probe.Run({"launch", "1", "3000000"})) {
    std::sscanf(line.c_str(), "launch ok ms=%ld returned_ms=%ld", &ms, &returned_ms);
  }
  ASSERT_GE(ms, 3000);  // the fake device runs the 3 s kernel
  EXPECT_LT(returned_ms, 1500);
}

TEST(HookLaunchTest, ABurstOfANewLongKernelIsChargedOnceItsTimingArrives) {
  ProbeRunner probe;
  probe.env["FLEXAI_CORES_LIMIT"] = "50";
  // 6 launches of a 150 ms kernel are issued before the first one's timing arrives; 900 ms of
  // GPU time at a 50% share needs about 1.8 s: the burst's debt is settled afterwards, so a
  // second burst of the same kernel is held back.
  long first = -1, second = -1;
  for (const std::string& line : probe.Run({"launch", "6", "150000", "launch", "6", "150000"})) {
    long ms = -1;
    if (std::sscanf(line.c_str(), "launch ok ms=%ld", &ms) == 1) (first < 0 ? first : second) = ms;
  }
  ASSERT_GE(first, 900);
  // 1.8 s of GPU time at 50% takes >= 3.6 s; charging only the first launch of the burst its
  // real cost gives about 3.1 s.
  EXPECT_GE(first + second, 3500);
}

TEST(HookLaunchTest, OneKernelOverGridsOfSeveralSizesIsChargedPerGrid) {
  ProbeRunner probe;
  probe.env["FLEXAI_CORES_LIMIT"] = "50";
  probe.env["FAKE_CUDA_GRID_SCALES"] = "1";
  // 20 launches over 1 block (1 ms) and 20 over 10 blocks (10 ms): 220 ms of GPU time, which at
  // a 50% share needs about 440 ms. Costs learned per kernel alone would charge the large grid
  // what the small one costs, and the run would take the 220 ms the device needs.
  std::vector<std::string> lines = probe.Run({"launch-shapes", "40", "1000", "10"});
  ASSERT_EQ(lines.size(), 1u);
  long ms = -1;
  ASSERT_EQ(std::sscanf(lines[0].c_str(), "launch-shapes ok ms=%ld", &ms), 1) << lines[0];
  EXPECT_GE(ms, 380);
}

TEST(HookLaunchTest, FullShareRunsAtDeviceSpeed) {
  ProbeRunner probe;
  probe.env["FLEXAI_CORES_LIMIT"] = "100";
  long ms = LaunchMilliseconds(probe.Run({"launch", "100", "2000"}));
  ASSERT_GE(ms, 200);  // the fake device itself needs 200 ms
  // Generous: only catches a throttle that engages when it must not (20% would take ~1000 ms).
  EXPECT_LT(ms, 900);
}

TEST(HookLaunchTest, ThrottlingIsSharedByTheProcessesOfAContainer) {
  ProbeRunner probe;
  probe.env["FLEXAI_CORES_LIMIT"] = "20";
  // Parent and fork child each launch 50 x 2 ms; together they are held to 20%: >= ~1 s in all.
  std::vector<std::string> lines =
      probe.Run({"child", "launch", "50", "2000", "end", "launch", "50", "2000"});
  long child_ms = -1, parent_ms = -1;
  for (const std::string& line : lines) {
    std::sscanf(line.c_str(), "child: launch ok ms=%ld", &child_ms);
    std::sscanf(line.c_str(), "launch ok ms=%ld", &parent_ms);
  }
  ASSERT_GE(child_ms, 0);
  ASSERT_GE(parent_ms, 0);
  EXPECT_GE(child_ms + parent_ms, 600);
}

TEST(HookLaunchTest, PerThreadStreamLookupsThroughGetProcAddressAreIntercepted) {
  ProbeRunner probe;
  probe.env["FLEXAI_MEMORY_LIMIT_MIB"] = "256";
  std::vector<std::string> lines =
      probe.Run({"--lookup=getproc", "--ptsz", "async", "200", "async", "100", "calls",
                 "cuMemAllocAsync_ptsz", "launch", "3", "10", "calls", "cuLaunchKernel_ptsz"});
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0], "async ok");
  EXPECT_EQ(lines[1], "async oom");
  EXPECT_EQ(lines[2], "calls cuMemAllocAsync_ptsz 1");  // the refused one never reached the driver
  EXPECT_EQ(lines[4], "calls cuLaunchKernel_ptsz 3");
  Result<UsageSnapshot> usage = ReadUsageFile(probe.usage_path());
  ASSERT_TRUE(usage.ok()) << usage.error().message;
  EXPECT_EQ(usage->devices.at(0).launches_total, 3u);
}

TEST(HookLaunchTest, EveryLaunchEntryPointIsCounted) {
  for (const char* lookup : {"--lookup=dlsym", "--lookup=getproc"}) {
    ProbeRunner probe;
    EXPECT_EQ(probe.Run({lookup, "launch-variants"}),
              (std::vector<std::string>{"launch-variants ok ok ok"}));
    Result<UsageSnapshot> usage = ReadUsageFile(probe.usage_path());
    ASSERT_TRUE(usage.ok()) << usage.error().message;
    EXPECT_EQ(usage->devices.at(0).launches_total, 3u) << lookup;
  }
}

// Lays out a container's activity board of `gpu` as Allocate does: its own file in its shared
// directory, hard-linked into the GPU's folder under `view`, which is FLEXAI_ACTIVITY_DIR.
void LinkActivityBoard(ProbeRunner& probe, const std::string& view, const std::string& gpu) {
  std::filesystem::create_directories(view + "/" + gpu);
  std::string board = probe.shared_dir() + "/activity-" + gpu;
  std::ofstream(board).flush();
  std::filesystem::create_hard_link(
      board,
      view + "/" + gpu + "/" + std::filesystem::path(probe.shared_dir()).filename().string());
  probe.env["FLEXAI_ACTIVITY_DIR"] = view;
  probe.env["FLEXAI_VISIBLE_DEVICES"] = gpu;
}

// The owners with a post on a board file that runs past `after_ns` (CLOCK_MONOTONIC).
std::set<std::uint64_t> BoardOwners(const std::string& path, std::int64_t after_ns = 0) {
  std::array<ActivitySlot, kActivitySlots> slots{};
  std::ifstream file(path, std::ios::binary);
  file.seekg(sizeof(ActivityHeader));
  file.read(reinterpret_cast<char*>(slots.data()), sizeof(ActivitySlot) * slots.size());
  std::set<std::uint64_t> owners;
  for (const ActivitySlot& slot : slots) {
    if (slot.owner != 0 && slot.busy_until_ns >= after_ns) owners.insert(slot.owner);
  }
  return owners;
}

TEST(HookLaunchTest, AForkChildPostsItsWorkUnderItsOwnName) {
  ProbeRunner probe;
  LinkActivityBoard(probe, probe.shared_dir() + "/view", "GPU-a");
  std::string board = probe.shared_dir() + "/activity-GPU-a";
  std::string posted = probe.shared_dir() + "/posted", done = probe.shared_dir() + "/done";
  std::set<std::uint64_t> owners;
  std::thread reader([&] {
    for (int tries = 0; tries < 3000 && !std::filesystem::exists(posted); ++tries)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    owners = BoardOwners(board);
    std::ofstream(done).put('x');
  });
  // Parent and child each launch 300 ms of work: two processes on the GPU, two posts.
  std::vector<std::string> lines = probe.Run({"launch", "1", "300000", "child", "launch", "1",
                                              "300000", "touch", posted, "wait-file", done, "end"});
  reader.join();
  EXPECT_EQ(owners.size(), 2u);
}

TEST(HookLaunchTest, AProcessWithdrawsItsPostsAtExit) {
  ProbeRunner probe;
  LinkActivityBoard(probe, probe.shared_dir() + "/view", "GPU-a");
  // Once the 30 ms kernel's cost is known (its timing is read at the 16th launch), 30 of them
  // queue 900 ms of work, posted as lasting twice that: the post runs far past the process's
  // exit, where it is taken back.
  probe.Run({"launch", "1", "30000", "launch", "20", "1", "launch", "30", "30000"});
  EXPECT_TRUE(BoardOwners(probe.shared_dir() + "/activity-GPU-a").empty());  // owner cleared
}

// Two containers' processes time-slice one GPU: while the neighbour (a memory-only slice, not
// throttled) keeps the fake GPU busy, every kernel of the 50% process takes twice its cost.
// Charged by those timings it would get half its share (a 30% slice got 21% beside a 70% one on
// an H200); the activity board tells the hook that its timings were contended, so its kernels
// stay charged their clean cost.
TEST(HookLaunchTest, ANeighboursTimeSlicesDoNotRaiseTheChargedCost) {
  ProbeRunner small, big;
  const std::string dir = small.shared_dir();
  for (ProbeRunner* probe : {&small, &big}) {
    LinkActivityBoard(*probe, dir + "/view", "GPU-shared");
    probe->env["FAKE_CUDA_SHARED_GPU"] = dir + "/gpu";
  }
  small.env["FLEXAI_CORES_LIMIT"] = "50";
  big.env["FLEXAI_CORES_LIMIT"] = "100";
  std::vector<std::string> big_lines;
  std::thread neighbour([&] {
    // One timed kernel, then 250 x 10 ms queued at once: busy for 2.5 s, longer than the small
    // process needs even when it is over-charged.
    big_lines = big.Run({"wait-file", dir + "/small-ready", "launch", "1", "10000", "touch",
                         dir + "/big-ready", "launch", "250", "10000"});
  });
  // The first (clean) timing comes before the neighbour starts; then 600 x 1 ms beside it, far
  // more than the cost model's window of 8 samples (one per 16 to 32 throttled launches).
  std::vector<std::string> lines =
      small.Run({"launch", "1", "1000", "touch", dir + "/small-ready", "wait-file",
                 dir + "/big-ready", "sleep", "20", "launch", "600", "1000"});
  neighbour.join();
  ASSERT_EQ(lines.size(), 2u);
  ASSERT_EQ(big_lines.size(), 2u);
  Result<UsageSnapshot> usage = ReadUsageFile(small.usage_path());
  ASSERT_TRUE(usage.ok()) << usage.error().message;
  const auto& device = usage->devices.at(0);
  ASSERT_EQ(device.launches_total, 601u);
  // Charged by its contended timings the mean would reach about 1.5 ms.
  const double mean_ms = static_cast<double>(device.busy_ns_total) / 601 / 1e6;
  EXPECT_LT(mean_ms, 1.2) << lines[1];
  EXPECT_GE(mean_ms, 0.95);
}

// Device 0's record in usage.bin as it is now (the raw record: the reader hides the window).
UsageDevice RawDevice0(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  UsageDevice device{};
  if (bytes.size() >= kUsageDevicesOffset + sizeof(UsageDevice))
    std::memcpy(&device, bytes.data() + kUsageDevicesOffset, sizeof(UsageDevice));
  return device;
}

// Unthrottled launches are tallied per thread; a slow launcher (one graph per step) must still
// reach usage.bin within about a second, or its share window goes stale and reads as idle.
TEST(HookLaunchTest, ASlowUnthrottledLauncherKeepsTheShareWindowMoving) {
  ProbeRunner probe;
  probe.env["FLEXAI_CORES_LIMIT"] = "100";
  std::string launched = probe.shared_dir() + "/launched";
  std::string done = probe.shared_dir() + "/done";
  std::vector<std::string> lines;
  // Three launches 600 ms apart, far fewer than one tally batch; the probe then stays alive (its
  // thread's tally is not flushed at exit yet) while the file is read.
  std::thread runner([&] {
    lines = probe.Run({"launch", "1", "1000", "sleep", "600", "launch", "1", "1000", "sleep", "600",
                       "launch", "1", "1000", "touch", launched, "wait-file", done});
  });
  for (int tries = 0; tries < 3000 && !std::filesystem::exists(launched); ++tries)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  UsageDevice device = RawDevice0(probe.usage_path());
  std::int64_t now = MonotonicNowNs();
  std::ofstream(done).put('x');
  runner.join();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_GE(device.launches_total, 2u);  // the first launch and the one a second later
  EXPECT_GT(device.busy_ns_total, 0u);
  EXPECT_GT(device.window_start_ns, 0);
  EXPECT_LT(now - device.window_start_ns, 1'000'000'000);  // moved on at the 1.2 s launch
}

// The pre-4.0 entry points cuLaunch, cuLaunchGrid and cuLaunchGridAsync go through the same
// throttle as cuLaunchKernel.
class LegacyLaunchTest : public ::testing::TestWithParam<const char*> {};

TEST_P(LegacyLaunchTest, IsThrottledToTheCoresShare) {
  ProbeRunner probe;
  probe.env["FLEXAI_CORES_LIMIT"] = "20";
  // 100 kernels of 2 ms = 200 ms of GPU time; at a 20% share that needs about 1 s of wall time.
  std::vector<std::string> lines = probe.Run({"launch-old", GetParam(), "100", "2000"});
  ASSERT_EQ(lines.size(), 1u);
  long ms = -1;
  std::string format = std::string("launch-old ") + GetParam() + " ok ms=%ld";
  ASSERT_EQ(std::sscanf(lines[0].c_str(), format.c_str(), &ms), 1) << lines[0];
  EXPECT_GE(ms, 600);
}

TEST_P(LegacyLaunchTest, IsCountedThroughEveryLookup) {
  for (const char* lookup : {"--lookup=dlsym", "--lookup=getproc", "--lookup=global"}) {
    ProbeRunner probe;
    std::string symbol = std::string(GetParam()) == "launch" ? "cuLaunch"
                         : std::string(GetParam()) == "grid" ? "cuLaunchGrid"
                                                             : "cuLaunchGridAsync";
    std::vector<std::string> lines =
        probe.Run({lookup, "launch-old", GetParam(), "4", "10", "calls", symbol});
    ASSERT_EQ(lines.size(), 2u) << lookup;
    EXPECT_EQ(lines[0].substr(0, lines[0].find(" ms=")),
              std::string("launch-old ") + GetParam() + " ok")
        << lookup;
    EXPECT_EQ(lines[1], "calls " + symbol + " 4") << lookup;
    Result<UsageSnapshot> usage = ReadUsageFile(probe.usage_path());
    ASSERT_TRUE(usage.ok()) << lookup << ": " << usage.error().message;
    EXPECT_EQ(usage->devices.at(0).launches_total, 4u) << lookup;
  }
}

INSTANTIATE_TEST_SUITE_P(EntryPoints, LegacyLaunchTest,
                         ::testing::Values("launch", "grid", "gridasync"));

TEST(HookLaunchTest, LaunchesIntoACapturingStreamAreNeitherThrottledNorCounted) {
  ProbeRunner probe;
  probe.env["FLEXAI_CORES_LIMIT"] = "1";
  probe.env["FAKE_CUDA_CAPTURING"] = "1";
  std::vector<std::string> lines = probe.Run({"launch", "5", "10", "calls", "cuEventRecord"});
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1], "calls cuEventRecord 0");  // no timing events slipped into the capture
  Result<UsageSnapshot> usage = ReadUsageFile(probe.usage_path());
  // Nothing was charged, so the hook may not even have created the file.
  EXPECT_TRUE(!usage.ok() || usage->devices.at(0).launches_total == 0u);
}

TEST(HookLaunchTest, TimingSamplesAreTakenInRelaxedCaptureModeSoOtherThreadsCapturesSurvive) {
  ProbeRunner probe;
  probe.env["FLEXAI_CORES_LIMIT"] = "50";
  // The first launch of a throttled kernel is timed at once: one switch to relaxed and one back.
  std::vector<std::string> lines =
      probe.Run({"launch", "1", "100", "calls", "cuThreadExchangeStreamCaptureMode"});
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1], "calls cuThreadExchangeStreamCaptureMode 2");
}

TEST(HookLaunchTest, MalformedCoresLimitThrottlesToTheSmallestShare) {
  ProbeRunner probe;
  probe.env["FLEXAI_CORES_LIMIT"] = "half";
  // 10 x 2 ms = 20 ms of GPU time at 1% is ~2 s; assert only that it is clearly throttled.
  std::vector<std::string> lines = probe.Run({"launch", "10", "2000"});
  EXPECT_GE(LaunchMilliseconds(lines), 1000);
  bool warned = false;
  for (const std::string& line : lines)
    warned |= line.find("FLEXAI_CORES_LIMIT entry 'half'") != std::string::npos;
  EXPECT_TRUE(warned);
}

}  // namespace
}  // namespace flexai::isolation
