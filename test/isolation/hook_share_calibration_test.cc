// Share calibration through libflexai-cuda.so: a throttled process scales its charges by how busy
// the fake NVML (test/fakes/fake_nvml.cc) says the GPU was, over the estimated work of every
// hooked process on it, read from the GPU's activity boards.
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "isolation/hook/device_activity.h"
#include "isolation/usage_reader.h"
#include "probe_runner.h"

namespace flexai::isolation {
namespace {

using testing::ProbeRunner;

constexpr const char* kGpu = "GPU-calibrated";

// Another container's process on the GPU, as its board shows it: its estimated work grows by
// `share` of the wall time while it lives.
class NeighbourBoard {
 public:
  NeighbourBoard(const std::string& path, double share) : share_(share) {
    fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    ActivityHeader header{};
    std::memcpy(header.magic, kActivityMagic, sizeof(kActivityMagic));
    header.slot_count = kActivitySlots;
    header.slot_bytes = sizeof(ActivitySlot);
    std::vector<ActivitySlot> slots(kActivitySlots);
    ok_ = fd_ >= 0 && pwrite(fd_, &header, sizeof(header), 0) == sizeof(header) &&
          pwrite(fd_, slots.data(), sizeof(ActivitySlot) * slots.size(), sizeof(header)) ==
              static_cast<ssize_t>(sizeof(ActivitySlot) * slots.size());
    thread_ = std::thread([this] {
      const auto start = std::chrono::steady_clock::now();
      while (!stop_) {
        ActivitySlot slot{};
        slot.owner = 77;
        slot.work_ns = static_cast<std::int64_t>(
            share_ *
            static_cast<double>(
                std::chrono::nanoseconds(std::chrono::steady_clock::now() - start).count()));
        ok_ = ok_ && pwrite(fd_, &slot, sizeof(slot), sizeof(ActivityHeader)) == sizeof(slot);
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    });
  }
  ~NeighbourBoard() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  bool ok() const { return ok_; }

 private:
  double share_;
  int fd_ = -1;
  std::atomic<bool> ok_{false};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

struct Scenario {
  int gpu_util = 100;                     // what the fake NVML says of the GPU
  std::optional<double> neighbour_share;  // a neighbour's board with this much work
  bool boards = true;                     // FLEXAI_ACTIVITY_DIR set (as the device plugin does)
};

// Runs 1500 x 1 ms kernels at a 50% share on the GPU kGpu; returns the mean charge per launch in
// ms (negative: the run failed) and the output in `lines`.
double MeanChargeMs(ProbeRunner& probe, const Scenario& scenario,
                    std::vector<std::string>* lines = nullptr) {
  const std::string view = probe.shared_dir() + "/view";
  std::filesystem::create_directories(view + "/" + kGpu);
  std::optional<NeighbourBoard> neighbour;
  if (scenario.neighbour_share) {
    neighbour.emplace(view + "/" + kGpu + "/neighbour", *scenario.neighbour_share);
    if (!neighbour->ok()) return -2;
  }
  if (scenario.boards) probe.env["FLEXAI_ACTIVITY_DIR"] = view;
  probe.env["FLEXAI_VISIBLE_DEVICES"] = kGpu;
  std::string config = probe.shared_dir() + "/fake_nvml.json";
  std::ofstream(config) << R"({"devices": [{"uuid": ")" << kGpu << R"(", "gpuUtil": )"
                        << scenario.gpu_util << "}]}";
  probe.env["FAKE_NVML_CONFIG"] = config;
  probe.env["FLEXAI_CORES_LIMIT"] = "50";
  probe.env["FLEXAI_HOOK_DEBUG"] = "1";
  std::vector<std::string> output = probe.Run({"launch", "1500", "1000"});
  if (lines != nullptr) *lines = output;
  Result<UsageSnapshot> usage = ReadUsageFile(probe.usage_path());
  if (!usage.ok() || usage->devices.empty() || usage->devices[0].launches_total != 1500) return -1;
  return static_cast<double>(usage->devices[0].busy_ns_total) / 1500 / 1e6;
}

bool HasCalibrationLine(const std::vector<std::string>& lines) {
  for (const std::string& line : lines) {
    if (line.find("share calibration: device 0: NVML saw the GPU busy") != std::string::npos)
      return true;
  }
  return false;
}

TEST(HookShareCalibrationTest, AGpuBusierThanItsWorkExplainsRaisesTheCharges) {
  // The GPU is busy all the time, but this process's 50% is all the work posted on it: the rest
  // is time its work cost beyond the estimates (switching, in a real time-sliced GPU).
  ProbeRunner probe;
  std::vector<std::string> lines;
  double mean =
      MeanChargeMs(probe, {.gpu_util = 100, .neighbour_share = {}, .boards = true}, &lines);
  ASSERT_GT(mean, 0);
  EXPECT_GT(mean, 1.15);
  EXPECT_TRUE(HasCalibrationLine(lines));
}

TEST(HookShareCalibrationTest, AGpuLessBusyThanTheEstimatesLowersTheCharges) {
  ProbeRunner probe;
  double mean = MeanChargeMs(probe, {.gpu_util = 25, .neighbour_share = {}, .boards = true});
  ASSERT_GT(mean, 0);
  EXPECT_LT(mean, 0.85);
}

TEST(HookShareCalibrationTest, NeighboursWorkOnTheirBoardsCountsToo) {
  // The same busy GPU, with another container's process doing the other half of the work.
  ProbeRunner probe;
  std::vector<std::string> lines;
  double mean =
      MeanChargeMs(probe, {.gpu_util = 100, .neighbour_share = 0.5, .boards = true}, &lines);
  ASSERT_GT(mean, 0);
  EXPECT_GT(mean, 0.9);
  EXPECT_LT(mean, 1.1);
  EXPECT_TRUE(HasCalibrationLine(lines));
}

TEST(HookShareCalibrationTest, WithoutActivityBoardsChargesKeepTheirEstimates) {
  // Without the GPU's boards, other processes' work is unknown: nothing to set NVML against.
  ProbeRunner probe;
  std::vector<std::string> lines;
  double mean =
      MeanChargeMs(probe, {.gpu_util = 100, .neighbour_share = {}, .boards = false}, &lines);
  ASSERT_GT(mean, 0);
  EXPECT_GT(mean, 0.95);
  EXPECT_LT(mean, 1.05);
  EXPECT_FALSE(HasCalibrationLine(lines));
}

TEST(HookShareCalibrationTest, CalibrationCanBeTurnedOff) {
  ProbeRunner probe;
  probe.env["FLEXAI_SHARE_CALIBRATION"] = "0";
  std::vector<std::string> lines;
  double mean =
      MeanChargeMs(probe, {.gpu_util = 100, .neighbour_share = {}, .boards = true}, &lines);
  ASSERT_GT(mean, 0);
  EXPECT_LT(mean, 1.05);
  EXPECT_FALSE(HasCalibrationLine(lines));
}

}  // namespace
}  // namespace flexai::isolation
