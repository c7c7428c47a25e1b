// The real flexai-device-plugin binary driven by the test kubelet: flags, registration, the
// ListAndWatch stream, health flip and recovery, kubelet restart, preferred allocation, Allocate
// without a Kubernetes connection, and --probe.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <regex>

#include "child_process.h"
#include "sim_file.h"
#include "test_kubelet.h"

namespace flexai::device_plugin {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::ChipHealth;
using testing::DeviceListWatcher;
using testing::TempDir;
using testing::TestKubelet;

const std::string kBinary = FLEXAI_DEVICE_PLUGIN_BIN;

class BinaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sim_file_ = dir_.File("sim.yaml");
    testing::WriteFileAtomically(sim_file_, testing::FourChipSimFile());
    kubelet_.Start();
  }

  std::unique_ptr<ChildProcess> StartDaemon(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {kBinary,   "--backend",           "sim",       "--sim-config",
                                     sim_file_, "--device-plugin-dir", dir_.path(), "--node-name",
                                     "n1",      "--metrics-listen",    "",          "--log-level",
                                     "debug"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto child = std::make_unique<ChildProcess>(
        args, std::map<std::string, std::string>{{"KUBERNETES_SERVICE_HOST", ""}},
        dir_.File("daemon.log"));
    return child;
  }

  TempDir dir_;
  std::string sim_file_;
  TestKubelet kubelet_{dir_.path()};
};

TEST_F(BinaryTest, ServesKubeletFromRegistrationToHealthFlipAndRestart) {
  auto daemon = StartDaemon();
  ASSERT_TRUE(daemon->started());
  ASSERT_TRUE(kubelet_.WaitForRegistrations(1, 20s));
  EXPECT_EQ(kubelet_.registrations()[0].resource_name(), "flexai.io/gpu");

  {
    DeviceListWatcher watcher(kubelet_.PluginStub());
    auto first = watcher.WaitFor([](const auto& l) { return l.devices_size() > 0; });
    ASSERT_TRUE(first.has_value());
    EXPECT_EQ(first->devices_size(), 40);  // 4 chips x 10 slices (policy default)
    testing::WriteFileAtomically(sim_file_, testing::FourChipSimFile({1}));
    EXPECT_TRUE(
        watcher.WaitFor([](const auto& l) { return ChipHealth(l, "GPU-t-1") == "Unhealthy"; }));
    testing::WriteFileAtomically(sim_file_, testing::FourChipSimFile());
    EXPECT_TRUE(
        watcher.WaitFor([](const auto& l) { return ChipHealth(l, "GPU-t-1") == "Healthy"; }));
    testing::WriteFileAtomically(sim_file_, testing::FourChipSimFile({0}));
    EXPECT_TRUE(
        watcher.WaitFor([](const auto& l) { return ChipHealth(l, "GPU-t-0") == "Unhealthy"; }));
  }

  kubelet_.Restart();
  ASSERT_TRUE(kubelet_.WaitForRegistrations(2, 20s));
  DeviceListWatcher again(kubelet_.PluginStub());
  auto list = again.WaitFor([](const auto& l) { return l.devices_size() > 0; });
  ASSERT_TRUE(list.has_value());
  EXPECT_EQ(ChipHealth(*list, "GPU-t-0"), "Unhealthy");  // state survived the restart

  v1beta1::PreferredAllocationRequest request;
  auto* container = request.add_container_requests();
  for (const char* id : {"GPU-t-0::0", "GPU-t-1::0", "GPU-t-2::0", "GPU-t-3::0"}) {
    container->add_available_deviceids(id);
  }
  container->add_must_include_deviceids("GPU-t-2::0");
  container->set_allocation_size(2);
  v1beta1::PreferredAllocationResponse preferred;
  grpc::ClientContext preferred_context;
  ASSERT_TRUE(
      kubelet_.PluginStub()->GetPreferredAllocation(&preferred_context, request, &preferred).ok());
  ASSERT_EQ(preferred.container_responses(0).deviceids_size(), 2);
  EXPECT_EQ(preferred.container_responses(0).deviceids(1), "GPU-t-3::0");

  v1beta1::AllocateRequest allocate;
  allocate.add_container_requests()->add_devices_ids("GPU-t-2::0");
  v1beta1::AllocateResponse response;
  grpc::ClientContext allocate_context;
  grpc::Status status = kubelet_.PluginStub()->Allocate(&allocate_context, allocate, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(status.error_message().find("no Kubernetes connection"), std::string::npos);

  EXPECT_EQ(daemon->Stop(), 0);
  // It still served kubelet, and said loudly that nothing reaches the cluster.
  std::ifstream log(dir_.File("daemon.log"));
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("NO KUBERNETES CONNECTION: inventory and heartbeat are NOT published to node "
                      "n1"),
            std::string::npos)
      << text.substr(0, 2000);
}

