// The daemon, in-process, against the test kubelet and a fake cluster: the kubelet-facing
// behaviour end to end (registration, streams, health, restarts, preferred allocation, Allocate).
#include <gtest/gtest.h>
#include <httplib.h>
#include <time.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "device_plugin/backend/nvidia/nvidia_backend.h"
#include "device_plugin/backend/sim/sim_backend.h"
#include "device_plugin/daemon.h"
#include "device_plugin/device_id.h"
#include "device_plugin/kubelet_connection.h"
#include "fake_cluster_client.h"
#include "isolation/usage_layout.h"
#include "isolation/usage_reader.h"
#include "kube/protocol.h"
#include "sim_daemon_options.h"
#include "sim_file.h"
#include "test_kubelet.h"
#include "usage_file.h"

namespace flexai::device_plugin {
namespace {

using namespace std::chrono_literals;
using testing::ChipHealth;
using testing::DeviceListWatcher;
using testing::Eventually;
using testing::FakeClusterClient;
using testing::PendingPod;
using testing::TempDir;
using testing::TestKubelet;

class DaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sim_file_ = dir_.File("sim.yaml");
    testing::WriteFileAtomically(sim_file_, testing::FourChipSimFile());
    kubelet_.Start();
    DaemonOptions options = testing::SimDaemonOptions(dir_.path(), sim_file_);
    options.metrics_listen = metrics_listen_;
    auto cluster = std::make_unique<FakeClusterClient>();
    cluster_ = cluster.get();
    PluginSettings settings;
    settings.max_slices_per_chip = 4;
    settings.shared_host_dir = dir_.File("shared");
    auto daemon =
        Daemon::Create(options, std::make_unique<SimBackend>(sim_file_, "n1"), std::move(cluster),
                       [settings](partition::Vendor) { return Result<PluginSettings>(settings); });
    ASSERT_TRUE(daemon.ok()) << daemon.error().message;
    daemon_ = std::move(*daemon);
    Status started = daemon_->Start();
    ASSERT_TRUE(started.ok()) << started.message();
    ASSERT_TRUE(kubelet_.WaitForRegistrations(1, 10s));
  }

  grpc::Status Allocate(const std::vector<std::string>& ids, v1beta1::AllocateResponse& response) {
    v1beta1::AllocateRequest request;
    auto* container = request.add_container_requests();
    for (const auto& id : ids) container->add_devices_ids(id);
    grpc::ClientContext context;
    return kubelet_.PluginStub()->Allocate(&context, request, &response);
  }

  std::string metrics_listen_;  // none by default: the endpoint takes seconds to stop
  TempDir dir_;
  std::string sim_file_;
  TestKubelet kubelet_{dir_.path()};
  FakeClusterClient* cluster_ = nullptr;
  std::unique_ptr<Daemon> daemon_;
};

TEST_F(DaemonTest, RegistersItsResourceAndEndpointWithKubelet) {
  auto registration = kubelet_.registrations().front();
  EXPECT_EQ(registration.version(), "v1beta1");
  EXPECT_EQ(registration.resource_name(), "flexai.io/gpu");
  EXPECT_EQ(registration.endpoint(), "flexai-gpu.sock");
  EXPECT_TRUE(registration.options().get_preferred_allocation_available());

  v1beta1::DevicePluginOptions options;
  grpc::ClientContext context;
  ASSERT_TRUE(kubelet_.PluginStub()->GetDevicePluginOptions(&context, {}, &options).ok());
  EXPECT_TRUE(options.get_preferred_allocation_available());
  EXPECT_FALSE(options.pre_start_required());
}

TEST_F(DaemonTest, ListAndWatchShowsSlicesPerChipWithHealthAndNuma) {
  DeviceListWatcher watcher(kubelet_.PluginStub());
  auto list = watcher.WaitFor([](const auto& l) { return l.devices_size() > 0; });
  ASSERT_TRUE(list.has_value());
  ASSERT_EQ(list->devices_size(), 16);  // 4 chips x 4 slices
  EXPECT_EQ(list->devices(0).id(), "GPU-t-0::0");
  EXPECT_EQ(list->devices(15).id(), "GPU-t-3::3");
  EXPECT_EQ(list->devices(15).health(), "Healthy");
  ASSERT_EQ(list->devices(15).topology().nodes_size(), 1);
  EXPECT_EQ(list->devices(15).topology().nodes(0).id(), 1);
}

