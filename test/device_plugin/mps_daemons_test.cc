// The node's MPS control daemons, run or only watched: the chart runs them in a container of
// their own (flexai-device-plugin --mps-daemons-only) and the device plugin watches them
// (--mps-daemons watch), so that a restart of the plugin leaves the MPS servers of running pods
// alone. Uses the fake control script of test/isolation instead of the NVIDIA binary.
#include "device_plugin/mps_daemons.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "child_process.h"
#include "device_plugin/backend/sim/sim_backend.h"
#include "device_plugin/daemon.h"
#include "device_plugin/settings_loader.h"
#include "fake_cluster_client.h"
#include "kube/protocol.h"
#include "sim_daemon_options.h"
#include "sim_file.h"
#include "test_kubelet.h"

namespace flexai::device_plugin {
namespace {

using namespace std::chrono_literals;
using testing::TempDir;

const std::string kFakeControl = FLEXAI_SOURCE_DIR "/test/isolation/fake_mps_control.sh";

std::vector<partition::Chip> TwoGpus() {
  std::vector<partition::Chip> chips(2);
  chips[0].uuid = "GPU-a";
  chips[1].uuid = "GPU-b";
  return chips;
}

// The pid of the fake daemon serving `gpu` under `mps_dir`, or -1 when none runs.
int DaemonPid(const std::string& mps_dir, const std::string& gpu) {
  std::ifstream file(mps_dir + "/" + gpu + "/pipe/fake-daemon.pid");
  int pid = -1;
  file >> pid;
  return pid;
}

bool Alive(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  return pid > 0 && !text.empty() && text.find(") Z") == std::string::npos;
}

bool WaitUntilDead(int pid) {
  for (int i = 0; i < 250 && Alive(pid); ++i) std::this_thread::sleep_for(20ms);
  return !Alive(pid);
}

MpsDaemonsOptions Options(const std::string& mps_dir, MpsDaemonRole role) {
  MpsDaemonsOptions options;
  options.mps_dir = mps_dir;
  options.control_binary = kFakeControl;
  options.role = role;
  return options;
}

TEST(MpsDaemonsTest, RunStartsOnePerGpuAndTheNodeWideOneAndQuitsThemAtStop) {
  TempDir dir;
  const std::string mps = dir.File("mps");
  MpsDaemons daemons(TwoGpus(), Options(mps, MpsDaemonRole::kRun));
  Status started = daemons.Start();
  // This process's /dev/shm is not <mps>/shm: reported, the daemons start all the same.
  ASSERT_FALSE(started.ok());
  EXPECT_NE(started.message().find("/dev/shm"), std::string::npos) << started.message();
  EXPECT_EQ(std::filesystem::status(mps + "/shm").permissions() & std::filesystem::perms::all,
            std::filesystem::perms::all);
  std::vector<int> pids;
  for (const std::string gpu : {"GPU-a", "GPU-b", "all"}) {
    EXPECT_TRUE(daemons.Running(gpu)) << gpu;
    pids.push_back(DaemonPid(mps, gpu));
    EXPECT_TRUE(Alive(pids.back())) << gpu;
  }
  EXPECT_FALSE(daemons.Running("GPU-c"));
  daemons.Stop();
  for (int pid : pids) EXPECT_TRUE(WaitUntilDead(pid)) << pid;
  EXPECT_EQ(DaemonPid(mps, "GPU-a"), -1);
  EXPECT_EQ(DaemonPid(mps, "all"), -1);
}

TEST(MpsDaemonsTest, AWatcherStartsNothingAndLeavesTheDaemonsRunningAtStop) {
  TempDir dir;
  const std::string mps = dir.File("mps");
  MpsDaemons watcher(TwoGpus(), Options(mps, MpsDaemonRole::kWatch));
  Status watched = watcher.Start();
  ASSERT_FALSE(watched.ok());  // nobody runs them yet
  EXPECT_NE(watched.message().find("mps-control container"), std::string::npos)
      << watched.message();
  EXPECT_FALSE(watcher.Running("GPU-a"));
  EXPECT_FALSE(std::filesystem::exists(mps));  // not even their folders
  watcher.Stop();

  MpsDaemons runner(TwoGpus(), Options(mps, MpsDaemonRole::kRun));
  runner.Start();
  MpsDaemons second(TwoGpus(), Options(mps, MpsDaemonRole::kWatch));
  Status answered = second.Start();
  EXPECT_TRUE(answered.ok()) << answered.message();  // no /dev/shm check: not its daemons
  EXPECT_TRUE(second.Running("GPU-b"));
  EXPECT_TRUE(second.Running("all"));
  const int pid = DaemonPid(mps, "GPU-a");
  second.Stop();  // as at a restart of the device plugin's container
  EXPECT_TRUE(Alive(pid));
  EXPECT_EQ(DaemonPid(mps, "GPU-a"), pid);
}

// The whole device plugin in watch mode: MPS slices wait for the daemons of the mps-control
// container, its /metrics leave their reporting to that container, and its stop quits nothing.
TEST(MpsDaemonsTest, ADevicePluginThatWatchesLeavesTheDaemonsToTheirContainer) {
  TempDir dir;
  const std::string sim = dir.File("sim.yaml"), policy = dir.File("policy.yaml");
  const std::string mps = dir.File("mps");
  testing::WriteFileAtomically(sim, testing::FourChipSimFile());
  testing::WriteFileAtomically(policy,
                               "apiVersion: flexai.io/v1\nkind: SlicePolicy\nsharing:\n"
                               "  isolationMode: mps\n");
  SimBackend chips_of(sim, "n1");
  auto chips = chips_of.Discover();
  ASSERT_TRUE(chips.ok());
  chips->resize(2);  // GPU-t-2 and GPU-t-3 get no daemon
  MpsDaemons runner(*chips, Options(mps, MpsDaemonRole::kRun));
  runner.Start();
  const int pid = DaemonPid(mps, "GPU-t-0");
  ASSERT_TRUE(Alive(pid));

  testing::TestKubelet kubelet{dir.path()};
  kubelet.Start();
  DaemonOptions options = testing::SimDaemonOptions(dir.path(), sim);
  options.policy = policy;
  options.policy_poll_seconds = 0;
  options.mps_dir = mps;
  options.mps_control = kFakeControl;
  options.mps_daemons = "watch";
  options.metrics_listen = "127.0.0.1:0";
  auto cluster = std::make_unique<testing::FakeClusterClient>();
  testing::FakeClusterClient* pods = cluster.get();
  auto daemon = Daemon::Create(
      options, std::make_unique<SimBackend>(sim, "n1"), std::move(cluster),
      [policy](partition::Vendor vendor) { return LoadPluginSettings(policy, vendor, {}); });
  ASSERT_TRUE(daemon.ok()) << daemon.error().message;
  Status started = (*daemon)->Start();
  ASSERT_TRUE(started.ok()) << started.message();
  ASSERT_TRUE(kubelet.WaitForRegistrations(1, 10s));
  EXPECT_EQ((*daemon)->settings()->isolation, IsolationMode::kMps);
  httplib::Client client("127.0.0.1", (*daemon)->metrics_port());
  auto scraped = client.Get("/metrics");
  ASSERT_TRUE(scraped);
  EXPECT_NE(scraped->body.find("flexai_chip_"), std::string::npos);
  EXPECT_EQ(scraped->body.find("flexai_mps_daemon_up"), std::string::npos);

  // A slice whose daemon answers is served; one whose daemon is not there waits (never a
  // container that would run without MPS limits).
  pods->AddPod(testing::PendingPod("served", "n1", "node=n1;cpu=0;mem=0|main=GPU-t-0:4096:30",
                                   "2026-11-28T03:00:01Z"));
  pods->AddPod(testing::PendingPod("waits", "n1", "node=n1;cpu=0;mem=0|main=GPU-t-2:4096:30",
                                   "2026-11-28T03:00:00Z"));
  for (const std::string pod : {"waits", "served"}) {  // the oldest bind first
    v1beta1::AllocateRequest request;
    request.add_container_requests()->add_devices_ids("GPU-t-1::0");
    v1beta1::AllocateResponse response;
    grpc::ClientContext context;
    grpc::Status status = kubelet.PluginStub()->Allocate(&context, request, &response);
    if (pod == "served") {
      ASSERT_TRUE(status.ok()) << status.error_message();
      EXPECT_EQ(response.container_responses(0).envs().at("CUDA_MPS_PIPE_DIRECTORY"),
                "/var/run/flexai/mps");
    } else {
      EXPECT_FALSE(status.ok());
      EXPECT_NE(pods->PodAnnotation(pod, std::string(kube::kBindErrorAnnotation))
                    .find("MPS control daemon"),
                std::string::npos)
          << pods->PodAnnotation(pod, std::string(kube::kBindErrorAnnotation));
    }
  }
  (*daemon)->Stop();
  EXPECT_TRUE(Alive(pid));
  EXPECT_EQ(DaemonPid(mps, "GPU-t-0"), pid);
}

// The binary's --mps-daemons-only: the daemons and their metrics, quit at SIGTERM.
TEST(MpsDaemonsBinaryTest, MpsDaemonsOnlyRunsTheDaemonsUntilSigterm) {
  TempDir dir;
  const std::string sim = dir.File("sim.yaml"), mps = dir.File("mps");
  testing::WriteFileAtomically(sim, testing::FourChipSimFile());
  testing::ChildProcess child({FLEXAI_DEVICE_PLUGIN_BIN, "--mps-daemons-only", "--backend", "sim",
                               "--sim-config", sim, "--mps-dir", mps, "--mps-control", kFakeControl,
                               "--node-name", "n1", "--metrics-listen", "127.0.0.1:0"},
                              {}, dir.File("mps.log"));
  ASSERT_TRUE(child.started());
  int pid = -1;
  for (int i = 0; i < 500 && !Alive(pid = DaemonPid(mps, "all")); ++i) {
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(Alive(pid));
  for (const std::string gpu : {"GPU-t-0", "GPU-t-3"}) EXPECT_TRUE(Alive(DaemonPid(mps, gpu)));
  EXPECT_EQ(child.Stop(), 0);
  EXPECT_FALSE(Alive(pid));
  EXPECT_EQ(DaemonPid(mps, "GPU-t-0"), -1);
  std::ifstream log(dir.File("mps.log"));
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("running the MPS control daemons of 4 GPU(s)"), std::string::npos) << text;
}

TEST(MpsDaemonsBinaryTest, MpsDaemonsOnlyRefusesChipsThatAreNotNvidia) {
  TempDir dir;
  const std::string sim = dir.File("sim.yaml");
  testing::WriteFileAtomically(sim,
                               "vendor: ascend\nchips:\n  - {uuid: NPU-0, model: 910B, "
                               "memoryMiB: 65536}\n");
  int status = 0;
  std::string output = testing::RunAndCapture(
      std::string(FLEXAI_DEVICE_PLUGIN_BIN) + " --mps-daemons-only --backend sim --sim-config " +
          sim + " --metrics-listen '' 2>&1",
      status);
  EXPECT_NE(status, 0);
  EXPECT_NE(output.find("MPS is for NVIDIA GPUs"), std::string::npos) << output;
}

}  // namespace
}  // namespace flexai::device_plugin
