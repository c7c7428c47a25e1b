// Allocate latency as kubelet sees it: a gRPC Allocate over the plugin's unix socket to the daemon
// running in-process (sim backend, 8 chips, hook mode), with the pod found among the pods on the
// node (an in-memory cluster, as the watch cache serves it).
// Reports p50/p99 in ms; target p99 <= 5 ms.
#include <benchmark/benchmark.h>
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <vector>

#include "device_plugin/allocator.h"
#include "device_plugin/backend/sim/sim_backend.h"
#include "device_plugin/daemon.h"
#include "deviceplugin/v1beta1/api.grpc.pb.h"
#include "fake_cluster_client.h"

namespace flexai::device_plugin {
namespace {

void BM_Allocate(benchmark::State& state) {
  // One info line per Allocate is production behaviour; a terminal is not where it goes.
  spdlog::set_level(spdlog::level::warn);
  const int background_pods = static_cast<int>(state.range(0));
  char pattern[] = "/tmp/fxbench.XXXXXX";
  std::string dir = mkdtemp(pattern);
  DaemonOptions options;
  options.backend = "sim";
  options.plugin_dir = dir;
  options.node_name = "n1";
  options.metrics_listen = "";
  auto cluster = std::make_unique<testing::FakeClusterClient>();
  testing::FakeClusterClient* fake = cluster.get();
  PluginSettings settings;
  settings.shared_host_dir = dir + "/shared";
  auto daemon = Daemon::Create(options, std::make_unique<SimBackend>("", "n1"), std::move(cluster),
                               [&](partition::Vendor) { return Result<PluginSettings>(settings); });
  if (!daemon.ok() || !(*daemon)->Start().ok()) {
    state.SkipWithError("daemon did not start");
    return;
  }
  // Pods already running on the node (bind-phase success): the matcher must skip them.
  for (int i = 0; i < background_pods; ++i) {
    auto pod = testing::PendingPod(
        "bg-" + std::to_string(i), "n1",
        "node=n1;cpu=0;mem=0|m=GPU-sim-n1-" + std::to_string(i % 8) + ":1024:10",
        "2026-11-28T03:00:00Z");
    pod.annotations[kBindPhaseAnnotation] = kBindPhaseSuccess;
    fake->AddPod(pod);
  }
  auto stub = v1beta1::DevicePlugin::NewStub(grpc::CreateChannel(
      "unix://" + dir + "/flexai-gpu.sock", grpc::InsecureChannelCredentials()));
  std::vector<double> millis;
  int n = 0;
  for (auto _ : state) {
    state.PauseTiming();
    // Keep the node at its pod count: the pod allocated last time leaves.
    if (n > 0) fake->RemovePod("p-" + std::to_string(n - 1));
    fake->AddPod(testing::PendingPod(
        "p-" + std::to_string(n), "n1",
        "node=n1;cpu=0;mem=0|m=GPU-sim-n1-" + std::to_string(n % 8) + ":2048:20",
        "2026-11-28T03:00:01Z"));
    v1beta1::AllocateRequest request;
    request.add_container_requests()->add_devices_ids("GPU-sim-n1-0::" + std::to_string(n % 10));
    v1beta1::AllocateResponse response;
    grpc::ClientContext context;
    state.ResumeTiming();
    auto start = std::chrono::steady_clock::now();
    grpc::Status status = stub->Allocate(&context, request, &response);
    millis.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count());
    if (!status.ok()) {
      state.SkipWithError(status.error_message().c_str());
      break;
    }
    ++n;
  }
  std::sort(millis.begin(), millis.end());
  if (!millis.empty()) {
    state.counters["p50_ms"] = millis[millis.size() / 2];
    state.counters["p99_ms"] = millis[std::min(millis.size() - 1, millis.size() * 99 / 100)];
  }
  (*daemon)->Stop();
  std::filesystem::remove_all(dir);
}
// The handler alone (matching among the node's pods, environment, accounting directory), without
// gRPC and thread hand-offs: what the daemon itself spends per Allocate.
void BM_AllocateHandler(benchmark::State& state) {
  spdlog::set_level(spdlog::level::warn);
  const int background_pods = static_cast<int>(state.range(0));
  char pattern[] = "/tmp/fxbench.XXXXXX";
  std::string dir = mkdtemp(pattern);
  SimBackend backend("", "n1");
  ChipInventory inventory(partition::Vendor::kSim, *backend.Discover());
  testing::FakeClusterClient cluster;
  PluginSettings settings;
  settings.shared_host_dir = dir + "/shared";
  Allocator allocator("n1", inventory, backend, settings, &cluster);
  for (int i = 0; i < background_pods; ++i) {
    auto pod = testing::PendingPod(
        "bg-" + std::to_string(i), "n1",
        "node=n1;cpu=0;mem=0|m=GPU-sim-n1-" + std::to_string(i % 8) + ":1024:10",
        "2026-11-28T03:00:00Z");
    pod.annotations[kBindPhaseAnnotation] = kBindPhaseSuccess;
    cluster.AddPod(pod);
  }
  int n = 0;
  for (auto _ : state) {
    state.PauseTiming();
    if (n > 0) cluster.RemovePod("p-" + std::to_string(n - 1));
    cluster.AddPod(testing::PendingPod(
        "p-" + std::to_string(n), "n1",
        "node=n1;cpu=0;mem=0|m=GPU-sim-n1-" + std::to_string(n % 8) + ":2048:20",
        "2026-11-28T03:00:01Z"));
    state.ResumeTiming();
    if (!allocator.AllocateContainer({"GPU-sim-n1-0::0"}).ok()) {
      state.SkipWithError("allocate failed");
      break;
    }
    ++n;
  }
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_AllocateHandler)->Arg(0)->Arg(110)->Unit(benchmark::kMicrosecond);

// 110 = kubelet's default max pods per node.
BENCHMARK(BM_Allocate)->Arg(0)->Arg(110)->Iterations(1000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace flexai::device_plugin

BENCHMARK_MAIN();
