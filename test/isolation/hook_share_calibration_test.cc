// Share calibration through libflexai-cuda.so: a throttled process scales its charges to what the
// fake NVML (test/fakes/fake_nvml.cc) says it used, and only when NVML lists it.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "isolation/usage_reader.h"
#include "probe_runner.h"

namespace flexai::isolation {
namespace {

using testing::ProbeRunner;

// The fake libcuda's device 0 (bytes 0…0 then the ordinal).
constexpr const char* kDevice0 = "GPU-00000000-0000-0000-0000-000000000000";

// Runs 1500 x 1 ms kernels at a 50% share with the fake NVML reporting `processes` (JSON) on
// the GPU `uuid`; returns the mean charge per launch in ms and the probe's output.
double MeanChargeMs(ProbeRunner& probe, const std::string& processes,
                    std::vector<std::string>* lines = nullptr, const std::string& uuid = kDevice0) {
  std::string config = probe.shared_dir() + "/fake_nvml.json";
  std::ofstream(config) << R"({"devices": [{"uuid": ")" << uuid
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

// Answers every connection on `path` with `pid`, as the device plugin in the host's PID namespace
// answers a process in a pod (HostPidService).
class HostPidSocket {
 public:
  HostPidSocket(const std::string& path, int pid) : listener_(socket(AF_UNIX, SOCK_STREAM, 0)) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::snprintf(address.sun_path, sizeof(address.sun_path), "%s", path.c_str());
    bound_ = bind(listener_, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0 &&
             listen(listener_, 8) == 0;
    thread_ = std::thread([this, pid] {
      std::string answer = std::to_string(pid) + "\n";
      for (int client; (client = accept(listener_, nullptr, nullptr)) >= 0; close(client)) {
        ssize_t ignored = write(client, answer.data(), answer.size());
        (void)ignored;
      }
    });
  }
  ~HostPidSocket() {
    shutdown(listener_, SHUT_RDWR);  // accept returns
    thread_.join();
    close(listener_);
  }
  bool bound() const { return bound_; }

 private:
  int listener_;
  bool bound_ = false;
  std::thread thread_;
};

TEST(HookShareCalibrationTest, AProcessInAPodFindsItselfInNvmlThroughTheDevicePlugin) {
  // NVML names the process 4242 (its host PID), which it learns from the GPU folder's socket.
  ProbeRunner probe;
  const std::string view = probe.shared_dir() + "/view";
  std::filesystem::create_directories(view + "/GPU-pod");
  HostPidSocket socket(view + "/GPU-pod/.host-pid.sock", 4242);
  ASSERT_TRUE(socket.bound());
  probe.env["FLEXAI_ACTIVITY_DIR"] = view;
  probe.env["FLEXAI_VISIBLE_DEVICES"] = "GPU-pod";
  std::vector<std::string> lines;
  double mean = MeanChargeMs(probe, R"([{"pid": 4242, "smUtil": 25}])", &lines, "GPU-pod");
  ASSERT_GT(mean, 0);
  EXPECT_LT(mean, 0.85);
  EXPECT_TRUE(HasLineWith(lines, "as pid 4242 (the device plugin's answer)"));
  EXPECT_TRUE(HasCalibrationLine(lines));
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
