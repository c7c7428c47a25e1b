// flexai-e2e-scale: pushes many pods through the whole path (hi-scheduler filter/prioritize/bind,
// device plugin Allocate, completion) on a simulated cluster of real processes, and prints pods/s
// and the creation-to-Allocate latency. Exits 1 when any allocation was wrong or a pod got stuck.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <thread>

#include "harness/cluster.h"
#include "harness/driver.h"
#include "harness/workload.h"

using namespace flexai::e2e;
using namespace std::chrono_literals;

namespace {

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t i = static_cast<size_t>(p / 100.0 * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(i, values.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"flexai-e2e-scale: pods/s and creation-to-Allocate latency through the whole path"};
  int nodes = 20, chips = 8, pods = 1000, min_run_ms = 2000, max_run_ms = 6000, timeout_s = 600;
  double rate = 0;
  uint32_t seed = 1;
  bool keep = false;
  app.add_option("--nodes", nodes, "simulated nodes")->capture_default_str();
  app.add_option("--chips", chips, "chips per node")->capture_default_str();
  app.add_option("--pods", pods, "pods to run")->capture_default_str();
  app.add_option("--min-run-ms", min_run_ms, "shortest pod run time")->capture_default_str();
  app.add_option("--max-run-ms", max_run_ms, "longest pod run time")->capture_default_str();
  app.add_option("--rate", rate, "pods created per second (0 = all at once)")
      ->capture_default_str();
  app.add_option("--seed", seed, "workload seed")->capture_default_str();
  app.add_option("--timeout", timeout_s, "give up after this many seconds")->capture_default_str();
  app.add_flag("--keep", keep, "keep the temp dir with every process's log");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);

  ClusterOptions options;
  options.bin = {FLEXAI_FAKE_APISERVER_BIN, FLEXAI_HI_SCHEDULER_BIN, FLEXAI_DEVICE_PLUGIN_BIN};
  options.nodes = nodes;
  options.chips_per_node = chips;
  options.log_level = "warn";
  options.keep_dir = keep;
  Cluster cluster(options);
  std::printf("starting %d nodes x %d chips (fake apiserver, %d device plugins, hi-scheduler)...\n",
              nodes, chips, nodes);
  std::fflush(stdout);
  auto started = cluster.Start();
  if (!started.ok()) {
    std::fprintf(stderr, "%s\n%s\n", started.message().c_str(), cluster.LogTails().c_str());
    return 2;
  }
  std::printf("cluster ready in %s\n", cluster.dir().c_str());
  Driver driver(cluster);
  driver.Start();
  auto plans = RandomMix(pods, seed, options.chip_memory_mib, std::chrono::milliseconds(min_run_ms),
                         std::chrono::milliseconds(max_run_ms));
  auto t0 = Clock::now();
  for (size_t i = 0; i < plans.size(); ++i) {
    driver.Submit(plans[i]);
    if (rate > 0) {
      std::this_thread::sleep_until(t0 + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>((i + 1) / rate)));
    }
  }
  bool done = driver.WaitAllSucceeded(std::chrono::seconds(timeout_s));
  driver.Stop();
  DriverReport r = driver.Report();
  // Throughput: admitted pods over the time from the first creation to the last Allocate.
  double span_s = r.first_create_to_last_admit_s;
  double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("\n%d pods over %d nodes x %d chips (%d pods done in %.1f s)\n", r.submitted, nodes,
              chips, r.succeeded, wall);
  std::printf("  admitted (Allocate done): %d, %.1f pods/s from first creation to last Allocate\n",
              r.admitted, span_s > 0 ? r.admitted / span_s : 0.0);
  std::printf("  creation -> Allocate: p50 %.0f ms, p90 %.0f ms, p99 %.0f ms, max %.0f ms\n",
              Percentile(r.create_to_admit_ms, 50), Percentile(r.create_to_admit_ms, 90),
              Percentile(r.create_to_admit_ms, 99), Percentile(r.create_to_admit_ms, 100));
  std::printf(
      "  %d filter calls, %d binds (%d refused), %d unschedulable retries, %d Allocate "
      "retries\n",
      r.filter_calls, r.bind_calls, r.bind_errors, r.unschedulable_retries, r.allocate_retries);
  std::printf("  time in extender calls: filter %.1f s, prioritize %.1f s, bind %.1f s\n",
              r.filter_ms / 1000, r.prioritize_ms / 1000, r.bind_ms / 1000);
  std::printf("  violations: %zu, stuck: %zu%s\n", r.violations.size(), r.stuck.size(),
              done ? "" : " (NOT all pods finished)");
  if (!r.violations.empty() || !r.stuck.empty() || !done) {
    std::printf("%s%s", r.Summary().c_str(), driver.Unfinished().c_str());
    return 1;
  }
  return 0;
}