TEST_F(BinaryTest, PolicyFileChangeReStreamsTheDeviceListWithoutARestart) {
  const std::string policy = dir_.File("policy.yaml");
  auto write_policy = [&](const std::string& max_slices) {
    testing::WriteFileAtomically(policy,
                                 "apiVersion: flexai.io/v1\nkind: SlicePolicy\nsharing:\n"
                                 "  maxSlicesPerChip: " +
                                     max_slices + "\n");
  };
  write_policy("4");
  auto daemon = StartDaemon({"--policy", policy, "--policy-poll-seconds", "1"});
  ASSERT_TRUE(daemon->started());
  ASSERT_TRUE(kubelet_.WaitForRegistrations(1, 20s));
  DeviceListWatcher watcher(kubelet_.PluginStub());
  ASSERT_TRUE(watcher.WaitFor([](const auto& l) { return l.devices_size() == 16; }));
  write_policy("2");
  EXPECT_TRUE(watcher.WaitFor([](const auto& l) { return l.devices_size() == 8; }, 20s));
  write_policy("0");  // refused: the log says why, the stream keeps the last good list
  auto log_says_refused = [&] {
    std::ifstream in(dir_.File("daemon.log"));
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return text.find("policy reload refused, previous policy kept") != std::string::npos;
  };
  EXPECT_TRUE(testing::Eventually(log_says_refused, 20s));
  EXPECT_EQ(watcher.WaitFor([](const auto&) { return true; })->devices_size(), 8);
  write_policy("6");
  EXPECT_TRUE(watcher.WaitFor([](const auto& l) { return l.devices_size() == 24; }, 20s));
  EXPECT_FALSE(watcher.ended());
  EXPECT_EQ(daemon->Stop(), 0);
  EXPECT_EQ(kubelet_.registrations().size(), 1u);  // served on, never re-registered
}

TEST_F(BinaryTest, ProbePrintsTheInventoryAsJson) {
  int status = 0;
  std::string out = testing::RunAndCapture(
      kBinary + " --backend sim --sim-config " + sim_file_ + " --probe 2>/dev/null", status);
  ASSERT_EQ(status, 0);
  auto inventory = nlohmann::json::parse(out);
  EXPECT_EQ(inventory["vendor"], "nvidia");
  ASSERT_EQ(inventory["chips"].size(), 4u);
  EXPECT_EQ(inventory["chips"][3]["numa"], 1);
  EXPECT_EQ(inventory["chips"][3]["memoryMiB"], 16384);
}

TEST_F(BinaryTest, ProbeWithoutSimFileShowsTheDefaultH100Box) {
  int status = 0;
  std::string out =
      testing::RunAndCapture(kBinary + " --backend sim --node-name box --probe", status);
  ASSERT_EQ(status, 0);
  auto inventory = nlohmann::json::parse(out);
  ASSERT_EQ(inventory["chips"].size(), 8u);
  EXPECT_EQ(inventory["chips"][7]["memoryMiB"], 81559);
  EXPECT_EQ(inventory["chips"][7]["linkGroup"], 1);
}