TEST_F(DaemonTest, HealthFlipIsStreamedAndRecoveryToo) {
  DeviceListWatcher watcher(kubelet_.PluginStub());
  ASSERT_TRUE(watcher.WaitFor([](const auto& l) { return ChipHealth(l, "GPU-t-2") == "Healthy"; }));
  testing::WriteFileAtomically(sim_file_, testing::FourChipSimFile({2}));
  auto sick =
      watcher.WaitFor([](const auto& l) { return ChipHealth(l, "GPU-t-2") == "Unhealthy"; });
  ASSERT_TRUE(sick.has_value());
  EXPECT_EQ(ChipHealth(*sick, "GPU-t-1"), "Healthy");
  testing::WriteFileAtomically(sim_file_, testing::FourChipSimFile());
  EXPECT_TRUE(watcher.WaitFor([](const auto& l) { return ChipHealth(l, "GPU-t-2") == "Healthy"; }));
}

// A daemon on the NVIDIA backend over the fake NVML (its config at FAKE_NVML_CONFIG), the shared
// host folder in `dir`.
Result<std::unique_ptr<Daemon>> NvmlDaemon(const TempDir& dir) {
  NvidiaBackendOptions nvml;
  nvml.library_path = FAKE_NVML_LIB;
  nvml.sysfs_root = dir.File("sys");
  nvml.xid_hold = std::chrono::seconds(2);
  PluginSettings settings;
  settings.max_slices_per_chip = 2;
  settings.shared_host_dir = dir.File("shared");
  DaemonOptions options = testing::SimDaemonOptions(dir.path(), "");
  options.backend = "nvidia";
  return Daemon::Create(options, std::make_unique<NvidiaBackend>(nvml), nullptr,
                        [settings](partition::Vendor) { return Result<PluginSettings>(settings); });
}

// The NVML path end to end: a critical XID from the (fake) driver reaches kubelet's
// ListAndWatch stream as Unhealthy, and the GPU comes back once the hold after it passes.
TEST(NvmlDaemonTest, CriticalXidReachesTheStreamAndTheGpuRecovers) {
  TempDir dir;
  const std::string config = dir.File("nvml.json");
  const std::string gpus = R"({"devices": [
    {"uuid": "GPU-x0", "name": "NVIDIA H200", "memoryTotal": 150754820096, "busId": "00000000:18:00.0"},
    {"uuid": "GPU-x1", "name": "NVIDIA H200", "memoryTotal": 150754820096, "busId": "00000000:2A:00.0"})";
  testing::WriteFileAtomically(config, gpus + "]}");
  setenv("FAKE_NVML_CONFIG", config.c_str(), 1);
  TestKubelet kubelet(dir.path());
  kubelet.Start();
  auto daemon = NvmlDaemon(dir);
  ASSERT_TRUE(daemon.ok()) << daemon.error().message;
  ASSERT_TRUE((*daemon)->Start().ok());
  ASSERT_TRUE(kubelet.WaitForRegistrations(1, 20s));
  DeviceListWatcher watcher(kubelet.PluginStub());
  ASSERT_TRUE(watcher.WaitFor([](const auto& l) { return ChipHealth(l, "GPU-x1") == "Healthy"; }));

  testing::WriteFileAtomically(config, gpus + R"(], "xid": [{"id": 1, "device": 1, "xid": 79}]})");
  auto sick = watcher.WaitFor([](const auto& l) { return ChipHealth(l, "GPU-x1") == "Unhealthy"; });
  ASSERT_TRUE(sick.has_value());
  EXPECT_EQ(ChipHealth(*sick, "GPU-x0"), "Healthy");
  EXPECT_TRUE(watcher.WaitFor([](const auto& l) { return ChipHealth(l, "GPU-x1") == "Healthy"; }));
  daemon->reset();
  unsetenv("FAKE_NVML_CONFIG");
}

TEST_F(DaemonTest, BrokenSimFileKeepsLastKnownHealth) {
  testing::WriteFileAtomically(sim_file_, testing::FourChipSimFile({1}));
  ASSERT_TRUE(Eventually([&] { return !daemon_->inventory().chips()[1].healthy(); }));
  testing::WriteFileAtomically(sim_file_, "chips: [ {uuid: ");
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(daemon_->inventory().chips()[1].healthy());
  EXPECT_TRUE(daemon_->inventory().chips()[0].healthy());
}

