// Memory quotas of libflexai-cuda.so, exercised through a probe program over the fake libcuda.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "isolation/process_runner.h"
#include "isolation/usage_reader.h"
#include "probe_runner.h"

namespace flexai::isolation {
namespace {

using ::testing::Contains;
using testing::HasLine;
using ::testing::HasSubstr;
using testing::ProbeRunner;

// Every path by which programs reach the driver: PyTorch-style dlsym on the libcuda handle,
// runtime-style cuGetProcAddress, and link-time (global) symbol resolution.
class QuotaByLookupTest : public ::testing::TestWithParam<const char*> {
 protected:
  std::vector<std::string> Run(ProbeRunner& probe, std::vector<std::string> commands) {
    commands.insert(commands.begin(), std::string("--lookup=") + GetParam());
    return probe.Run(commands);
  }
};

TEST_P(QuotaByLookupTest, AllocationPastQuotaIsRefusedWithOutOfMemory) {
  ProbeRunner probe;
  probe.env["FLEXAI_MEMORY_LIMIT_MIB"] = "256";
  std::vector<std::string> lines = Run(probe, {"alloc", "200", "alloc", "100"});
  EXPECT_EQ(lines, (std::vector<std::string>{"alloc ok", "alloc oom"}));
}

TEST_P(QuotaByLookupTest, WithoutTheHookTheSameAllocationsSucceed) {
  ProbeRunner probe;
  probe.preload_hook = false;
  probe.env["FLEXAI_MEMORY_LIMIT_MIB"] = "256";
  EXPECT_EQ(Run(probe, {"alloc", "200", "alloc", "100"}),
            (std::vector<std::string>{"alloc ok", "alloc ok"}));
}

TEST_P(QuotaByLookupTest, FreeReturnsQuota) {
  ProbeRunner probe;
  probe.env["FLEXAI_MEMORY_LIMIT_MIB"] = "256";
  std::vector<std::string> lines = Run(probe, {"alloc", "200", "free", "alloc", "200"});
  EXPECT_EQ(lines, (std::vector<std::string>{"alloc ok", "free ok", "alloc ok"}));
}

TEST_P(QuotaByLookupTest, MemGetInfoAndTotalMemReportTheQuota) {
  ProbeRunner probe;
  probe.env["FLEXAI_MEMORY_LIMIT_MIB"] = "256";
  std::vector<std::string> lines = Run(probe, {"alloc", "100", "meminfo", "totalmem"});
  EXPECT_EQ(lines, (std::vector<std::string>{"alloc ok", "meminfo ok free=156 total=256",
                                             "totalmem ok 256"}));
}

// VMM (cuMemCreate -> cuMemMap -> cuMemRelease): the driver frees a handle's memory only when it
// is released and its last mapping is gone, so the quota must come back then, not at release.
TEST_P(QuotaByLookupTest, AReleasedHandleThatIsStillMappedKeepsItsQuotaUntilUnmapped) {
  ProbeRunner probe;
  probe.env["FLEXAI_MEMORY_LIMIT_MIB"] = "64";
  std::vector<std::string> lines = Run(probe, {"create", "40", "map", "free", "used", "create",
                                               "40", "unmap", "used", "create", "40"});
  EXPECT_EQ(lines, (std::vector<std::string>{"create ok", "map ok", "free ok", "used 40",
                                             "create oom", "unmap ok", "used 0", "create ok"}));
}

TEST_P(QuotaByLookupTest, AnUnmappedHandleKeepsItsQuotaUntilReleased) {
  ProbeRunner probe;
  probe.env["FLEXAI_MEMORY_LIMIT_MIB"] = "64";
  std::vector<std::string> lines =
      Run(probe, {"create", "40", "map", "unmap", "create", "40", "free", "create", "40"});
  EXPECT_EQ(lines, (std::vector<std::string>{"create ok", "map ok", "unmap ok", "create oom",
                                             "free ok", "create ok"}));
}

TEST_P(QuotaByLookupTest, AFailedMapIsNotCountedAsAMapping) {
  ProbeRunner probe;
  probe.env["FLEXAI_MEMORY_LIMIT_MIB"] = "64";
  // The refused map must neither keep the quota after the last real unmap nor free it early.
  std::vector<std::string> lines = Run(probe, {"create", "40", "map", "map-bad", "free", "create",
                                               "40", "unmap", "create", "40", "calls", "cuMemMap"});
  EXPECT_EQ(lines,
            (std::vector<std::string>{"create ok", "map ok", "map-bad err1", "free ok",
                                      "create oom", "unmap ok", "create ok", "calls cuMemMap 2"}));
}

TEST_P(QuotaByLookupTest, AHandleMappedTwiceIsFreedWithItsLastMapping) {
  ProbeRunner probe;
  probe.env["FLEXAI_MEMORY_LIMIT_MIB"] = "64";
  std::vector<std::string> lines = Run(probe, {"create", "40", "map", "map", "free", "unmap",
                                               "create", "40", "unmap", "create", "40"});
  EXPECT_EQ(lines, (std::vector<std::string>{"create ok", "map ok", "map ok", "free ok", "unmap ok",
                                             "create oom", "unmap ok", "create ok"}));
}

// cuMemRetainAllocationHandle adds a reference the program releases separately: the creator's
// reference keeps the memory alive after retain + release, through the unmap and a new mapping.
TEST_P(QuotaByLookupTest, ARetainedHandleKeepsItsQuotaUntilEveryReferenceIsReleasedAndUnmapped) {
  ProbeRunner probe;
  probe.env["FLEXAI_MEMORY_LIMIT_MIB"] = "64";
  std::vector<std::string> lines =
      Run(probe, {"create", "40", "map", "retain", "free", "unmap", "used", "map", "create", "40",
                  "free", "create", "40", "unmap", "used", "create", "40"});
  EXPECT_EQ(lines,
            (std::vector<std::string>{"create ok", "map ok", "retain ok", "free ok", "unmap ok",
                                      "used 40", "map ok", "create oom", "free ok", "create oom",
                                      "unmap ok", "used 0", "create ok"}));
}

// A second cuMemRelease of a released, still mapped handle is refused by the driver; it must not
// undo the first one, or the last unmap never gives the quota back.
TEST_P(QuotaByLookupTest, ARefusedSecondReleaseDoesNotUndoTheFirst) {
  ProbeRunner probe;
  probe.env["FLEXAI_MEMORY_LIMIT_MIB"] = "64";
  std::vector<std::string> lines =
      Run(probe, {"create", "40", "map", "free", "free-again", "unmap", "used", "create", "40"});
  EXPECT_EQ(lines, (std::vector<std::string>{"create ok", "map ok", "free ok", "free-again err1",
                                             "unmap ok", "used 0", "create ok"}));
}

INSTANTIATE_TEST_SUITE_P(Lookups, QuotaByLookupTest,
                         ::testing::Values("dlsym", "getproc", "global"));

TEST(HookMemoryTest, EveryAllocationKindCountsAgainstTheQuota) {
  for (std::string kind : {"managed", "async", "pool", "create", "array", "array3d", "mipmap"}) {
    ProbeRunner probe;
    probe.env["FLEXAI_MEMORY_LIMIT_MIB"] = "64";
    std::vector<std::string> lines =
        probe.Run({"--lookup=getproc", kind, "40", kind, "40", "free", kind, "40"});
    EXPECT_EQ(lines,
              (std::vector<std::string>{kind + " ok", kind + " oom", "free ok", kind + " ok"}))
        << kind;
  }
}

TEST(HookMemoryTest, PitchedAllocationsCountTheirPitchTimesHeight) {
  ProbeRunner probe;
  probe.env["FLEXAI_MEMORY_LIMIT_MIB"] = "64";
  // 1 MiB rows (already 512-byte aligned) x 40 rows = 40 MiB each.
  std::vector<std::string> lines = probe.Run({"pitch", "1048576", "40", "pitch", "1048576", "40"});
  EXPECT_EQ(lines, (std::vector<std::string>{"pitch ok", "pitch oom"}));
}

TEST(HookMemoryTest, APitchLargerThanExpectedIsChargedInFullOrRefused) {
  ProbeRunner probe;
  probe.env["FLEXAI_MEMORY_LIMIT_MIB"] = "72";
  probe.env["FAKE_CUDA_PITCH_ALIGN"] = "2048";
  // 1100-byte rows padded to 2048: 2048 x 20000 = 39 MiB, more than the hook's 512-aligned guess.
  std::vector<std::string> lines = probe.Run(
      {"pitch", "1100", "20000", "pitch", "1100", "20000", "calls", "cuMemFree_v2", "meminfo"});
  EXPECT_EQ(lines, (std::vector<std::string>{"pitch ok", "pitch oom", "calls cuMemFree_v2 1",
                                             "meminfo ok free=32 total=72"}));
}

TEST(HookMemoryTest, ASizeThatOverflowsIsRefusedNotChargedAWrappedAroundAmount) {
  ProbeRunner probe;
  probe.env["FLEXAI_MEMORY_LIMIT_MIB"] = "256";
  // 2^63 bytes per row x 2 rows wraps to 0 in 64 bits.
  EXPECT_EQ(probe.Run({"pitch", "9223372036854775808", "2", "alloc", "200"}),
            (std::vector<std::string>{"pitch oom", "alloc ok"}));
}

TEST(HookMemoryTest, WithoutASharedDirForkChildrenStillShareTheQuota) {
  ProbeRunner probe;
  probe.env.erase("FLEXAI_SHARED_DIR");
  probe.env["FLEXAI_MEMORY_LIMIT_MIB"] = "256";
  EXPECT_EQ(probe.Run({"alloc", "200", "child", "alloc", "100", "end"}),
            (std::vector<std::string>{"alloc ok", "child: alloc oom"}));
}

TEST(HookMemoryTest, EachVisibleDeviceHasItsOwnQuota) {
  ProbeRunner probe;
  probe.env["FLEXAI_MEMORY_LIMIT_MIB"] = "100,300";
  std::vector<std::string> lines =
      probe.Run({"alloc", "200", "device", "1", "alloc", "200", "meminfo"});
  EXPECT_EQ(lines,
            (std::vector<std::string>{"alloc oom", "alloc ok", "meminfo ok free=100 total=300"}));
}

TEST(HookMemoryTest, QuotasFollowTheGpusUuidNotTheOrdinalAProcessSeesItUnder) {
  ProbeRunner probe;
  // The container's chips are a then b, with 256 and 512 MiB; this process sees b as device 0
  // (CUDA_VISIBLE_DEVICES=1,0).
  probe.env["FLEXAI_VISIBLE_DEVICES"] =
      "GPU-00000000-0000-0000-0000-00000000000a,GPU-00000000-0000-0000-0000-00000000000b";
  probe.env["FAKE_CUDA_UUIDS"] =
      "GPU-00000000-0000-0000-0000-00000000000b,GPU-00000000-0000-0000-0000-00000000000a";
  probe.env["FLEXAI_MEMORY_LIMIT_MIB"] = "256,512";
  EXPECT_EQ(probe.Run({"meminfo", "alloc", "400", "device", "1", "meminfo", "alloc", "300"}),
            (std::vector<std::string>{"meminfo ok free=512 total=512", "alloc ok",
                                      "meminfo ok free=256 total=256", "alloc oom"}));
  Result<UsageSnapshot> usage = ReadUsageFile(probe.usage_path());
  ASSERT_TRUE(usage.ok()) << usage.error().message;
  EXPECT_EQ(usage->devices.at(1).limit_bytes, 512u << 20);  // b's slot
}

TEST(HookMemoryTest, AResetOrDestroyedContextReturnsTheQuotaOfWhatItHeld) {
  ProbeRunner probe;
  probe.env["FLEXAI_MEMORY_LIMIT_MIB"] = "256";
  // cudaDeviceReset (a primary context reset) frees the device's memory without cuMemFree.
  EXPECT_EQ(probe.Run({"alloc", "200", "reset", "alloc", "200"}),
            (std::vector<std::string>{"alloc ok", "reset ok", "alloc ok"}));
  // A context of its own: destroying it frees only its memory.
  EXPECT_EQ(probe.Run({"alloc", "100", "ctx-create", "alloc", "100", "ctx-destroy", "alloc", "150",
                       "alloc", "10"}),
            (std::vector<std::string>{"alloc ok", "ctx-create ok", "alloc ok", "ctx-destroy ok",
                                      "alloc ok", "alloc oom"}));
  // The primary context's last release (UseDevice retained it once) frees it too.
  EXPECT_EQ(probe.Run({"alloc", "200", "release-primary", "device", "0", "alloc", "200"}),
            (std::vector<std::string>{"alloc ok", "release-primary ok", "alloc ok"}));
}

TEST(HookMemoryTest, ConcurrentAllocationsNeverExceedTheQuota) {
  ProbeRunner probe;
  probe.env["FLEXAI_MEMORY_LIMIT_MIB"] = "100";
  // 8 threads x 300 rounds of 7 MiB allocations with interleaved frees; the fake driver records
  // the highest usage it ever saw.
  std::vector<std::string> lines = probe.Run({"race", "8", "300", "7"});
  ASSERT_EQ(lines.size(), 1u);
  unsigned peak = 0, used = 0;
  ASSERT_EQ(std::sscanf(lines[0].c_str(), "race peak=%u used=%u", &peak, &used), 2) << lines[0];
  EXPECT_LE(peak, 100u);
  EXPECT_GE(peak, 50u);  // the quota was really contended
  EXPECT_EQ(used, 0u);
}

TEST(HookMemoryTest, ConcurrentProcessesShareTheQuotaWithoutAccountingDrift) {
  ProbeRunner probe;
  probe.env["FLEXAI_MEMORY_LIMIT_MIB"] = "100";
  std::vector<std::vector<std::string>> outputs(3);
  std::vector<std::thread> processes;
  for (auto& output : outputs) {
    processes.emplace_back([&] { output = probe.Run({"race", "4", "200", "7"}); });
  }
  for (auto& process : processes) process.join();
  unsigned total_peak = 0;
  for (const auto& output : outputs) {
    ASSERT_EQ(output.size(), 1u);
    unsigned peak = 0, used = 0;
    ASSERT_EQ(std::sscanf(output[0].c_str(), "race peak=%u used=%u", &peak, &used), 2) << output[0];
    EXPECT_LE(peak, 100u);
    total_peak += peak;
  }
  EXPECT_GT(total_peak, 0u);
  Result<UsageSnapshot> usage = ReadUsageFile(probe.usage_path());
  ASSERT_TRUE(usage.ok()) << usage.error().message;
  EXPECT_EQ(usage->devices.at(0).used_bytes, 0u);  // every byte reserved was given back
  EXPECT_LE(usage->devices.at(0).peak_bytes, 100u << 20);
  for (const ProcessUsage& process : usage->processes) EXPECT_EQ(process.used_bytes.at(0), 0u);
}

TEST(HookMemoryTest, ForkChildSharesTheQuotaWithItsParent) {
  ProbeRunner probe;
  probe.env["FLEXAI_MEMORY_LIMIT_MIB"] = "256";
  std::vector<std::string> lines =
      probe.Run({"alloc", "200", "child", "alloc", "100", "alloc", "50", "end", "meminfo"});
  EXPECT_EQ(lines, (std::vector<std::string>{"alloc ok", "child: alloc oom", "child: alloc ok",
                                             "meminfo ok free=56 total=256"}));
}

TEST(HookMemoryTest, MemoryOfAnExitedProcessIsReclaimed) {
  ProbeRunner probe;
  probe.env["FLEXAI_MEMORY_LIMIT_MIB"] = "256";
  // The child exits holding 200 MiB; the parent's next allocation finds it gone and reclaims it.
  std::vector<std::string> lines = probe.Run({"child", "alloc", "200", "end", "alloc", "200"});
  EXPECT_EQ(lines, (std::vector<std::string>{"child: alloc ok", "alloc ok"}));
}

TEST(HookMemoryTest, AProcessThatExitsHoldingMemoryReturnsItAtOnce) {
  ProbeRunner probe;
  probe.env["FLEXAI_MEMORY_LIMIT_MIB"] = "256";
  ASSERT_EQ(probe.Run({"alloc", "100"}), (std::vector<std::string>{"alloc ok"}));
  // Nothing ran since: the live usage the device plugin reads must already be 0.
  Result<UsageSnapshot> usage = ReadUsageFile(probe.usage_path());
  ASSERT_TRUE(usage.ok()) << usage.error().message;
  EXPECT_EQ(usage->devices.at(0).used_bytes, 0u);
  EXPECT_TRUE(usage->processes.empty());
}

TEST(HookMemoryTest, ExitingWhileAnotherThreadAllocatesLeavesNothingCharged) {
  ProbeRunner probe;
  probe.env["FLEXAI_MEMORY_LIMIT_MIB"] = "256";
  // The exit release races the thread's reservations and frees; a lost race left bytes in the
  // device total that no process holds (a few runs in 40 before the fix).
  for (int run = 0; run < 40; ++run) {
    ASSERT_EQ(probe.Run({"churn-exit", "3"}), (std::vector<std::string>{"churn-exit"}));
  }
  Result<UsageSnapshot> usage = ReadUsageFile(probe.usage_path());
  ASSERT_TRUE(usage.ok()) << usage.error().message;
  EXPECT_EQ(usage->devices.at(0).used_bytes, 0u);
}

TEST(HookMemoryTest, ResetsRacingFreesLeaveNothingCharged) {
  ProbeRunner probe;
  probe.env["FLEXAI_MEMORY_LIMIT_MIB"] = "256";
  for (int run = 0; run < 5; ++run) {
    EXPECT_EQ(probe.Run({"churn-reset", "3000", "meminfo"}),
              (std::vector<std::string>{"churn-reset ok", "meminfo ok free=256 total=256"}));
  }
}

TEST(HookMemoryTest, MemoryOfTheProgramReplacedByExecIsReturned) {
  ProbeRunner probe;
  probe.env["FLEXAI_MEMORY_LIMIT_MIB"] = "256";
  // Same pid and start time after exec, but the old image's memory went with its address space.
  EXPECT_EQ(probe.Run({"alloc", "200", "exec", "alloc", "200"}),
            (std::vector<std::string>{"alloc ok", "alloc ok"}));
}

TEST(HookMemoryTest, ProcessesOfOneContainerShareTheQuotaThroughTheSharedFile) {
  ProbeRunner probe;
  probe.env["FLEXAI_MEMORY_LIMIT_MIB"] = "256";
  std::string holding = probe.shared_dir() + "/first-holds",
              done = probe.shared_dir() + "/second-done";
  std::vector<std::string> first;
  std::thread first_process([&] {
    first = probe.Run({"alloc", "200", "touch", holding, "wait-file", done});
  });
  std::vector<std::string> second =
      probe.Run({"wait-file", holding, "alloc", "100", "alloc", "50", "touch", done});
  first_process.join();
  EXPECT_EQ(first, (std::vector<std::string>{"alloc ok"}));
  EXPECT_EQ(second, (std::vector<std::string>{"alloc oom", "alloc ok"}));
}

// The container's quota is the one recorded by the process that created usage.bin: a later
// process started without a limit, or with a larger one, is held to it.
TEST(HookMemoryTest, ALaterProcessWithoutOrWithALargerLimitCannotRaiseTheContainerQuota) {
  for (const char* later_limit : {"", "1000"}) {
    ProbeRunner probe;
    probe.env["FLEXAI_MEMORY_LIMIT_MIB"] = "256";
    std::string holding = probe.shared_dir() + "/first-holds",
                done = probe.shared_dir() + "/second-done";
    std::vector<std::string> first;
    std::thread first_process([&] {
      first = probe.Run({"alloc", "200", "touch", holding, "wait-file", done, "alloc", "100"});
    });
    ProbeRunner later;
    later.env = probe.env;  // the same FLEXAI_SHARED_DIR
    if (*later_limit == '\0') {
      later.env.erase("FLEXAI_MEMORY_LIMIT_MIB");
    } else {
      later.env["FLEXAI_MEMORY_LIMIT_MIB"] = later_limit;
    }
    std::vector<std::string> second =
        later.Run({"wait-file", holding, "alloc", "100", "meminfo", "alloc", "50", "touch", done});
    first_process.join();
    EXPECT_EQ(second,
              (std::vector<std::string>{"alloc oom", "meminfo ok free=56 total=256", "alloc ok"}))
        << "later limit '" << later_limit << "'";
    // Nor did the later process raise the first one's quota.
    EXPECT_EQ(first, (std::vector<std::string>{"alloc ok", "alloc oom"}));
    Result<UsageSnapshot> usage = ReadUsageFile(probe.usage_path());
    ASSERT_TRUE(usage.ok()) << usage.error().message;
    EXPECT_EQ(usage->devices.at(0).limit_bytes, 256u << 20);
  }
}

TEST(HookMemoryTest, ALaterProcessWithASmallerLimitIsHeldToItAndLeavesTheOthersAlone) {
  ProbeRunner probe;
  probe.env["FLEXAI_MEMORY_LIMIT_MIB"] = "256";
  std::string opened = probe.shared_dir() + "/first-opened",
              done = probe.shared_dir() + "/second-done";
  std::vector<std::string> first;
  std::thread first_process([&] {
    first = probe.Run({"meminfo", "touch", opened, "wait-file", done, "alloc", "200"});
  });
  ProbeRunner later;
  later.env = probe.env;  // the same FLEXAI_SHARED_DIR
  later.env["FLEXAI_MEMORY_LIMIT_MIB"] = "100";
  std::vector<std::string> second = later.Run(
      {"wait-file", opened, "alloc", "150", "alloc", "80", "meminfo", "free", "touch", done});
  first_process.join();
  EXPECT_EQ(second, (std::vector<std::string>{"alloc oom", "alloc ok",
                                              "meminfo ok free=20 total=100", "free ok"}));
  EXPECT_EQ(first, (std::vector<std::string>{"meminfo ok free=256 total=256", "alloc ok"}));
}

TEST(HookMemoryTest, MalformedLimitRefusesEveryAllocationAndSaysWhy) {
  ProbeRunner probe;
  probe.env["FLEXAI_MEMORY_LIMIT_MIB"] = "4GiB";
  std::vector<std::string> lines = probe.Run({"alloc", "1"});
  EXPECT_THAT(lines, Contains(HasSubstr("FLEXAI_MEMORY_LIMIT_MIB entry '4GiB'")));
  EXPECT_TRUE(HasLine(lines, "alloc oom"));
}

TEST(HookMemoryTest, DevicesPastTheLimitListGetNoMemory) {
  ProbeRunner probe;
  probe.env["FLEXAI_MEMORY_LIMIT_MIB"] = "256";
  EXPECT_EQ(probe.Run({"device", "1", "alloc", "1"}), (std::vector<std::string>{"alloc oom"}));
}

// MPS counts the client's context inside its memory limit (576 MiB of 4 GiB on an H200), so the
// hook enforces the slice's memory exactly in MPS mode too; MPS's limit has headroom above it.
TEST(HookMemoryTest, MpsModeEnforcesTheSlicesMemoryAndCountsIt) {
  ProbeRunner probe;
  probe.env["FLEXAI_ISOLATION"] = "mps";
  probe.env["FLEXAI_MEMORY_LIMIT_MIB"] = "300";
  // In a child that dies holding it, so the usage is still in the file afterwards.
  EXPECT_EQ(probe.Run({"child", "alloc", "200", "alloc", "200", "meminfo", "end"}),
            (std::vector<std::string>{"child: alloc ok", "child: alloc oom",
                                      "child: meminfo ok free=100 total=300"}));
  Result<UsageSnapshot> usage = ReadUsageFile(probe.usage_path());
  ASSERT_TRUE(usage.ok()) << usage.error().message;
  EXPECT_EQ(usage->mode, "mps");
  EXPECT_EQ(usage->devices.at(0).used_bytes, 200u << 20);
}

TEST(HookMemoryTest, UsageFileShowsLiveUsagePerDeviceAndProcess) {
  ProbeRunner probe;
  probe.env["FLEXAI_MEMORY_LIMIT_MIB"] = "256,512";
  probe.env["FLEXAI_CORES_LIMIT"] = "50,100";
  // A fork child that ends with _exit (as a killed process would) keeps its usage in the file.
  std::vector<std::string> lines =
      probe.Run({"child", "alloc", "100", "alloc", "300", "launch", "5", "100", "end"});
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[1], "child: alloc oom");
  Result<UsageSnapshot> usage = ReadUsageFile(probe.usage_path());
  ASSERT_TRUE(usage.ok()) << usage.error().message;
  EXPECT_EQ(usage->mode, "hook");
  ASSERT_EQ(usage->devices.size(), 2u);
  const DeviceUsage& gpu0 = usage->devices[0];
  EXPECT_EQ(gpu0.limit_bytes, 256u << 20);
  EXPECT_EQ(gpu0.used_bytes, 100u << 20);  // the child died holding it; no one reclaimed yet
  EXPECT_EQ(gpu0.refused_total, 1u);
  EXPECT_EQ(gpu0.cores_percent, 50u);
  EXPECT_EQ(gpu0.launches_total, 5u);
  EXPECT_GT(gpu0.busy_ns_total, 0u);
  EXPECT_EQ(usage->devices[1].limit_bytes, 512u << 20);
  ASSERT_EQ(usage->processes.size(), 1u);
  EXPECT_EQ(usage->processes[0].used_bytes.at(0), 100u << 20);
}

}  // namespace
}  // namespace flexai::isolation

