// Share calibration through libflexai-cuda.so: a throttled process scales its charges to what the
// fake NVML (test/fakes/fake_nvml.cc) says it used, and only when NVML lists it.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "isolation/usage_reader.h"
#include "probe_runner.h"

namespace flexai::isolation {
namespace {

using testing::ProbeRunner;

// The fake libcuda's device 0 (bytes 0…0 then the ordinal).
constexpr const char* kDevice0 = "GPU-00000000-0000-0000-0000-000000000000";

// Runs 1500 x 1 ms kernels at a 50% share with the fake NVML reporting `processes` (JSON) on
// device 0; returns the mean charge per launch in ms and the probe's output.
double MeanChargeMs(ProbeRunner& probe, const std::string& processes,
                    std::vector<std::string>* lines = nullptr) {
  std::string config = probe.shared_dir() + "/fake_nvml.json";
  std::ofstream(config) << R"({"devices": [{"uuid": ")" << kDevice0
                        << R"(", "utilPeriodMs": 100, "processes": )" << processes << "}]}";
  probe.env["FAKE_NVML_CONFIG"] = config;
  probe.env["FLEXAI_CORES_LIMIT"] = "50";
  probe.env["FLEXAI_HOOK_DEBUG"] = "1";
  std::vector<std::string> output = probe.Run({"launch", "1500", "1000"});
  if (lines != nullptr) *lines = output;
  Result<UsageSnapshot> usage = ReadUsageFile(probe.usage_path());
  if (!usage.ok() || usage->devices.empty() || usage->devices[0].launches_total != 1500) return -1;
  return static_cast<double>(usage->devices[0].busy_ns_total) / 1500 / 1e6;
}

bool HasLineWith(const std::vector<std::string>& lines, const std::string& text) {
  for (const std::string& line : lines) {
    if (line.find(text) != std::string::npos) return true;
  }
  return false;
}

bool HasCalibrationLine(const std::vector<std::string>& lines) {
  return HasLineWith(lines, "share calibration: device 0: the driver measured");
}

TEST(HookShareCalibrationTest, AProcessTheDriverSeesUsingLessIsChargedLess) {
  // Charged 1 ms per kernel at 50%, but the driver measures 25%: its timings were stretched
  // (a neighbour's time slices). Each 1 s window halves the gap in logarithm: x0.71, x0.5, ...
  ProbeRunner probe;
  std::vector<std::string> lines;
  double mean = MeanChargeMs(probe, R"([{"pid": 0, "smUtil": 25}])", &lines);
  ASSERT_GT(mean, 0);
  EXPECT_LT(mean, 0.85);
  EXPECT_TRUE(HasCalibrationLine(lines));
}

TEST(HookShareCalibrationTest, AProcessTheDriverSeesUsingMoreIsChargedMore) {
  ProbeRunner probe;
  double mean = MeanChargeMs(probe, R"([{"pid": 0, "smUtil": 100}])");
  ASSERT_GT(mean, 0);
  EXPECT_GT(mean, 1.15);
}

TEST(HookShareCalibrationTest, WithoutItselfInNvmlsProcessListAProcessKeepsItsEstimates) {
  // PID 1 stands for a process NVML knows by its host PID while this one, in a PID namespace
  // of its own, would look for another number: the sample is not taken for its own.
  ProbeRunner probe;
  std::vector<std::string> lines;
  double mean = MeanChargeMs(probe, R"([{"pid": 1, "smUtil": 25}])", &lines);
  ASSERT_GT(mean, 0);
  EXPECT_GT(mean, 0.95);
  EXPECT_FALSE(HasCalibrationLine(lines));
  EXPECT_TRUE(HasLineWith(lines, "NVML does not list this process"));
}

TEST(HookShareCalibrationTest, CalibrationCanBeTurnedOff) {
  ProbeRunner probe;
  probe.env["FLEXAI_SHARE_CALIBRATION"] = "0";
  std::vector<std::string> lines;
  double mean = MeanChargeMs(probe, R"([{"pid": 0, "smUtil": 25}])", &lines);
  ASSERT_GT(mean, 0);
  EXPECT_GT(mean, 0.95);
  EXPECT_FALSE(HasCalibrationLine(lines));
}

}  // namespace
}  // namespace flexai::isolation
