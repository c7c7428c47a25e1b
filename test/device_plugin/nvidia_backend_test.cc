// The NVML backend against the fake libnvidia-ml (test/fakes/fake_nvml.cc).
#include "device_plugin/backend/nvidia/nvidia_backend.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "log_capture.h"
#include "sim_file.h"
#include "test_kubelet.h"

namespace flexai::device_plugin {
namespace {

using testing::TempDir;

// Two H100s joined by NVLink (directly), a third linked to an NVSwitch shared with a fourth.
const char* kFourGpus = R"({"devices": [
  {"uuid": "GPU-aaaa", "name": "NVIDIA H100 80GB HBM3", "memoryTotal": 85520809984, "numa": 0,
   "cpus": [0, 1, 2, 3, 63, 64, 65, 130], "busId": "00000000:18:00.0", "nvlinks": ["00000000:2A:00.0", "00000000:2A:00.0"]},
  {"uuid": "GPU-bbbb", "name": "NVIDIA H100 80GB HBM3", "memoryTotal": 85520809984, "numa": 0,
   "busId": "00000000:2A:00.0", "nvlinks": ["00000000:18:00.0"]},
  {"uuid": "GPU-cccc", "name": "NVIDIA H100 80GB HBM3", "memoryTotal": 85520809984, "numa": 1,
   "busId": "00000000:9A:00.0", "nvlinks": ["00000000:F0:00.0"]},
  {"uuid": "GPU-dddd", "name": "NVIDIA H100 80GB HBM3", "memoryTotal": 85520809984,
   "busId": "00000000:AB:00.0", "nvlinks": ["00000000:F0:00.0"], "mig": 1}
]})";

class NvidiaBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = dir_.File("nvml.json");
    Write(kFourGpus);
    setenv("FAKE_NVML_CONFIG", config_.c_str(), 1);
    options_.library_path = FAKE_NVML_LIB;
    options_.sysfs_root = dir_.File("sys");
  }
  void TearDown() override { unsetenv("FAKE_NVML_CONFIG"); }
  void Write(const std::string& json) { testing::WriteFileAtomically(config_, json); }

  TempDir dir_;
  std::string config_;
  NvidiaBackendOptions options_;
};

TEST_F(NvidiaBackendTest, DiscoversIdentityMemoryNumaAndNvlinkIslands) {
  // GPU 3 has no NVML NUMA answer: sysfs says 1.
  std::filesystem::create_directories(dir_.File("sys/bus/pci/devices/0000:ab:00.0"));
  std::ofstream(dir_.File("sys/bus/pci/devices/0000:ab:00.0/numa_node")) << "1\n";
  // GPU 1: sysfs (the CPU-side affinity) wins over NVML's answer of 0.
  std::filesystem::create_directories(dir_.File("sys/bus/pci/devices/0000:2a:00.0"));
  std::ofstream(dir_.File("sys/bus/pci/devices/0000:2a:00.0/numa_node")) << "1\n";
  NvidiaBackend backend(options_);
  auto chips = backend.Discover();
  ASSERT_TRUE(chips.ok()) << chips.error().message;
  ASSERT_EQ(chips->size(), 4u);
  const auto& first = (*chips)[0];
  EXPECT_EQ(first.uuid, "GPU-aaaa");
  EXPECT_EQ(first.model, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(first.memory_mib, 81559);  // what nvidia-smi shows for 85,520,809,984 bytes
  EXPECT_EQ(first.vendor, partition::Vendor::kNvidia);
  EXPECT_EQ((*chips)[0].numa_node, 0);
  EXPECT_EQ((*chips)[1].numa_node, 1);
  EXPECT_EQ((*chips)[2].numa_node, 1);
  EXPECT_EQ((*chips)[3].numa_node, 1);
  EXPECT_EQ((*chips)[0].link_group, (*chips)[1].link_group);
  EXPECT_EQ((*chips)[2].link_group, (*chips)[3].link_group);
  EXPECT_NE((*chips)[0].link_group, (*chips)[2].link_group);
  EXPECT_EQ((*chips)[0].link_group, 0);
}

TEST_F(NvidiaBackendTest, CpuAffinityComesFromNvmlElseFromSysfs) {
  // GPU 1: NVML does not answer, sysfs does. GPU 2: neither.
  std::filesystem::create_directories(dir_.File("sys/bus/pci/devices/0000:2a:00.0"));
  std::ofstream(dir_.File("sys/bus/pci/devices/0000:2a:00.0/local_cpulist")) << "32-47,96-111\n";
  NvidiaBackend backend(options_);
  auto chips = backend.Discover();
  ASSERT_TRUE(chips.ok()) << chips.error().message;
  EXPECT_EQ((*chips)[0].cpu_affinity, "0-3,63-65,130");  // across words of the mask
  EXPECT_EQ((*chips)[1].cpu_affinity, "32-47,96-111");
  EXPECT_EQ((*chips)[2].cpu_affinity, "");
}

TEST_F(NvidiaBackendTest, GpusWithoutNvlinkHaveNoLinkGroupAndUnknownNuma) {
  Write(R"({"devices": [{"uuid": "GPU-solo", "busId": "00000000:01:00.0"}]})");
  NvidiaBackend backend(options_);
  auto chips = backend.Discover();
  ASSERT_TRUE(chips.ok()) << chips.error().message;
  EXPECT_EQ((*chips)[0].link_group, -1);
  EXPECT_EQ((*chips)[0].numa_node, -1);
}

// One GPU that cannot be read must not take the node's other GPUs down with it (a daemon that
// exits on it crash-loops after an XID 79). Indexes stay gapless, health stays per GPU.
TEST_F(NvidiaBackendTest, AGpuThatCannotBeReadIsSkippedWithTheCallAndGpuLogged) {
  Write(R"({"devices": [{"uuid": "GPU-a"}, {"uuid": "GPU-b", "errors": {"nvmlDeviceGetName": 999}},
                        {"uuid": "GPU-c"}]})");
  testing::LogCapture log;
  NvidiaBackend backend(options_);
  auto chips = backend.Discover();
  ASSERT_TRUE(chips.ok()) << chips.error().message;
  ASSERT_EQ(chips->size(), 2u);
  EXPECT_EQ((*chips)[0].uuid, "GPU-a");
  EXPECT_EQ((*chips)[0].index, 0);
  EXPECT_EQ((*chips)[1].uuid, "GPU-c");
  EXPECT_EQ((*chips)[1].index, 1);
  EXPECT_EQ(log.Count(spdlog::level::err,
                      "GPU 1: nvmlDeviceGetName: Unknown Error (999); this GPU is not served "
                      "until the device plugin restarts"),
            1)
      << log.All();
  auto report = backend.CheckHealth();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->size(), 2u);
  EXPECT_EQ(report->at("GPU-c"), partition::Health::kHealthy);
}