TEST_F(BinaryTest, BadSimFileFailsWithTheFieldInTheMessage) {
  testing::WriteFileAtomically(sim_file_, "chips: [{uuid: a}]\n");
  int status = 0;
  std::string out = testing::RunAndCapture(
      kBinary + " --backend sim --sim-config " + sim_file_ + " --probe 2>&1", status);
  EXPECT_NE(status, 0);
  EXPECT_NE(out.find("chips[0].memoryMiB: required"), std::string::npos) << out;
}

}  // namespace
}  // namespace flexai::device_plugin

namespace flexai::device_plugin {
namespace {

TEST(BinaryVendorProbe, NvidiaProbeReadsTheNvmlLibraryGiven) {
  testing::TempDir dir;
  testing::WriteFileAtomically(
      dir.File("nvml.json"),
      R"({"devices": [{"uuid": "GPU-1234", "name": "NVIDIA H100 80GB HBM3", "numa": 0}]})");
  int status = 0;
  std::string out = testing::RunAndCapture("FAKE_NVML_CONFIG=" + dir.File("nvml.json") + " " +
                                               kBinary + " --backend nvidia --nvml-library " +
                                               FAKE_NVML_LIB + " --probe 2>/dev/null",
                                           status);
  ASSERT_EQ(status, 0) << out;
  auto inventory = nlohmann::json::parse(out);
  EXPECT_EQ(inventory["vendor"], "nvidia");
  EXPECT_EQ(inventory["chips"][0]["uuid"], "GPU-1234");
  EXPECT_EQ(inventory["chips"][0]["memoryMiB"], 81559);
  EXPECT_EQ(inventory["chips"][0]["numa"], 0);
}

TEST(BinaryVendorProbe, AscendProbeReadsTheDcmiLibraryGiven) {
  testing::TempDir dir;
  testing::WriteFileAtomically(
      dir.File("dcmi.json"),
      R"({"cards": [{"id": 0, "chips": [{"name": "910B3", "hbmMiB": 65536, "die": [1,2,3,4,5]}]}]})");
  int status = 0;
  std::string out = testing::RunAndCapture("FAKE_DCMI_CONFIG=" + dir.File("dcmi.json") + " " +
                                               kBinary + " --backend ascend --dcmi-library " +
                                               FAKE_DCMI_LIB + " --probe 2>/dev/null",
                                           status);
  ASSERT_EQ(status, 0) << out;
  auto inventory = nlohmann::json::parse(out);
  EXPECT_EQ(inventory["vendor"], "ascend");
  EXPECT_EQ(inventory["chips"][0]["model"], "910B3");
}

TEST(BinaryFlags, VersionIsPrintedAndBadNumbersAreNamed) {
  int status = 0;
  std::string version = testing::RunAndCapture(kBinary + " --version", status);
  EXPECT_EQ(status, 0);
  EXPECT_TRUE(std::regex_match(version, std::regex(R"(\d+\.\d+\.\d+\s*)"))) << version;
  std::string out =
      testing::RunAndCapture(kBinary + " --backend sim --policy-poll-seconds abc 2>&1", status);
  EXPECT_NE(status, 0);
  EXPECT_NE(out.find("--policy-poll-seconds: 'abc' is not a number of seconds"), std::string::npos)
      << out;
}

TEST(BinaryVendorProbe, NoDriverMeansAClearErrorAndExitCode) {
  int status = 0;
  std::string out = testing::RunAndCapture(
      kBinary + " --backend nvidia --nvml-library /nonexistent/libnvidia-ml.so.1 --probe 2>&1",
      status);
  EXPECT_NE(status, 0);
  EXPECT_NE(out.find("cannot load /nonexistent/libnvidia-ml.so.1"), std::string::npos) << out;
}

}  // namespace
}  // namespace flexai::device_plugin
