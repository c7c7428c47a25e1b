// flexai-sim: replays a GPU cluster trace (Alibaba openb, or the embedded default) under one or
// more placement policies and reports how much GPU capacity each leaves unallocated.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

#include "sim/embedded_workload.h"
#include "sim/experiment.h"
#include "sim/report.h"
#include "sim/seeds.h"
#include "sim/timeline.h"
#include "sim/timeline_report.h"

namespace {

int Fail(const std::string& message) {
  std::cerr << "flexai-sim: " << message << "\n";
  return 2;
}

// Runs `work(i)` for i in [0, count) on `threads` threads; returns the first error, if any.
template <typename Work>
std::string ParallelFor(size_t count, unsigned threads, Work work) {
  std::mutex mu;
  std::string first_error;
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next++; i < count; i = next++) {
      std::string e = work(i);
      std::lock_guard lock(mu);
      if (!e.empty() && first_error.empty()) first_error = e;
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < std::min<size_t>(threads, count); ++t) pool.emplace_back(worker);
  for (auto& t : pool) t.join();
  return first_error;
}

int RunTimelineMode(flexai::sim::Trace trace, const std::vector<std::string>& policies,
                    uint64_t seed, double compression, int repeat, bool capacity_test,
                    int capacity_seeds, const std::map<std::string, double>& weights, double hold_s,
                    const std::string& report_path, const std::string& plot_path,
                    unsigned threads) {
  using namespace flexai::sim;
  if (!HasTimeline(trace)) {
    if (!trace.source.starts_with("embedded")) {
      return Fail("timeline mode needs creation_time and deletion_time for every task in " +
                  trace.source);
    }
    SynthesiseTimeline(trace, seed);
  }
  TileTimeline(trace, repeat);
  ClusterInfo cluster{trace.source, static_cast<int64_t>(trace.nodes.size()), trace.total_gpus(),
                      SharingBound(trace)};
  auto options_for = [&](const std::string& policy, double c) {
    TimelineOptions options{c, seed, 200, weights};
    if (policy == "hi") options.hold_s = hold_s;  // the Hi Scheduler's queue awareness
    return options;
  };
  std::vector<TimelineResult> results(policies.size());
  std::string error = ParallelFor(policies.size(), threads, [&](size_t i) -> std::string {
    auto r = RunTimeline(trace, policies[i], options_for(policies[i], compression));
    if (!r.ok()) return policies[i] + ": " + r.error().message;
    results[i] = std::move(r).value();
    return {};
  });
  if (!error.empty()) return Fail(error);
  PrintTimelineTable(std::cout, cluster, results);
  std::vector<CapacityResult> capacity(capacity_test ? policies.size() : 0);
  if (capacity_test) {
    error = ParallelFor(policies.size(), threads, [&](size_t i) -> std::string {
      auto r =
          FindSustainedRate(trace, policies[i], options_for(policies[i], 1), 600, capacity_seeds);
      if (!r.ok()) return policies[i] + ": " + r.error().message;
      capacity[i] = *r;
      return {};
    });
    if (!error.empty()) return Fail(error);
    PrintCapacityTable(std::cout, cluster, capacity);
  }
  if (!report_path.empty()) {
    std::ofstream out(report_path);
    if (!out) return Fail("cannot write " + report_path);
    out << TimelineJson(cluster, results, capacity) << "\n";
  }
  if (!plot_path.empty()) {
    std::ofstream out(plot_path);
    if (!out) return Fail("cannot write " + plot_path);
    out << TimelinePlotSvg(results);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace flexai::sim;
  CLI::App app{
      "flexai-sim: replay a GPU-sharing cluster trace under placement policies.\n"
      "With no --nodes/--pods it runs the embedded default (the openb default trace's "
      "composition)."};
  std::string nodes_csv, pods_csv, policy_list = "all", seeds_text = "42-51";
  std::string report_path, plot_path;
  double inflation = 1.3;
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  app.add_option("--nodes", nodes_csv, "node list CSV (openb_node_list_gpu_node.csv)");
  app.add_option("--pods", pods_csv, "task list CSV (openb_pod_list_*.csv)");
  app.add_option("--policy", policy_list, "comma-separated policies, or 'all'")
      ->capture_default_str();
  app.add_option("--seeds", seeds_text, "seeds, e.g. 42-51 or 42,45")->capture_default_str();
  app.add_option("--inflation", inflation, "arrivals stop at this multiple of GPU capacity")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 10.0));
  app.add_option("--report", report_path, "write the JSON report here");
  app.add_option("--plot", plot_path, "write an SVG plot (unallocated vs arrived) here");
  app.add_option("--threads", threads, "runs in parallel")
      ->capture_default_str()
      ->check(CLI::Range(1u, 256u));
  std::string mode = "arrival";
  double compression = 1.0;
  bool capacity_test = false;
  int capacity_seeds = 1;
  int repeat = 1;
  double hold_s = 30;
  app.add_option("--mode", mode,
                 "arrival: the FGD paper's protocol (tasks never leave); timeline: tasks run from "
                 "creation to deletion, a queue retries what does not fit")
      ->capture_default_str()
      ->check(CLI::IsMember({"arrival", "timeline"}));
  app.add_option("--compression", compression,
                 "timeline: divide inter-arrival times by this (durations are kept)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--repeat", repeat,
                 "timeline: replay the trace this many times back to back (one pass of openb "
                 "never fills its cluster, so a capacity test needs several)")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  app.add_option("--hold-seconds", hold_s,
                 "timeline, hi only: the Hi Scheduler's chip hold (hi-scheduler --hold-seconds): "
                 "the oldest queued multi-chip task keeps others off the node closest to fitting "
                 "it this long; 0 = placement alone")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 3600.0));
  app.add_flag(
      "--capacity-test", capacity_test,
      "timeline: find each policy's highest arrival rate with p99 queueing delay < 10 min");
  app.add_option("--capacity-seeds", capacity_seeds,
                 "capacity test: replay each rate with this many seeds (the first of --seeds and "
                 "the next ones) and judge it by the median p99; one replay's p99 is too jumpy "
                 "near the limit to rank policies by")
      ->capture_default_str()
      ->check(CLI::Range(1, 25));
  std::vector<std::string> weight_args;
  app.add_option("--weight", weight_args,
                 "placement policy knob NAME=VALUE (repeatable), as the slice policy's scheduler "
                 "weights");
  app.set_version_flag("--version", std::string(FLEXAI_VERSION));
  CLI11_PARSE(app, argc, argv);
  auto weights = ParseWeights(weight_args);
  if (!weights.ok()) return Fail(weights.error().message);

  if (nodes_csv.empty() != pods_csv.empty())
    return Fail("give both --nodes and --pods, or neither");
  Trace trace;
  if (nodes_csv.empty()) {
    trace = EmbeddedDefaultTrace();
  } else {
    auto nodes = ReadNodesCsv(nodes_csv);
    if (!nodes.ok()) return Fail(nodes.error().message);
    auto tasks = ReadTasksCsv(pods_csv);
    if (!tasks.ok()) return Fail(tasks.error().message);
    trace.nodes = std::move(nodes).value();
    trace.tasks = std::move(tasks).value();
    trace.source = pods_csv;
  }
  auto seeds = ParseSeeds(seeds_text);
  if (!seeds.ok()) return Fail(seeds.error().message);
  auto policies = ParsePolicies(policy_list, KnownPolicies());
  if (!policies.ok()) return Fail(policies.error().message);

  if (mode == "timeline") {
    return RunTimelineMode(trace, *policies, seeds->front(), compression, repeat, capacity_test,
                           capacity_seeds, *weights, hold_s, report_path, plot_path, threads);
  }

  struct Job {
    std::string policy;
    uint64_t seed;
  };
  std::vector<Job> jobs;
  for (const auto& p : *policies) {
    for (uint64_t s : *seeds) jobs.push_back({p, s});
  }
  std::vector<RunResult> results(jobs.size());
  std::string error = ParallelFor(jobs.size(), threads, [&](size_t i) -> std::string {
    auto r = RunOnce(trace, jobs[i].policy, jobs[i].seed, {inflation, *weights});
    if (!r.ok()) {
      return jobs[i].policy + " seed " + std::to_string(jobs[i].seed) + ": " + r.error().message;
    }
    results[i] = std::move(r).value();
    return {};
  });
  if (!error.empty()) return Fail(error);

  ClusterInfo cluster{trace.source, static_cast<int64_t>(trace.nodes.size()), trace.total_gpus(),
                      SharingBound(trace)};
  auto summaries = Summarise(results);
  PrintTable(std::cout, cluster, summaries);
  if (!report_path.empty()) {
    std::ofstream out(report_path);
    if (!out) return Fail("cannot write " + report_path);
    out << ReportJson(cluster, results, summaries) << "\n";
  }
  if (!plot_path.empty()) {
    std::ofstream out(plot_path);
    if (!out) return Fail("cannot write " + plot_path);
    out << PlotSvg(results);
  }
  return 0;
}