TEST_F(NvidiaBackendTest, ALostGpuAtStartIsSkippedAndTheRestKeepTheirIslandsAndXids) {
  std::string lost = kFourGpus;
  lost.replace(lost.find(R"("uuid": "GPU-aaaa")"), 18, R"("uuid": "GPU-aaaa", "lost": true)");
  Write(lost);
  testing::LogCapture log;
  NvidiaBackend backend(options_);
  auto chips = backend.Discover();
  ASSERT_TRUE(chips.ok()) << chips.error().message;
  ASSERT_EQ(chips->size(), 3u);
  EXPECT_EQ((*chips)[0].uuid, "GPU-bbbb");
  EXPECT_EQ((*chips)[2].uuid, "GPU-dddd");
  EXPECT_EQ((*chips)[2].index, 2);
  EXPECT_EQ((*chips)[1].link_group, (*chips)[2].link_group);     // cccc and dddd: one NVSwitch
  EXPECT_EQ((*chips)[2].health, partition::Health::kUnhealthy);  // dddd: MIG, as before
  EXPECT_EQ(log.Count(spdlog::level::err,
                      "GPU 0: nvmlDeviceGetHandleByIndex_v2: GPU is lost (15); this GPU is not "
                      "served until the device plugin restarts"),
            1)
      << log.All();
  // Health and XIDs follow the GPUs that were read, not NVML's indexes.
  lost.insert(lost.rfind('}'), R"(, "xid": [{"id": 1, "device": 2, "xid": 79}])");
  Write(lost);
  auto report = backend.CheckHealth();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->size(), 3u);
  EXPECT_EQ(report->at("GPU-cccc"), partition::Health::kUnhealthy);
  EXPECT_EQ(report->at("GPU-bbbb"), partition::Health::kHealthy);
}

TEST_F(NvidiaBackendTest, NoReadableGpuOrNoCountIsStillAnError) {
  Write(R"({"devices": [{"uuid": "GPU-a", "lost": true},
                        {"uuid": "GPU-b", "errors": {"nvmlDeviceGetUUID": 999}}]})");
  NvidiaBackend backend(options_);
  auto chips = backend.Discover();
  ASSERT_FALSE(chips.ok());
  EXPECT_EQ(chips.error().message,
            "none of the 2 GPUs can be read (first: GPU 0: nvmlDeviceGetHandleByIndex_v2: GPU is "
            "lost (15))");
  Write(R"({"devices": [{"uuid": "GPU-a"}], "errors": {"nvmlDeviceGetCount_v2": 999}})");
  NvidiaBackend counting(options_);
  auto none = counting.Discover();
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().message, "nvmlDeviceGetCount_v2: Unknown Error (999)");
}

