// flexai-demo: the whole flexai system on one machine. Starts the fake apiserver, simulated nodes
// (a kubelet stand-in + the real device plugin each) and hi-scheduler; submits a stream of pods
// sampled from the embedded workload; redraws every chip's slices (the `kubectl flexai nodes`
// view) as they fill and empty; prints a summary at the end. Bounded by --duration.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "harness/cluster.h"
#include "harness/driver.h"
#include "kubectl_flexai/cluster_source.h"
#include "kubectl_flexai/slice_bars.h"
#include "sim/embedded_workload.h"
#include "trace_pods.h"

using namespace flexai::e2e;
using namespace std::chrono_literals;

namespace {

std::string SelfDir() {
  std::error_code error;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", error);
  return error ? std::string(".") : exe.parent_path().string();
}

// "30s", "2m", "45" (seconds).
std::chrono::seconds ParseDuration(const std::string& text) {
  double value = std::stod(text);
  if (!text.empty() && text.back() == 'm') value *= 60;
  return std::chrono::seconds(static_cast<int64_t>(value));
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p / 100 * (v.size() - 1) + 0.5))];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"flexai-demo: flexai on a simulated cluster, live in the terminal"};
  std::string duration_text = "30s";
  int nodes = 3, chips = 4, width = 30;
  double rate = 3;
  uint32_t seed = 1;
  int min_run_ms = 3000, max_run_ms = 12000, refresh_ms = 1000;
  std::string bin_dir = SelfDir();
  bool plain = !isatty(1), keep = false;
  app.add_option("--duration", duration_text, "how long pods are submitted (e.g. 30s, 2m)")
      ->capture_default_str();
  app.add_option("--nodes", nodes, "simulated nodes")->capture_default_str();
  app.add_option("--chips", chips, "chips per node")->capture_default_str();
  app.add_option("--rate", rate, "pods submitted per second")->capture_default_str();
  app.add_option("--seed", seed, "sampling seed")->capture_default_str();
  app.add_option("--min-run-ms", min_run_ms, "shortest pod run")->capture_default_str();
  app.add_option("--max-run-ms", max_run_ms, "longest pod run")->capture_default_str();
  app.add_option("--refresh-ms", refresh_ms, "redraw period")->capture_default_str();
  app.add_option("--width", width, "cells per bar")->capture_default_str();
  app.add_option("--bin-dir", bin_dir,
                 "folder with hi-scheduler, flexai-device-plugin, "
                 "flexai-fake-apiserver (default: next to flexai-demo)");
  app.add_flag("--plain", plain, "print frames one after another instead of redrawing");
  app.add_flag("--keep", keep, "keep the temp dir with every process's log");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);
  auto duration = ParseDuration(duration_text);

  ClusterOptions options;
  options.bin = {bin_dir + "/flexai-fake-apiserver", bin_dir + "/hi-scheduler",
                 bin_dir + "/flexai-device-plugin"};
  for (const auto& b : {options.bin.apiserver, options.bin.scheduler, options.bin.device_plugin}) {
    if (access(b.c_str(), X_OK) != 0) {
      std::fprintf(stderr, "flexai-demo: %s not found (build it, or pass --bin-dir)\n", b.c_str());
      return 2;
    }
  }
  options.nodes = nodes;
  options.chips_per_node = chips;
  options.log_level = "warn";
  options.keep_dir = keep;
  TracePodSampler sampler(flexai::sim::EmbeddedDefaultTrace(), chips, options.chip_memory_mib,
                          seed);
  if (sampler.empty()) {
    std::fprintf(stderr, "flexai-demo: no task of the embedded workload fits %d chips\n", chips);
    return 2;
  }
  std::printf(
      "flexai-demo: starting the fake apiserver, %d simulated nodes x %d chips (kubelet + "
      "flexai-device-plugin each) and hi-scheduler...\n",
      nodes, chips);
  std::fflush(stdout);
  Cluster cluster(options);
  if (auto s = cluster.Start(); !s.ok()) {
    std::fprintf(stderr, "flexai-demo: %s\n", s.message().c_str());
    return 1;
  }
  Driver driver(cluster);
  driver.Start();

  auto t0 = Clock::now();
  auto next_pod = t0, next_draw = t0;
  auto drain_deadline = t0 + duration + std::chrono::milliseconds(max_run_ms) + 20s;
  bool submitting = true;
  std::vector<double> utilisation;
  while (true) {
    auto now = Clock::now();
    if (submitting && now >= t0 + duration) submitting = false;
    if (submitting && now >= next_pod) {
      driver.Submit(sampler.Next(std::chrono::milliseconds(min_run_ms),
                                 std::chrono::milliseconds(max_run_ms)));
      next_pod += std::chrono::microseconds(static_cast<int64_t>(1e6 / std::max(rate, 0.01)));
    }
    DriverReport r = driver.Report();
    bool finished = !submitting && r.succeeded == r.submitted;
    if (now >= next_draw || finished) {
      next_draw = now + std::chrono::milliseconds(refresh_ms);
      int64_t used = 0;
      for (const auto& [chip, u] : driver.ledger().Usages()) used += u.memory_mib;
      utilisation.push_back(100.0 * static_cast<double>(used) /
                            (static_cast<double>(options.chip_memory_mib) * nodes * chips));
      auto snapshot = flexai::kubectl::FetchSnapshot(cluster.api());
      std::string frame;
      if (snapshot.ok()) {
        flexai::kubectl::BarOptions bars;
        bars.width = width;
        bars.now = std::chrono::system_clock::now();
        frame = flexai::kubectl::RenderNodes(*snapshot, bars);
      } else {
        frame = "(cannot read the cluster: " + snapshot.error().message + ")\n";
      }
      double t = std::chrono::duration<double>(now - t0).count();
      std::printf(
          "%s%s\n[%5.1f s] %s | submitted %d, running %d, done %d, waiting %d | chip "
          "memory in use %.0f%%\n",
          plain ? "\n" : "\033[H\033[2J", frame.c_str(), t, submitting ? "submitting" : "draining",
          r.submitted, r.admitted - r.succeeded, r.succeeded, r.submitted - r.admitted,
          utilisation.back());
      std::fflush(stdout);
    }
    if (finished || now >= drain_deadline) break;
    std::this_thread::sleep_for(20ms);
  }
  driver.Stop();
  DriverReport r = driver.Report();
  double mean_use = 0;
  for (double u : utilisation) mean_use += u / static_cast<double>(utilisation.size());
  std::printf("\n==== flexai-demo summary ====\n");
  std::printf("cluster: %d nodes x %d chips (%.0f GiB each), run %.1f s\n", nodes, chips,
              options.chip_memory_mib / 1024.0, r.elapsed_s);
  std::printf("pods: %d submitted, %d ran to completion, %d never admitted\n", r.submitted,
              r.succeeded, r.submitted - r.admitted);
  std::printf("creation -> Allocate: p50 %.0f ms, p99 %.0f ms\n",
              Percentile(r.create_to_admit_ms, 50), Percentile(r.create_to_admit_ms, 99));
  std::printf("hi-scheduler: %d filter calls, %d binds (%d refused and retried)\n", r.filter_calls,
              r.bind_calls, r.bind_errors);
  std::printf("mean chip memory in use: %.0f%%\n", mean_use);
  std::printf("checks: %s\n", r.Summary() == "ok" ? "every pod got exactly the slices hi-scheduler "
                                                    "chose; no chip over-allocated; none stuck"
                                                  : r.Summary().c_str());
  if (keep) std::printf("logs: %s\n", cluster.dir().c_str());
  return r.Summary() == "ok" && r.succeeded == r.submitted ? 0 : 1;
}
