// Share calibration through libflexai-cuda.so: a throttled process scales its charges to what the
// fake NVML (test/fakes/fake_nvml.cc) says it used, found there by the PID a device plugin's
// socket tells it (or its own, in the host's PID namespace), and only when NVML lists that PID.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "isolation/usage_reader.h"
#include "probe_runner.h"

namespace flexai::isolation {
namespace {

using testing::ProbeRunner;

constexpr const char* kGpu = "GPU-calibrated";

// Answers every connection on `path` as the device plugin does (HostPidService): with the
// peer's PID as this process's PID namespace sees it, or with `pid` when given.
class HostPidSocket {
 public:
  HostPidSocket(const std::string& path, int pid = 0) : listener_(socket(AF_UNIX, SOCK_STREAM, 0)) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::snprintf(address.sun_path, sizeof(address.sun_path), "%s", path.c_str());
    bound_ = path.size() < sizeof(address.sun_path) &&
             bind(listener_, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0 &&
             listen(listener_, 8) == 0;
    thread_ = std::thread([this, pid] {
      for (int client; (client = accept(listener_, nullptr, nullptr)) >= 0; close(client)) {
        ucred peer{};
        socklen_t size = sizeof(peer);
        getsockopt(client, SOL_SOCKET, SO_PEERCRED, &peer, &size);
        std::string answer = std::to_string(pid != 0 ? pid : peer.pid) + "\n";
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

// Runs 1500 x 1 ms kernels at a 50% share on the GPU kGpu, whose activity folder answers with
// `host_pid` (0: the peer's PID; no socket without `answer`), with the fake NVML reporting
// `processes` (JSON, PID 0 standing for the calling process) on it; returns the mean charge per
// launch in ms and the output.
double MeanChargeMs(ProbeRunner& probe, const std::string& processes,
                    std::vector<std::string>* lines = nullptr, int host_pid = 0,
                    bool answer = true) {
  const std::string view = probe.shared_dir() + "/view";
  std::filesystem::create_directories(view + "/" + kGpu);
  std::unique_ptr<HostPidSocket> socket;
  if (answer) {
    socket = std::make_unique<HostPidSocket>(view + "/" + kGpu + "/.host-pid.sock", host_pid);
    if (!socket->bound()) return -2;
  }
  probe.env["FLEXAI_ACTIVITY_DIR"] = view;
  probe.env["FLEXAI_VISIBLE_DEVICES"] = kGpu;
  std::string config = probe.shared_dir() + "/fake_nvml.json";
  std::ofstream(config) << R"({"devices": [{"uuid": ")" << kGpu
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
  // NVML has figures for PID 1 only, another process: none of them is taken for this one's.
  ProbeRunner probe;
  std::vector<std::string> lines;
  double mean = MeanChargeMs(probe, R"([{"pid": 1, "smUtil": 25}])", &lines);
  ASSERT_GT(mean, 0);
  EXPECT_GT(mean, 0.95);
  EXPECT_FALSE(HasCalibrationLine(lines));
  EXPECT_TRUE(HasLineWith(lines, "NVML does not list this process"));
}

TEST(HookShareCalibrationTest, FiguresThatAreNotSharesOfTimeAreNotUsed) {
  // Two processes at 100% each on one time-sliced GPU: not shares of its time.
  ProbeRunner probe;
  std::vector<std::string> lines;
  double mean =
      MeanChargeMs(probe, R"([{"pid": 0, "smUtil": 100}, {"pid": 1, "smUtil": 100}])", &lines);
  ASSERT_GT(mean, 0);
  EXPECT_LT(mean, 1.05);
  EXPECT_FALSE(HasCalibrationLine(lines));
  EXPECT_TRUE(HasLineWith(lines, "adds up to 200%"));
}

TEST(HookShareCalibrationTest, AProcessInAPodFindsItselfInNvmlThroughTheDevicePlugin) {
  // NVML names the process 4242, its host PID, which only the GPU folder's socket knows.
  ProbeRunner probe;
  std::vector<std::string> lines;
  double mean = MeanChargeMs(probe, R"([{"pid": 4242, "smUtil": 25}])", &lines, 4242);
  ASSERT_GT(mean, 0);
  EXPECT_LT(mean, 0.85);
  EXPECT_TRUE(HasLineWith(lines, "as pid 4242 (the device plugin's answer)"));
  EXPECT_TRUE(HasCalibrationLine(lines));
}

TEST(HookShareCalibrationTest, InAPidNamespaceWithoutAnAnswerItsOwnPidIsNotTrusted) {
  // A pod's process whose device plugin does not answer: its PID inside the namespace could be
  // another host process's PID. The fake NVML lists it (PID 0: the caller's getpid()), as NVML
  // would list that other process.
  if (std::system("unshare --pid --fork true >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "cannot make a PID namespace here (unshare needs privileges)";
  }
  ProbeRunner probe;
  probe.wrapper = {"unshare", "--pid", "--fork"};
  std::vector<std::string> lines;
  double mean = MeanChargeMs(probe, R"([{"pid": 0, "smUtil": 25}])", &lines, 0, false);
  ASSERT_GT(mean, 0) << (lines.empty() ? "" : lines.back());
  EXPECT_GT(mean, 0.95);
  EXPECT_FALSE(HasCalibrationLine(lines));
  EXPECT_TRUE(HasLineWith(lines, "no host PID for this process"));
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