TEST_F(NvidiaBackendTest, InitFailureIsAClearError) {
  Write(R"({"init": 9})");
  NvidiaBackend backend(options_);
  auto chips = backend.Discover();
  ASSERT_FALSE(chips.ok());
  EXPECT_NE(chips.error().message.find("nvmlInit_v2: Driver Not Loaded (9)"), std::string::npos)
      << chips.error().message;
}

TEST_F(NvidiaBackendTest, MissingLibraryIsAClearError) {
  options_.library_path = dir_.File("libnvidia-ml.so.1");
  NvidiaBackend backend(options_);
  auto chips = backend.Discover();
  ASSERT_FALSE(chips.ok());
  EXPECT_NE(chips.error().message.find("cannot load"), std::string::npos);
}

TEST_F(NvidiaBackendTest, CriticalXidMakesTheGpuUnhealthyUntilTheHoldPasses) {
  options_.xid_hold = std::chrono::milliseconds(0);
  NvidiaBackend backend(options_);
  ASSERT_TRUE(backend.Discover().ok());
  auto healthy = backend.CheckHealth();
  ASSERT_TRUE(healthy.ok());
  EXPECT_EQ(healthy->at("GPU-cccc"), partition::Health::kHealthy);

  std::string with_xid = kFourGpus;
  with_xid.insert(with_xid.rfind('}'), R"(, "xid": [{"id": 1, "device": 2, "xid": 79},
                                          {"id": 2, "device": 0, "xid": 31}])");
  Write(with_xid);
  auto report = backend.CheckHealth();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->at("GPU-cccc"), partition::Health::kUnhealthy);
  EXPECT_EQ(report->at("GPU-aaaa"), partition::Health::kHealthy);  // XID 31: application error
  // The event is delivered once; with no hold the GPU recovers on the next check.
  EXPECT_EQ(backend.CheckHealth()->at("GPU-cccc"), partition::Health::kHealthy);
}

TEST_F(NvidiaBackendTest, LostGpuIsUnhealthyAndRecoversWhenItAnswers) {
  NvidiaBackend backend(options_);
  ASSERT_TRUE(backend.Discover().ok());
  std::string lost = kFourGpus;
  lost.replace(lost.find(R"("uuid": "GPU-bbbb")"), 18, R"("uuid": "GPU-bbbb", "lost": true)");
  Write(lost);
  EXPECT_EQ(backend.CheckHealth()->at("GPU-bbbb"), partition::Health::kUnhealthy);
  Write(kFourGpus);
  EXPECT_EQ(backend.CheckHealth()->at("GPU-bbbb"), partition::Health::kHealthy);
}

// GPU-dddd has MIG enabled: listed (admins see it), never served, and MIG is left as it is.
TEST_F(NvidiaBackendTest, MigEnabledGpuIsListedUnhealthy) {
  NvidiaBackend backend(options_);
  auto chips = backend.Discover();
  ASSERT_TRUE(chips.ok()) << chips.error().message;
  EXPECT_EQ((*chips)[3].health, partition::Health::kUnhealthy);
  EXPECT_EQ((*chips)[0].health, partition::Health::kHealthy);
  EXPECT_EQ(backend.CheckHealth()->at("GPU-dddd"), partition::Health::kUnhealthy);
  // MIG disabled (after the admin's GPU reset): healthy again on the next check.
  std::string without_mig = kFourGpus;
  without_mig.replace(without_mig.find(R"(, "mig": 1)"), 10, "");
  Write(without_mig);
  EXPECT_EQ(backend.CheckHealth()->at("GPU-dddd"), partition::Health::kHealthy);
}

TEST_F(NvidiaBackendTest, VisibleDevicesAreUuids) {
  NvidiaBackend backend(options_);
  auto chips = backend.Discover();
  ASSERT_TRUE(chips.ok());
  auto env = backend.VisibleDevicesEnv({(*chips)[2], (*chips)[0]});
  EXPECT_EQ(env.at("NVIDIA_VISIBLE_DEVICES"), "GPU-cccc,GPU-aaaa");
}

TEST(SysfsBusId, ShortensTheDomainAndLowersHex) {
  EXPECT_EQ(SysfsBusId("00000000:AB:00.0"), "0000:ab:00.0");
  EXPECT_EQ(SysfsBusId("0000:ab:00.0"), "0000:ab:00.0");
}

}  // namespace
}  // namespace flexai::device_plugin
