// Live usage and MPS state leaving the node: each chip's usage, summed from its slices'
// usage.bin, is published on the Node (flexai.io/live-usage) with every heartbeat; a compute
// share the hook stopped updating reads as idle; the MPS control daemons' state is on /metrics.
#include <gtest/gtest.h>
#include <httplib.h>
#include <prometheus/text_serializer.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "device_plugin/backend/sim/sim_backend.h"
#include "device_plugin/chip_metrics.h"
#include "device_plugin/daemon.h"
#include "device_plugin/inventory_publisher.h"
#include "fake_cluster_client.h"
#include "isolation/mps_supervisor.h"
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
using testing::FakeClusterClient;
using testing::TempDir;

// What the hook would have written for one visible device of a container.
struct DeviceReport {
  std::uint64_t used_mib = 0;
  std::uint32_t sm_share_permille = 0;
  std::int64_t window_start_ns = 0;  // CLOCK_MONOTONIC of the share's last update
};

std::string UsageBytes(const std::vector<DeviceReport>& devices) {
  auto file = testing::NewUsageFile(static_cast<std::uint32_t>(devices.size()));
  for (size_t d = 0; d < devices.size(); ++d) {
    file->devices[d].limit_bytes = isolation::kUnlimitedBytes;
    file->devices[d].used_bytes = devices[d].used_mib << 20;
    file->devices[d].cores_percent = 100;
    file->devices[d].sm_share_permille = devices[d].sm_share_permille;
    file->devices[d].window_start_ns = devices[d].window_start_ns;
  }
  return std::string(reinterpret_cast<const char*>(file.get()), sizeof(isolation::UsageFile));
}

void WriteUsageFile(const std::string& path, const std::vector<DeviceReport>& devices) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << UsageBytes(devices);
}

// ---- the reader ages a share the hook stopped updating ----