TEST_F(DaemonTest, KubeletRestartLeadsToReServeAndReRegisterWithStateKept) {
  testing::WriteFileAtomically(sim_file_, testing::FourChipSimFile({3}));
  ASSERT_TRUE(Eventually([&] { return !daemon_->inventory().chips()[3].healthy(); }));
  kubelet_.Restart();
  ASSERT_TRUE(kubelet_.WaitForRegistrations(2, 10s));
  EXPECT_GE(daemon_->kubelet().serve_count(), 2);
  DeviceListWatcher watcher(kubelet_.PluginStub());
  auto list = watcher.WaitFor([](const auto& l) { return l.devices_size() > 0; });
  ASSERT_TRUE(list.has_value());
  EXPECT_EQ(ChipHealth(*list, "GPU-t-3"), "Unhealthy");
  EXPECT_EQ(ChipHealth(*list, "GPU-t-0"), "Healthy");
}

TEST_F(DaemonTest, RegistersOnceKubeletComesUpLater) {
  kubelet_.Shutdown();
  std::filesystem::remove(dir_.File("kubelet.sock"));
  std::this_thread::sleep_for(300ms);
  kubelet_.Start();  // a new kubelet.sock: the daemon must notice and register again
  EXPECT_TRUE(kubelet_.WaitForRegistrations(2, 10s));
}

TEST_F(DaemonTest, PreferredAllocationKeepsChipsOnOneIsland) {
  v1beta1::PreferredAllocationRequest request;
  auto* container = request.add_container_requests();
  for (const char* id : {"GPU-t-0::0", "GPU-t-1::0", "GPU-t-2::0", "GPU-t-3::0", "GPU-t-3::1"}) {
    container->add_available_deviceids(id);
  }
  container->add_must_include_deviceids("GPU-t-3::0");
  container->set_allocation_size(2);
  v1beta1::PreferredAllocationResponse response;
  grpc::ClientContext context;
  ASSERT_TRUE(kubelet_.PluginStub()->GetPreferredAllocation(&context, request, &response).ok());
  ASSERT_EQ(response.container_responses_size(), 1);
  const auto& ids = response.container_responses(0).deviceids();
  ASSERT_EQ(ids.size(), 2);
  EXPECT_EQ(ids[0], "GPU-t-3::0");
  EXPECT_EQ(ids[1], "GPU-t-2::0");
}

TEST_F(DaemonTest, AllocateWithMatchingAssignmentReturnsEnvAndMounts) {
  cluster_->AddPod(PendingPod("infer", "n1", "node=n1;cpu=100;mem=64|main=GPU-t-2:8192:40",
                              "2026-11-28T03:00:00Z"));
  v1beta1::AllocateResponse response;
  grpc::Status status = Allocate({"GPU-t-0::1"}, response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.container_responses_size(), 1);
  const auto& envs = response.container_responses(0).envs();
  EXPECT_EQ(envs.at("NVIDIA_VISIBLE_DEVICES"), "GPU-t-2");
  EXPECT_EQ(envs.at("FLEXAI_MEMORY_LIMIT_MIB"), "8192");
  EXPECT_EQ(envs.at("FLEXAI_CORES_LIMIT"), "40");
  EXPECT_EQ(envs.at("FLEXAI_ISOLATION"), "hook");
  EXPECT_EQ(envs.at("FLEXAI_ACTIVITY_DIR"), "/var/run/flexai/activity");
  // The hook library, the container's accounting directory and its GPU's activity board.
  ASSERT_EQ(response.container_responses(0).mounts_size(), 3);
  const auto& board = response.container_responses(0).mounts(2);
  EXPECT_EQ(board.container_path(), "/var/run/flexai/activity/GPU-t-2");
  EXPECT_EQ(board.host_path(), dir_.File("shared") + "/activity-GPU-t-2");
  EXPECT_TRUE(board.read_only());
  EXPECT_EQ(cluster_->PodAnnotation("infer", kBindPhaseAnnotation), kBindPhaseSuccess);
}

