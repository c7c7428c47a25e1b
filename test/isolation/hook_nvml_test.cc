// NVML's memory view through libflexai-cuda.so: the probe queries the fake libnvidia-ml.so.1
// (test/fakes/fake_nvml.cc) through dlopen + dlsym like pynvml, and through direct calls from a
// binary linked against it like nvidia-smi, with CUDA allocations over the fake libcuda.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "probe_runner.h"

namespace flexai::isolation {
namespace {

using testing::ProbeRunner;

using Lines = std::vector<std::string>;

constexpr const char* kUuid = "GPU-6a1e0f3c-0000-4000-8000-00000000f1ea";

// What the fake NVML really reports for its one GPU: 1024 MiB, 10 MiB used, 6 MiB reserved.
const Lines kRealAnswer = {"nvml v1 ok total=1024 free=1008 used=16",
                           "nvml v2 ok total=1024 reserved=6 free=1008 used=10"};

// Parameter: the probe binary, i.e. how NVML is reached.
class NvmlViewTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    probe_.probe = GetParam();
    WriteNvmlConfig("");
    probe_.env["FAKE_NVML_CONFIG"] = NvmlConfigPath();
    probe_.env["FLEXAI_MEMORY_LIMIT_MIB"] = "256";
    probe_.env["FLEXAI_VISIBLE_DEVICES"] = kUuid;
  }

  std::string NvmlConfigPath() const { return probe_.shared_dir() + "/fake_nvml.json"; }

  // `extra`: more members of the fake GPU's JSON object, e.g. an injected error.
  void WriteNvmlConfig(const std::string& extra) {
    std::ofstream(NvmlConfigPath())
        << R"({"devices": [{"uuid": ")" << kUuid
        << R"(", "memoryTotal": 1073741824, "memoryUsed": 10485760, "memoryReserved": 6291456)"
        << extra << "}]}";
  }

  ProbeRunner probe_;
};

TEST_P(NvmlViewTest, InHookModeNvmlReportsTheQuotaAndTheContainersUsage) {
  EXPECT_EQ(probe_.Run({"nvml", "alloc", "100", "nvml", "free", "nvml"}),
            (Lines{"nvml v1 ok total=256 free=256 used=0",
                   "nvml v2 ok total=256 reserved=0 free=256 used=0", "alloc ok",
                   "nvml v1 ok total=256 free=156 used=100",
                   "nvml v2 ok total=256 reserved=0 free=156 used=100", "free ok",
                   "nvml v1 ok total=256 free=256 used=0",
                   "nvml v2 ok total=256 reserved=0 free=256 used=0"}));
}

TEST_P(NvmlViewTest, UsageOfOtherProcessesOfTheContainerCounts) {
  // The first process keeps 100 MiB while the second one asks NVML.
  ProbeRunner& probe = probe_;
  std::string ready = probe.shared_dir() + "/ready", done = probe.shared_dir() + "/done";
  Lines holder;
  std::thread thread([&] {
    holder = probe.Run({"alloc", "100", "touch", ready, "wait-file", done});
  });
  Lines lines = probe.Run({"wait-file", ready, "nvml", "touch", done});
  thread.join();
  EXPECT_EQ(holder, (Lines{"alloc ok"}));
  EXPECT_EQ(lines, (Lines{"nvml v1 ok total=256 free=156 used=100",
                          "nvml v2 ok total=256 reserved=0 free=156 used=100"}));
}

TEST_P(NvmlViewTest, TheDeviceIsFoundByItsPositionInTheVisibleList) {
  // The fake GPU is the container's second device: its quota and usage are those of ordinal 1.
  probe_.env["FLEXAI_VISIBLE_DEVICES"] = std::string("GPU-someone-else,") + kUuid;
  probe_.env["FLEXAI_MEMORY_LIMIT_MIB"] = "128,512";
  EXPECT_EQ(probe_.Run({"alloc", "50", "device", "1", "alloc", "200", "nvml"}),
            (Lines{"alloc ok", "alloc ok", "nvml v1 ok total=512 free=312 used=200",
                   "nvml v2 ok total=512 reserved=0 free=312 used=200"}));
}

TEST_P(NvmlViewTest, AQuotaLargerThanTheGpuReportsTheGpusTotal) {
  probe_.env["FLEXAI_MEMORY_LIMIT_MIB"] = "4096";
  EXPECT_EQ(probe_.Run({"nvml"}), (Lines{"nvml v1 ok total=1024 free=1024 used=0",
                                         "nvml v2 ok total=1024 reserved=0 free=1024 used=0"}));
}

TEST_P(NvmlViewTest, AGpuNotInTheVisibleListGivesTheRealAnswer) {
  probe_.env["FLEXAI_VISIBLE_DEVICES"] = "GPU-someone-else";
  EXPECT_EQ(probe_.Run({"alloc", "100", "nvml"}),
            (Lines{"alloc ok", kRealAnswer[0], kRealAnswer[1]}));
}

TEST_P(NvmlViewTest, WithoutTheVisibleListTheRealAnswer) {
  probe_.env.erase("FLEXAI_VISIBLE_DEVICES");
  EXPECT_EQ(probe_.Run({"nvml"}), kRealAnswer);
}

TEST_P(NvmlViewTest, WithoutAQuotaTheRealAnswer) {
  probe_.env["FLEXAI_MEMORY_LIMIT_MIB"] = "unlimited";
  EXPECT_EQ(probe_.Run({"nvml"}), kRealAnswer);
}

TEST_P(NvmlViewTest, WithoutIsolationTheRealAnswer) {
  probe_.env["FLEXAI_ISOLATION"] = "none";
  EXPECT_EQ(probe_.Run({"nvml"}), kRealAnswer);
}

// In MPS mode the hook enforces the slice's memory too (MPS's limit has headroom for the
// context): NVML shows the slice, as cuMemGetInfo does.
TEST_P(NvmlViewTest, MpsModeShowsTheSlice) {
  probe_.env["FLEXAI_ISOLATION"] = "mps";
  EXPECT_EQ(probe_.Run({"alloc", "100", "nvml"}),
            (Lines{"alloc ok", "nvml v1 ok total=256 free=156 used=100",
                   "nvml v2 ok total=256 reserved=0 free=156 used=100"}));
}

TEST_P(NvmlViewTest, WithoutTheHookTheRealAnswer) {
  probe_.preload_hook = false;
  EXPECT_EQ(probe_.Run({"alloc", "100", "nvml"}),
            (Lines{"alloc ok", kRealAnswer[0], kRealAnswer[1]}));
}

TEST_P(NvmlViewTest, AFailedUuidQueryGivesTheRealAnswer) {
  WriteNvmlConfig(R"(, "errors": {"nvmlDeviceGetUUID": 999})");
  EXPECT_EQ(probe_.Run({"nvml"}), kRealAnswer);
}

TEST_P(NvmlViewTest, TheRealReturnCodeIsPassedThroughUntouched) {
  WriteNvmlConfig(
      R"(, "errors": {"nvmlDeviceGetMemoryInfo": 15, "nvmlDeviceGetMemoryInfo_v2": 3})");
  EXPECT_EQ(probe_.Run({"nvml"}), (Lines{"nvml v1 err15", "nvml v2 err3"}));
}

INSTANTIATE_TEST_SUITE_P(ByDlsymAndDirectLink, NvmlViewTest,
                         ::testing::Values(FLEXAI_HOOK_PROBE, FLEXAI_HOOK_PROBE_NVML_LINKED),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return std::string(info.index == 0 ? "Dlsym" : "DirectLink");
                         });

}  // namespace
}  // namespace flexai::isolation