namespace flexai::isolation {
namespace {

TEST(HookLookupTest, AnEntryPointVersionTheHookDoesNotKnowIsPassedThroughNotMiswrapped) {
  testing::ProbeRunner probe;
  probe.env["FLEXAI_MEMORY_LIMIT_MIB"] = "256";
  std::vector<std::string> lines = probe.Run(
      {"--lookup=getproc", "--cuda-version=99000", "meminfo", "calls", "cuMemGetInfo_v3"});
  EXPECT_THAT(lines, ::testing::Contains(::testing::HasSubstr("returned cuMemGetInfo_v3")));
  EXPECT_TRUE(
      testing::HasLine(lines, "meminfo ok free=1024 total=1024"));  // the driver's own answer
  EXPECT_TRUE(testing::HasLine(lines, "calls cuMemGetInfo_v3 1"));
}

// A per-thread-stream look-up at 6050, before cuLaunchKernel_ptsz existed (7000), gets the plain
// entry point from the driver. The answer must be our plain wrapper, and our _ptsz wrapper (what
// the program's own launches use) must still reach the driver's _ptsz function.
TEST(HookLookupTest, APtszLookupAnsweredWithThePlainEntryPointWrapsThePlainOne) {
  testing::ProbeRunner probe;
  std::vector<std::string> lines =
      probe.Run({"--lookup=getproc", "--ptsz", "lookup-at", "6050", "cuLaunchKernel", "launch", "2",
                 "10", "calls", "cuLaunchKernel", "calls", "cuLaunchKernel_ptsz"});
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0], "lookup-at 6050 cuLaunchKernel libflexai-cuda.so cuLaunchKernel");
  EXPECT_EQ(lines[2], "calls cuLaunchKernel 0");
  EXPECT_EQ(lines[3], "calls cuLaunchKernel_ptsz 2");
}