TEST_F(DaemonTest, AFailedContainerInARequestTakesBackTheEarlierOnes) {
  cluster_->AddPod(
      PendingPod("one", "n1", "node=n1;cpu=0;mem=0|main=GPU-t-1:1024:10", "2026-11-28T03:00:00Z"));
  v1beta1::AllocateRequest request;
  request.add_container_requests()->add_devices_ids("GPU-t-0::0");
  request.add_container_requests()->add_devices_ids("GPU-t-0::1");  // no second pod waits
  v1beta1::AllocateResponse response;
  grpc::ClientContext context;
  EXPECT_FALSE(kubelet_.PluginStub()->Allocate(&context, request, &response).ok());
  EXPECT_TRUE(daemon_->allocator().UsageByChip().empty());
  // kubelet's retry with one container finds the pod again.
  v1beta1::AllocateResponse retry;
  EXPECT_TRUE(Allocate({"GPU-t-0::0"}, retry).ok());
}

TEST_F(DaemonTest, RepeatedAllocateGetsTheSameAnswerAndLeavesTheNextPodItsOwn) {
  cluster_->AddPod(PendingPod("first", "n1", "node=n1;cpu=0;mem=0|main=GPU-t-1:2048:20",
                              "2026-11-28T03:00:00Z"));
  cluster_->AddPod(PendingPod("second", "n1", "node=n1;cpu=0;mem=0|main=GPU-t-3:4096:30",
                              "2026-11-28T03:00:01Z"));
  v1beta1::AllocateResponse answer;
  ASSERT_TRUE(Allocate({"GPU-t-1::0"}, answer).ok());
  ASSERT_EQ(cluster_->PodAnnotation("first", kBindPhaseAnnotation), kBindPhaseSuccess);
  // kubelet gave up waiting and asks again for the same container, with the same devices.
  v1beta1::AllocateResponse repeat;
  grpc::Status status = Allocate({"GPU-t-1::0"}, repeat);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(repeat.container_responses_size(), 1);
  const auto& first = answer.container_responses(0);
  const auto& again = repeat.container_responses(0);
  EXPECT_EQ((std::map<std::string, std::string>(again.envs().begin(), again.envs().end())),
            (std::map<std::string, std::string>(first.envs().begin(), first.envs().end())));
  EXPECT_EQ(again.envs().at("NVIDIA_VISIBLE_DEVICES"), "GPU-t-1");
  ASSERT_EQ(again.mounts_size(), first.mounts_size());
  for (int i = 0; i < first.mounts_size(); ++i) {
    EXPECT_EQ(again.mounts(i).SerializeAsString(), first.mounts(i).SerializeAsString());
  }
  EXPECT_EQ(cluster_->PodAnnotation("second", kBindPhaseAnnotation), kBindPhaseAllocating);
  // The next pod's own Allocate still finds its assignment.
  v1beta1::AllocateResponse next;
  ASSERT_TRUE(Allocate({"GPU-t-3::0"}, next).ok());
  EXPECT_EQ(next.container_responses(0).envs().at("NVIDIA_VISIBLE_DEVICES"), "GPU-t-3");
  EXPECT_EQ(cluster_->PodAnnotation("second", kBindPhaseAnnotation), kBindPhaseSuccess);
}