TEST(UsageReaderAgeing, AShareNotUpdatedForSecondsReadsAsIdle) {
  const std::int64_t now = 100'000'000'000;  // any CLOCK_MONOTONIC reading
  std::string bytes = UsageBytes({
      {.used_mib = 100, .sm_share_permille = 400, .window_start_ns = now - 1'000'000'000},
      {.used_mib = 200, .sm_share_permille = 300, .window_start_ns = now - 10'000'000'000},
      {.used_mib = 300, .sm_share_permille = 200, .window_start_ns = 0},
  });
  auto snapshot = isolation::ParseUsage(bytes, now);
  ASSERT_TRUE(snapshot.ok()) << snapshot.error().message;
  ASSERT_EQ(snapshot->devices.size(), 3u);
  EXPECT_DOUBLE_EQ(snapshot->devices[0].sm_share, 0.4);    // updated a second ago
  EXPECT_DOUBLE_EQ(snapshot->devices[1].sm_share, 0.0);    // idle for 10 s: not 30 % any more
  EXPECT_DOUBLE_EQ(snapshot->devices[2].sm_share, 0.0);    // never launched
  EXPECT_EQ(snapshot->devices[1].used_bytes, 200u << 20);  // memory is not aged: it is held
  // Just inside and just outside the limit.
  const std::int64_t limit = std::chrono::nanoseconds(isolation::kShareStaleAfter).count();
  EXPECT_DOUBLE_EQ(isolation::ParseUsage(bytes, now - 10'000'000'000 + limit)->devices[1].sm_share,
                   0.3);
  EXPECT_DOUBLE_EQ(
      isolation::ParseUsage(bytes, now - 10'000'000'000 + limit + 1)->devices[1].sm_share, 0.0);
}

TEST(UsageReaderAgeing, TheCurrentTimeIsTheHooksClock) {
  // The hook stamps windows with CLOCK_MONOTONIC: a share updated now is fresh for the reader.
  std::string bytes = UsageBytes(
      {{.used_mib = 1, .sm_share_permille = 250, .window_start_ns = isolation::MonotonicNowNs()}});
  auto snapshot = isolation::ParseUsage(bytes);
  ASSERT_TRUE(snapshot.ok()) << snapshot.error().message;
  EXPECT_DOUBLE_EQ(snapshot->devices.at(0).sm_share, 0.25);
}

TEST(UsageReaderAgeing, AWindowInTheFutureOrAShareAboveTheWholeGpuIsNotBelieved) {
  const std::int64_t now = 100'000'000'000;
  std::string bytes = UsageBytes({
      {.used_mib = 1, .sm_share_permille = 500, .window_start_ns = now + 3'600'000'000'000},
      {.used_mib = 1, .sm_share_permille = 4'000'000'000u, .window_start_ns = now},
  });
  auto snapshot = isolation::ParseUsage(bytes, now);
  ASSERT_TRUE(snapshot.ok()) << snapshot.error().message;
  EXPECT_DOUBLE_EQ(snapshot->devices[0].sm_share, 0.0);  // would stay "fresh" for an hour
  EXPECT_DOUBLE_EQ(snapshot->devices[1].sm_share, 1.0);
}

// ---- the file is the container's: only a regular file of the right size is read ----

TEST(UsageReaderFile, AFifoALinkOrAFileOfAnotherSizeIsRefusedWithoutBlocking) {
  TempDir dir;
  const std::string fifo = dir.File("fifo/usage.bin");
  std::filesystem::create_directories(dir.File("fifo"));
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  auto from_fifo = isolation::ReadUsageFile(fifo);  // a blocking open would hang here
  ASSERT_FALSE(from_fifo.ok());
  EXPECT_NE(from_fifo.error().message.find("not a regular file"), std::string::npos)
      << from_fifo.error().message;

  WriteUsageFile(dir.File("real/usage.bin"), {{.used_mib = 1}});
  std::filesystem::create_directories(dir.File("link"));
  std::filesystem::create_symlink(dir.File("real/usage.bin"), dir.File("link/usage.bin"));
  EXPECT_FALSE(isolation::ReadUsageFile(dir.File("link/usage.bin")).ok());
  EXPECT_TRUE(isolation::ReadUsageFile(dir.File("real/usage.bin")).ok());

  std::ofstream(dir.File("real/usage.bin"), std::ios::app) << "more";
  EXPECT_FALSE(isolation::ReadUsageFile(dir.File("real/usage.bin")).ok());
}

// ---- the heartbeat publishes each chip's live usage ----

PodSummary RunningPod(const std::string& name, const std::string& assignment) {
  PodSummary pod = testing::PendingPod(name, "n1", assignment, "2026-11-28T03:00:00Z");
  pod.annotations[kBindPhaseAnnotation] = kBindPhaseSuccess;
  pod.phase = "Running";
  return pod;
}

class LiveUsagePublisherTest : public ::testing::Test {
 protected:
  std::string Uuid(int i) const { return inventory_.chips()[static_cast<size_t>(i)].uuid; }
  std::string UsageFile(const std::string& pod) const {
    return dir_.File("shared/uid-" + pod + "/main/usage.bin");
  }
  kube::NodeLiveUsage Published() {
    auto annotations = cluster_.node_annotations("n1");
    auto it = annotations.find(std::string(kube::kLiveUsageAnnotation));
    EXPECT_NE(it, annotations.end());
    if (it == annotations.end()) return {};
    auto usage = kube::DecodeLiveUsage(it->second);
    EXPECT_TRUE(usage.ok()) << usage.error().message;
    return usage.ok() ? *usage : kube::NodeLiveUsage{};
  }

  SimBackend backend_{"", "n1"};
  ChipInventory inventory_{partition::Vendor::kSim, *backend_.Discover()};
  FakeClusterClient cluster_;
  TempDir dir_;
  PluginSettings settings_ = [this] {
    PluginSettings s;
    s.shared_host_dir = dir_.File("shared");
    return s;
  }();
  Allocator allocator_{"n1", inventory_, backend_, settings_, &cluster_};
  InventoryPublisher publisher_{"n1", inventory_, allocator_, &cluster_};
};

TEST_F(LiveUsagePublisherTest, EachHeartbeatPublishesTheChipsLiveUsageApartFromTheInventory) {
  // Two slices share chip 1; the training pod also spans chip 3 (its device 1, in chip order).
  cluster_.AddPod(RunningPod(
      "train", "node=n1;cpu=0;mem=0|main=" + Uuid(3) + ":8192:40," + Uuid(1) + ":8192:40"));
  cluster_.AddPod(RunningPod("infer", "node=n1;cpu=0;mem=0|main=" + Uuid(1) + ":4096:20"));
  allocator_.Reconcile(cluster_.pods());  // as after a restart: both pods are in `success`
  const std::int64_t now = isolation::MonotonicNowNs();
  WriteUsageFile(
      UsageFile("train"),
      {{.used_mib = 2048, .sm_share_permille = 300, .window_start_ns = now},
       {.used_mib = 1024, .sm_share_permille = 100, .window_start_ns = now - 60'000'000'000}});
  WriteUsageFile(UsageFile("infer"),
                 {{.used_mib = 512, .sm_share_permille = 250, .window_start_ns = now}});

  ASSERT_TRUE(publisher_.PublishOnce().ok());
  auto annotations = cluster_.node_annotations("n1");
  const std::string inventory = annotations.at(kInventoryAnnotation);
  kube::NodeLiveUsage live = Published();
  EXPECT_EQ(kube::FormatTime(live.sampled_at), annotations.at(kHeartbeatAnnotation));
  ASSERT_EQ(live.chips.size(), inventory_.chips().size());  // idle chips too, at 0
  EXPECT_EQ(live.chips[1].uuid, Uuid(1));
  EXPECT_EQ(live.chips[1].memory_used_mib, 2048 + 512);
  EXPECT_DOUBLE_EQ(live.chips[1].compute_used_percent, 55.0);
  EXPECT_EQ(live.chips[3].memory_used_mib, 1024);
  EXPECT_DOUBLE_EQ(live.chips[3].compute_used_percent, 0.0);  // its share went stale
  EXPECT_EQ(live.chips[0].memory_used_mib, 0);
  EXPECT_EQ(inventory.find("Used"), std::string::npos);  // usage stays out of the inventory

  // The next heartbeat carries the new usage; the inventory text is unchanged, so the Hi
  // Scheduler does not see an inventory change.
  std::filesystem::remove(UsageFile("infer"));
  WriteUsageFile(UsageFile("train"), {{.used_mib = 4096,
                                       .sm_share_permille = 900,
                                       .window_start_ns = isolation::MonotonicNowNs()}});
  ASSERT_TRUE(publisher_.PublishOnce().ok());
  live = Published();
  EXPECT_EQ(live.chips[1].memory_used_mib, 4096);
  EXPECT_DOUBLE_EQ(live.chips[1].compute_used_percent, 90.0);
  EXPECT_EQ(live.chips[3].memory_used_mib, 0);
  EXPECT_EQ(cluster_.node_annotations("n1").at(kInventoryAnnotation), inventory);
}

// The heartbeat reconciles the pods before it reads their usage: the first one after a restart
// already has the running pods' usage, and a pod that ended is not published one beat longer.
TEST_F(LiveUsagePublisherTest, TheHeartbeatPublishesThePodsOfNowNotThoseOfTheLastBeat) {
  cluster_.AddPod(RunningPod("train", "node=n1;cpu=0;mem=0|main=" + Uuid(0) + ":8192:40"));
  WriteUsageFile(
      UsageFile("train"),
      {{.used_mib = 3000, .sm_share_permille = 0, .window_start_ns = isolation::MonotonicNowNs()}});
  ASSERT_TRUE(publisher_.PublishOnce().ok());  // a fresh allocator, as after a restart
  EXPECT_EQ(Published().chips[0].memory_used_mib, 3000);
  PodSummary ended = cluster_.pods().front();
  ended.phase = "Succeeded";
  cluster_.RemovePod("train");
  cluster_.AddPod(ended);
  ASSERT_TRUE(publisher_.PublishOnce().ok());
  EXPECT_EQ(Published().chips[0].memory_used_mib, 0);
}

TEST_F(LiveUsagePublisherTest, NoChipIsPublishedUsingMoreThanItHas) {
  cluster_.AddPod(RunningPod("liar", "node=n1;cpu=0;mem=0|main=" + Uuid(2) + ":4096:20"));
  allocator_.Reconcile(cluster_.pods());
  auto file = testing::NewUsageFile(1);
  file->devices[0].used_bytes = ~std::uint64_t{0};
  file->devices[0].sm_share_permille = 1000;
  file->devices[0].window_start_ns = isolation::MonotonicNowNs();
  std::filesystem::create_directories(std::filesystem::path(UsageFile("liar")).parent_path());
  std::ofstream(UsageFile("liar"), std::ios::binary)
      .write(reinterpret_cast<const char*>(file.get()), sizeof(isolation::UsageFile));
  cluster_.AddPod(RunningPod("other", "node=n1;cpu=0;mem=0|main=" + Uuid(2) + ":4096:20"));
  allocator_.Reconcile(cluster_.pods());
  WriteUsageFile(
      UsageFile("other"),
      {{.used_mib = 10, .sm_share_permille = 600, .window_start_ns = isolation::MonotonicNowNs()}});
  ASSERT_TRUE(publisher_.PublishOnce().ok());
  kube::NodeLiveUsage live = Published();
  EXPECT_EQ(live.chips[2].memory_used_mib, inventory_.chips()[2].memory_mib);
  EXPECT_DOUBLE_EQ(live.chips[2].compute_used_percent, 100.0);
}

// ---- MPS daemons on /metrics ----

std::string Serialize(const prometheus::Collectable& collectable) {
  return prometheus::TextSerializer().Serialize(collectable.Collect());
}

bool Has(const std::string& text, const std::string& line) {
  return text.find(line) != std::string::npos;
}

class MpsMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.control_binary = FLEXAI_SOURCE_DIR "/test/isolation/fake_mps_control.sh";
    options_.base_dir = dir_.File("mps");
    options_.command_timeout = 10s;
  }
  void TearDown() override {
    for (auto& supervisor : supervisors_) supervisor->StopAll();
  }
  isolation::MpsSupervisor& Make(isolation::MpsSupervisorOptions options,
                                 std::vector<std::string> gpus) {
    supervisors_.push_back(std::make_unique<isolation::MpsSupervisor>(options, std::move(gpus)));
    return *supervisors_.back();
  }

  TempDir dir_;
  isolation::MpsSupervisorOptions options_;
  std::vector<std::unique_ptr<isolation::MpsSupervisor>> supervisors_;
};

TEST_F(MpsMetricsTest, DaemonStateAndRestartsAreExportedPerGpu) {
  isolation::MpsSupervisor& supervisor = Make(options_, {"GPU-aaaa", isolation::kAllGpus});
  ASSERT_TRUE(supervisor.StartAll().ok());
  MpsMetrics metrics("n1", [&] { return supervisor.Statuses(); });
  std::string text = Serialize(metrics);
  EXPECT_TRUE(Has(text, R"(flexai_mps_daemon_up{node="n1",gpu="GPU-aaaa"} 1)")) << text;
  EXPECT_TRUE(Has(text, R"(flexai_mps_daemon_up{node="n1",gpu="all"} 1)"));
  EXPECT_TRUE(Has(text, R"(flexai_mps_daemon_restarts_total{node="n1",gpu="GPU-aaaa"} 0)"));
  EXPECT_TRUE(Has(text, "# TYPE flexai_mps_daemon_restarts_total counter"));

  // The GPU's daemon dies; the supervisor's check restarts it and the counter says so.
  const std::string pid_file = supervisor.PipeDirectory("GPU-aaaa") + "/fake-daemon.pid";
  int pid = 0;
  std::ifstream(pid_file) >> pid;
  ASSERT_GT(pid, 0);
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  ASSERT_TRUE(testing::Eventually([&] {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    std::getline(stat, line);
    return line.empty() || line.find(") Z") != std::string::npos;
  }));
  supervisor.Check();
  text = Serialize(metrics);
  EXPECT_TRUE(Has(text, R"(flexai_mps_daemon_up{node="n1",gpu="GPU-aaaa"} 1)")) << text;
  EXPECT_TRUE(Has(text, R"(flexai_mps_daemon_restarts_total{node="n1",gpu="GPU-aaaa"} 1)"));
  EXPECT_TRUE(Has(text, R"(flexai_mps_daemon_restarts_total{node="n1",gpu="all"} 0)"));
}

TEST_F(MpsMetricsTest, ADaemonThatCannotStartIsDown) {
  isolation::MpsSupervisorOptions failing = options_;
  failing.extra_environment["FAKE_MPS_FAIL_START"] = "1";
  isolation::MpsSupervisor& supervisor = Make(failing, {"GPU-bbbb"});
  EXPECT_FALSE(supervisor.StartAll().ok());
  MpsMetrics metrics("n1", [&] { return supervisor.Statuses(); });
  EXPECT_TRUE(Has(Serialize(metrics), R"(flexai_mps_daemon_up{node="n1",gpu="GPU-bbbb"} 0)"));
}

TEST_F(MpsMetricsTest, NothingWithoutMps) {
  MpsMetrics metrics("n1", [] { return std::vector<isolation::MpsDaemonStatus>{}; });
  EXPECT_TRUE(metrics.Collect().empty());
}

// The daemon itself, in MPS mode: its /metrics shows every control daemon it supervises.
// nvidia-cuda-mps-control is found on PATH, where the test puts the fake.
class DaemonMpsMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string bin = dir_.File("bin");
    std::filesystem::create_directories(bin);
    std::filesystem::create_symlink(FLEXAI_SOURCE_DIR "/test/isolation/fake_mps_control.sh",
                                    bin + "/nvidia-cuda-mps-control");
    const char* path = getenv("PATH");
    old_path_ = path ? path : "";
    setenv("PATH", (bin + ":" + old_path_).c_str(), 1);

    sim_file_ = dir_.File("sim.yaml");
    testing::WriteFileAtomically(sim_file_, testing::FourChipSimFile());
    kubelet_.Start();
    DaemonOptions options = testing::SimDaemonOptions(dir_.path(), sim_file_);
    options.metrics_listen = "127.0.0.1:0";
    PluginSettings settings;
    settings.max_slices_per_chip = 2;
    settings.isolation = IsolationMode::kMps;
    settings.shared_host_dir = dir_.File("shared");
    settings.mps_host_dir = dir_.File("mps");  // its shm is not our /dev/shm: logged, not fatal
    auto daemon =
        Daemon::Create(options, std::make_unique<SimBackend>(sim_file_, "n1"),
                       std::make_unique<FakeClusterClient>(),
                       [settings](partition::Vendor) { return Result<PluginSettings>(settings); });
    ASSERT_TRUE(daemon.ok()) << daemon.error().message;
    daemon_ = std::move(*daemon);
    Status started = daemon_->Start();
    ASSERT_TRUE(started.ok()) << started.message();
  }
  void TearDown() override {
    daemon_.reset();  // stops the fake MPS daemons
    setenv("PATH", old_path_.c_str(), 1);
  }

  TempDir dir_;
  std::string old_path_, sim_file_;
  testing::TestKubelet kubelet_{dir_.path()};
  std::unique_ptr<Daemon> daemon_;
};

TEST_F(DaemonMpsMetricsTest, MetricsShowEachMpsControlDaemon) {
  ASSERT_GT(daemon_->metrics_port(), 0);
  httplib::Client client("127.0.0.1", daemon_->metrics_port());
  auto reply = client.Get("/metrics");
  ASSERT_TRUE(reply);
  ASSERT_EQ(reply->status, 200);
  for (const char* name : {"GPU-t-0", "GPU-t-3", "all"}) {
    const std::string gpu = name;
    EXPECT_TRUE(Has(reply->body, R"(flexai_mps_daemon_up{node="n1",gpu=")" + gpu + R"("} 1)"))
        << reply->body;
    EXPECT_TRUE(
        Has(reply->body, R"(flexai_mps_daemon_restarts_total{node="n1",gpu=")" + gpu + R"("} 0)"));
  }
}

}  // namespace
}  // namespace flexai::device_plugin