// libcudart on older runtimes asks for cuGetProcAddress at 11030 and calls the answer with the
// v1 ABI (no symbol status); that answer must be our wrapper, or every later look-up escapes.
TEST(HookLookupTest, TheV1GetProcAddressAskedForAt11030IsOurWrapper) {
  testing::ProbeRunner probe;
  probe.env["FLEXAI_MEMORY_LIMIT_MIB"] = "256";
  std::vector<std::string> lines =
      probe.Run({"--lookup=getproc", "--cuda-version=11030", "lookup", "cuGetProcAddress", "lookup",
                 "cuMemAlloc", "alloc", "200", "alloc", "100"});
  EXPECT_EQ(lines,
            (std::vector<std::string>{"lookup cuGetProcAddress libflexai-cuda.so cuGetProcAddress",
                                      "lookup cuMemAlloc libflexai-cuda.so cuMemAlloc_v2",
                                      "alloc ok", "alloc oom"}));
}

TEST(HookLookupTest, PerThreadStreamLookupsReturnOurPtszWrappers) {
  testing::ProbeRunner probe;
  probe.env["FLEXAI_MEMORY_LIMIT_MIB"] = "64";
  std::vector<std::string> lines = probe.Run({"--lookup=getproc",
                                              "--ptsz",
                                              "lookup",
                                              "cuMemFreeAsync",
                                              "lookup",
                                              "cuMemAllocFromPoolAsync",
                                              "lookup",
                                              "cuLaunchKernelEx",
                                              "lookup",
                                              "cuLaunchCooperativeKernel",
                                              "lookup",
                                              "cuGraphLaunch",
                                              "pool",
                                              "40",
                                              "pool",
                                              "40",
                                              "free",
                                              "pool",
                                              "40",
                                              "launch-variants",
                                              "calls",
                                              "cuMemAllocFromPoolAsync_ptsz",
                                              "calls",
                                              "cuMemFreeAsync_ptsz",
                                              "calls",
                                              "cuLaunchKernelEx_ptsz",
                                              "calls",
                                              "cuLaunchCooperativeKernel_ptsz",
                                              "calls",
                                              "cuGraphLaunch_ptsz"});
  EXPECT_EQ(
      lines,
      (std::vector<std::string>{
          "lookup cuMemFreeAsync libflexai-cuda.so cuMemFreeAsync_ptsz",
          "lookup cuMemAllocFromPoolAsync libflexai-cuda.so cuMemAllocFromPoolAsync_ptsz",
          "lookup cuLaunchKernelEx libflexai-cuda.so cuLaunchKernelEx_ptsz",
          "lookup cuLaunchCooperativeKernel libflexai-cuda.so cuLaunchCooperativeKernel_ptsz",
          "lookup cuGraphLaunch libflexai-cuda.so cuGraphLaunch_ptsz", "pool ok", "pool oom",
          "free ok", "pool ok", "launch-variants ok ok ok", "calls cuMemAllocFromPoolAsync_ptsz 2",
          "calls cuMemFreeAsync_ptsz 1", "calls cuLaunchKernelEx_ptsz 1",
          "calls cuLaunchCooperativeKernel_ptsz 1", "calls cuGraphLaunch_ptsz 1"}));
  Result<UsageSnapshot> usage = ReadUsageFile(probe.usage_path());
  ASSERT_TRUE(usage.ok()) << usage.error().message;
  EXPECT_EQ(usage->devices.at(0).launches_total, 3u);  // each wrapper charged its launch
}

