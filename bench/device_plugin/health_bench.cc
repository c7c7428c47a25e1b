// How long a chip's health change takes to reach kubelet: flip a chip in the sim file, wait for
// the ListAndWatch stream to show it. Requirement: within 1 s (the monitor polls every 250 ms).
#include <benchmark/benchmark.h>
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

#include "device_plugin/backend/sim/sim_backend.h"
#include "device_plugin/daemon.h"
#include "deviceplugin/v1beta1/api.grpc.pb.h"

namespace flexai::device_plugin {
namespace {

void WriteSim(const std::string& path, bool chip0_healthy) {
  std::string temp = path + ".tmp";
  std::ofstream(temp) << "chips:\n  - {uuid: GPU-h-0, memoryMiB: 1024, health: "
                      << (chip0_healthy ? "Healthy" : "Unhealthy")
                      << "}\n  - {uuid: GPU-h-1, memoryMiB: 1024}\n";
  std::rename(temp.c_str(), path.c_str());
}

void BM_HealthChangeToStream(benchmark::State& state) {
  spdlog::set_level(spdlog::level::warn);
  char pattern[] = "/tmp/fxhealth.XXXXXX";
  std::string dir = mkdtemp(pattern);
  std::string sim = dir + "/sim.yaml";
  WriteSim(sim, true);
  DaemonOptions options;
  options.backend = "sim";
  options.sim_config = sim;
  options.plugin_dir = dir;
  options.node_name = "n1";
  options.metrics_listen = "";
  auto daemon =
      Daemon::Create(options, std::make_unique<SimBackend>(sim, "n1"), nullptr,
                     [](partition::Vendor) { return Result<PluginSettings>(PluginSettings{}); });
  if (!daemon.ok() || !(*daemon)->Start().ok()) {
    state.SkipWithError("daemon did not start");
    return;
  }
  auto stub = v1beta1::DevicePlugin::NewStub(grpc::CreateChannel(
      "unix://" + dir + "/flexai-gpu.sock", grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  auto stream = stub->ListAndWatch(&context, v1beta1::Empty{});
  v1beta1::ListAndWatchResponse list;
  stream->Read(&list);  // the initial list
  std::vector<double> millis;
  bool healthy = true;
  for (auto _ : state) {
    healthy = !healthy;
    auto start = std::chrono::steady_clock::now();
    WriteSim(sim, healthy);
    const std::string want = healthy ? "Healthy" : "Unhealthy";
    while (stream->Read(&list)) {
      if (list.devices(0).health() == want) break;
    }
    millis.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count());
  }
  std::sort(millis.begin(), millis.end());
  if (!millis.empty()) {
    state.counters["p50_ms"] = millis[millis.size() / 2];
    state.counters["max_ms"] = millis.back();
  }
  context.TryCancel();
  stream->Finish();
  (*daemon)->Stop();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_HealthChangeToStream)->Iterations(20)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace flexai::device_plugin