TEST_F(DaemonTest, AllocateWithoutAssignmentFailsWithClearError) {
  v1beta1::AllocateResponse response;
  grpc::Status status = Allocate({"GPU-t-0::1"}, response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(status.error_message().find("no pod on node n1"), std::string::npos);
  status = Allocate({"GPU-nope::1"}, response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(DaemonTest, PublishesInventoryAndHeartbeatOnTheNode) {
  ASSERT_TRUE(Eventually([&] { return cluster_->node_annotations("n1").size() == 3; }));
  auto annotations = cluster_->node_annotations("n1");
  // Live usage rides along, in its own annotation: every chip, idle here.
  auto live = kube::DecodeLiveUsage(annotations.at(std::string(kube::kLiveUsageAnnotation)));
  ASSERT_TRUE(live.ok()) << live.error().message;
  ASSERT_EQ(live->chips.size(), 4u);
  EXPECT_EQ(live->chips[2].uuid, "GPU-t-2");
  EXPECT_EQ(live->chips[2].memory_used_mib, 0);
  auto inventory = nlohmann::json::parse(annotations.at(kInventoryAnnotation));
  EXPECT_EQ(inventory["vendor"], "nvidia");
  ASSERT_EQ(inventory["chips"].size(), 4u);
  EXPECT_EQ(inventory["chips"][2]["uuid"], "GPU-t-2");
  EXPECT_EQ(inventory["chips"][2]["linkGroup"], 1);
  EXPECT_TRUE(ParseRfc3339(annotations.at(kHeartbeatAnnotation)).has_value());
  // A health change is published without waiting for the next heartbeat.
  testing::WriteFileAtomically(sim_file_, testing::FourChipSimFile({0}));
  EXPECT_TRUE(Eventually([&] {
    auto now = nlohmann::json::parse(cluster_->node_annotations("n1").at(kInventoryAnnotation));
    return now["chips"][0]["health"] == "Unhealthy";
  }));
}

class DaemonWithMetricsTest : public DaemonTest {
 protected:
  DaemonWithMetricsTest() { metrics_listen_ = "127.0.0.1:0"; }
};

class DaemonWithMetricsOnEveryAddressTest : public DaemonTest {
 protected:
  DaemonWithMetricsOnEveryAddressTest() { metrics_listen_ = ":0"; }  // as --metrics-listen :9400
};

TEST_F(DaemonWithMetricsOnEveryAddressTest, APortAloneListensOnEveryAddress) {
  ASSERT_GT(daemon_->metrics_port(), 0);
  httplib::Client client("127.0.0.1", daemon_->metrics_port());
  auto reply = client.Get("/metrics");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
}

TEST_F(DaemonWithMetricsTest, MetricsShowPerChipAllocationAndHealth) {
  cluster_->AddPod(PendingPod("infer", "n1", "node=n1;cpu=100;mem=64|main=GPU-t-1:8192:40",
                              "2026-11-28T03:00:00Z"));
  v1beta1::AllocateResponse response;
  ASSERT_TRUE(Allocate({"GPU-t-0::1"}, response).ok());
  testing::WriteFileAtomically(sim_file_, testing::FourChipSimFile({3}));
  ASSERT_TRUE(Eventually([&] { return !daemon_->inventory().chips()[3].healthy(); }));

  // The container's hook reports 3 GiB in use and 25% of the GPU's time.
  auto file = testing::NewUsageFile(1);
  file->devices[0].limit_bytes = 8192ULL << 20;
  file->devices[0].used_bytes = 3072ULL << 20;
  file->devices[0].cores_percent = 40;
  file->devices[0].sm_share_permille = 250;
  file->devices[0].window_start_ns = isolation::MonotonicNowNs();  // the share is current
  std::ofstream(dir_.File("shared/uid-infer/main/usage.bin"), std::ios::binary)
      .write(reinterpret_cast<const char*>(file.get()), sizeof(isolation::UsageFile));

  ASSERT_GT(daemon_->metrics_port(), 0);
  httplib::Client client("127.0.0.1", daemon_->metrics_port());
  auto reply = client.Get("/metrics");
  ASSERT_TRUE(reply);
  ASSERT_EQ(reply->status, 200);
  const std::string& body = reply->body;
  auto has = [&](const std::string& line) { return body.find(line) != std::string::npos; };
  EXPECT_TRUE(has(
      R"(flexai_chip_memory_allocated_mib{node="n1",chip="1",uuid="GPU-t-1",model="H100"} 8192)"))
      << body;
  EXPECT_TRUE(has(
      R"(flexai_chip_cores_allocated_percent{node="n1",chip="1",uuid="GPU-t-1",model="H100"} 40)"));
  EXPECT_TRUE(
      has(R"(flexai_chip_slices_in_use{node="n1",chip="1",uuid="GPU-t-1",model="H100"} 1)"));
  EXPECT_TRUE(
      has(R"(flexai_chip_slices_in_use{node="n1",chip="0",uuid="GPU-t-0",model="H100"} 0)"));
  EXPECT_TRUE(has(R"(flexai_chip_healthy{node="n1",chip="3",uuid="GPU-t-3",model="H100"} 0)"));
  EXPECT_TRUE(
      has(R"(flexai_chip_memory_total_mib{node="n1",chip="3",uuid="GPU-t-3",model="H100"} 16384)"));
  EXPECT_TRUE(
      has(R"(flexai_chip_memory_used_mib{node="n1",chip="1",uuid="GPU-t-1",model="H100"} 3072)"))
      << body;
  EXPECT_TRUE(has(
      R"(flexai_chip_compute_used_percent{node="n1",chip="1",uuid="GPU-t-1",model="H100"} 25)"));
}

}  // namespace
}  // namespace flexai::device_plugin