TEST(HookLookupTest, ProcessesThatNeverCallCudaAreLeftAlone) {
  testing::ProbeRunner probe;
  CommandOptions options;
  options.environment = {{"LD_PRELOAD", FLEXAI_HOOK_LIBRARY},
                         {"FLEXAI_SHARED_DIR", probe.shared_dir()},
                         {"FLEXAI_MEMORY_LIMIT_MIB", "oops"}};
  Result<CommandResult> result = RunCommand({"sh", "-c", "echo preloaded"}, options);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->output, "preloaded\n");  // not even the malformed-limit warning
  EXPECT_FALSE(std::filesystem::exists(probe.usage_path()));
}

TEST(HookLookupTest, OtherInterposersStillFindTheNextDefinitionWithRtldNext) {
  testing::ProbeRunner probe;
  probe.also_preload = FLEXAI_NEXT_INTERPOSER;
  EXPECT_EQ(probe.Run({"ppid"}), (std::vector<std::string>{"ppid ok"}));
}

TEST(HookLookupTest, AMallocInterposerThatUsesRtldNextStillWorks) {
  testing::ProbeRunner probe;
  probe.also_preload = FLEXAI_MALLOC_INTERPOSER;
  EXPECT_EQ(probe.Run({"alloc", "1024", "ppid"}),
            (std::vector<std::string>{"alloc ok", "ppid ok"}));
}

}  // namespace
}  // namespace flexai::isolation
