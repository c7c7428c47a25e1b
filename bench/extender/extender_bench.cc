// Speed of the Hi Scheduler at cluster scale: a cache of N nodes x C chips and P placed pods,
// then filter+prioritize latency (in process and over loopback HTTP with keep-alive), requests
// per second, and resident memory. Prints its figures; the default size is the target
// (5,000 nodes x 8 chips, 50,000 pods).
#include <malloc.h>
#include <sys/resource.h>
#include <time.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "extender/extender_api.h"
#include "extender/http_server.h"
#include "extender/placement_choice.h"
#include "extender/pod_intent.h"
#include "extender/workload_refresher.h"
#include "kube/protocol.h"
#include "kube/time_format.h"
#include "partition/assignment_codec.h"

namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace flexai;

long RssKiB() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

// CPU time of the calling thread. On a shared machine the wall-clock tail is mostly time spent
// waiting for a core; this shows what the work itself costs.
double ThreadCpuMs() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

// CPU time of the whole process (all threads, user + system).
double ProcessCpuMs() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto ms = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_usec) / 1e3;
  };
  return ms(u.ru_utime) + ms(u.ru_stime);
}

std::string NodeName(int i) { return "node-" + std::to_string(i); }
std::string ChipUuid(int node, int chip) {
  return "GPU-" + std::to_string(node) + "-" + std::to_string(chip);
}

Json MakeNode(int i, int chips, const std::string& heartbeat) {
  kube::NodeInventory inv;
  for (int c = 0; c < chips; ++c) {
    partition::Chip chip;
    chip.vendor = partition::Vendor::kNvidia;
    chip.index = c;
    chip.uuid = ChipUuid(i, c);
    chip.model = i % 3 == 0 ? "A100" : "H100";
    chip.memory_mib = 81559;
    chip.numa_node = c < chips / 2 ? 0 : 1;
    inv.chips.push_back(chip);
  }
  return {{"metadata",
           {{"name", NodeName(i)},
            {"annotations",
             {{std::string(kube::kInventoryAnnotation), kube::EncodeInventory(inv)},
              {std::string(kube::kHeartbeatAnnotation), heartbeat}}}}},
          {"status", {{"allocatable", {{"cpu", "128"}, {"memory", "1024Gi"}}}}}};
}

Json MakePlacedPod(int p, int node, int chip) {
  std::string uid = "uid-" + std::to_string(p);
  return {{"metadata",
           {{"name", "p" + std::to_string(p)},
            {"namespace", "bench"},
            {"uid", uid},
            {"resourceVersion", "1"},
            {"annotations",
             {{std::string(kube::kAssignmentAnnotation),
               "node=" + NodeName(node) + ";cpu=1000;mem=4096|main=" + ChipUuid(node, chip) +
                   ":8000:10"},
              {std::string(kube::kBindPhaseAnnotation), "success"}}}}},
          {"spec", {{"nodeName", NodeName(node)}}},
          {"status", {{"phase", "Running"}}}};
}

Json PendingPod(int gpus, int64_t memory, int cores) {
  return {{"metadata", {{"name", "pending"}, {"namespace", "bench"}, {"uid", "uid-pending"}}},
          {"spec",
           {{"containers",
             {{{"name", "main"},
               {"resources",
                {{"limits",
                  {{"flexai.io/gpu", gpus},
                   {"flexai.io/gpu-memory", memory},
                   {"flexai.io/gpu-cores", cores}}},
                 {"requests", {{"cpu", "2"}, {"memory", "8Gi"}}}}}}}}}}};
}

struct Percentiles {
  double p50, p99, max;
};
Percentiles Summarize(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) {
    return ms[static_cast<size_t>(q * static_cast<double>(ms.size() - 1))];
  };
  return {at(0.5), at(0.99), ms.back()};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"extender_bench: Hi Scheduler filter/prioritize speed at cluster scale"};
  int nodes = 5000, chips = 8, pods = 50000, names = 5000, requests = 200;
  double seconds = 3.0;
  int clients = 2;
  std::string placement = "hi";
  app.add_option("--nodes", nodes)->capture_default_str();
  app.add_option("--chips", chips)->capture_default_str();
  app.add_option("--pods", pods, "placed pods in the cache")->capture_default_str();
  app.add_option("--names", names, "NodeNames per request")->capture_default_str();
  app.add_option("--requests", requests, "timed filter+prioritize pairs")->capture_default_str();
  app.add_option("--seconds", seconds, "length of the HTTP throughput run")->capture_default_str();
  app.add_option("--clients", clients, "keep-alive client threads")->capture_default_str();
  app.add_option("--placement", placement, "scheduler.policy to score with")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);
  names = std::min(names, nodes);

  long rss_start = RssKiB();
  auto policy = std::make_shared<partition::SlicePolicy>(partition::DefaultSlicePolicy());
  policy->scheduler.policy = placement;
  extender::ClusterCache cache(policy);
  auto t0 = Clock::now();
  {
    std::string beat = kube::FormatTime(std::chrono::system_clock::now() + std::chrono::hours(1));
    std::vector<Json> node_objects;
    node_objects.reserve(static_cast<size_t>(nodes));
    for (int i = 0; i < nodes; ++i) node_objects.push_back(MakeNode(i, chips, beat));
    cache.ReplaceNodes(node_objects);
    std::vector<Json> pod_objects;
    pod_objects.reserve(static_cast<size_t>(pods));
    std::mt19937 rng(7);
    for (int p = 0; p < pods; ++p) {
      pod_objects.push_back(MakePlacedPod(p, static_cast<int>(rng() % static_cast<unsigned>(nodes)),
                                          static_cast<int>(rng() % static_cast<unsigned>(chips))));
    }
    cache.ReplacePods(pod_objects);
  }
  double load_s = std::chrono::duration<double>(Clock::now() - t0).count();
  malloc_trim(0);
  long rss_cache = RssKiB();
  auto stats = cache.stats();

  // As hi-scheduler does once its pod list is in: measured against the placed pods' workload.
  extender::Scheduler scheduler(
      cache, extender::MakeExtenderPlacementPolicy(*policy, extender::PlacedPodShapes(cache)));
  extender::ExtenderApi api(
      scheduler, [&] { return policy; }, nullptr);
  Json names_json = Json::array();
  std::mt19937 pick(11);
  std::vector<int> order(static_cast<size_t>(nodes));
  for (int i = 0; i < nodes; ++i) order[static_cast<size_t>(i)] = i;
  std::shuffle(order.begin(), order.end(), pick);
  for (int i = 0; i < names; ++i) names_json.push_back(NodeName(order[static_cast<size_t>(i)]));
  std::string body = Json{{"Pod", PendingPod(1, 20000, 30)}, {"NodeNames", names_json}}.dump();

  // In process: the handlers alone (JSON parse, evaluate, JSON reply).
  std::vector<double> in_process, in_process_cpu;
  size_t passed = 0;
  for (int r = 0; r < requests; ++r) {
    double cpu_start = ThreadCpuMs();
    auto start = Clock::now();
    auto f = api.Filter(body);
    auto p = api.Prioritize(body);
    in_process.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    in_process_cpu.push_back(ThreadCpuMs() - cpu_start);
    if (r == 0) passed = Json::parse(f.body)["NodeNames"].size();
    (void)p;
  }
  // The first pair evaluates every node; later ones reuse the per-node verdicts.
  const double first_pair = in_process.front(), first_pair_cpu = in_process_cpu.front();
  Percentiles ip = Summarize(in_process);
  Percentiles ipc = Summarize(in_process_cpu);

  // The scheduler alone (no JSON): where the time goes.
  std::vector<std::string> name_list;
  for (const auto& n : names_json) name_list.push_back(n.get<std::string>());
  extender::PodIntent intent = extender::ParsePodIntent(PendingPod(1, 20000, 30), *policy);
  std::vector<double> core;
  for (int r = 0; r < requests; ++r) {
    auto start = Clock::now();
    auto f = scheduler.Filter(intent, name_list);
    auto p = scheduler.Prioritize(intent, f.passed);
    core.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  Percentiles cp = Summarize(core);

  // Over loopback HTTP with keep-alive.
  extender::HttpEndpoints endpoints;
  endpoints.api = &api;
  endpoints.ready = [] { return true; };
  endpoints.leader = [] { return true; };
  extender::HttpServer server(endpoints);
  extender::ListenOptions listen;
  listen.port = 0;
  auto port = server.Listen(listen);
  if (!port.ok()) {
    std::fprintf(stderr, "%s\n", port.error().message.c_str());
    return 1;
  }
  std::vector<double> http_latency;
  {
    httplib::Client client("127.0.0.1", *port);
    client.set_keep_alive(true);
    client.set_tcp_nodelay(true);
    for (int r = 0; r < requests; ++r) {
      auto start = Clock::now();
      auto f = client.Post("/filter", body, "application/json");
      auto p = client.Post("/prioritize", body, "application/json");
      if (!f || !p || f->status != 200 || p->status != 200) {
        std::fprintf(stderr, "HTTP request failed\n");
        return 1;
      }
      http_latency.push_back(
          std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    }
  }
  Percentiles hp = Summarize(http_latency);

  std::atomic<long> done{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  auto run_start = Clock::now();
  const double run_cpu_start = ProcessCpuMs();
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      httplib::Client client("127.0.0.1", *port);
      client.set_keep_alive(true);
      client.set_tcp_nodelay(true);
      client.set_tcp_nodelay(true);
      bool filter = true;
      while (!stop) {
        auto r = client.Post(filter ? "/filter" : "/prioritize", body, "application/json");
        if (!r || r->status != 200) break;
        filter = !filter;
        ++done;
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  double run_s = std::chrono::duration<double>(Clock::now() - run_start).count();
  // Server and clients together: what one request costs on this machine's cores, whoever else
  // is using them.
  const double cpu_per_request =
      (ProcessCpuMs() - run_cpu_start) / static_cast<double>(std::max<long>(done.load(), 1));
  server.Stop();
  long rss_end = RssKiB();

  std::printf(
      "cluster: %d nodes x %d chips, %zu pods holding slices (%zu chips), loaded in %.2f s\n",
      nodes, chips, stats.pods_with_slices, stats.chips, load_s);
  std::printf("placement policy: %s\n", placement.c_str());
  std::printf("request: 1 GPU x 20000 MiB x 30%%, %d NodeNames, %zu pass filter\n", names, passed);
  std::printf("filter+prioritize in process : p50 %.3f ms  p99 %.3f ms  max %.3f ms  (%d pairs)\n",
              ip.p50, ip.p99, ip.max, requests);
  std::printf(
      "  its thread CPU time         : p50 %.3f ms  p99 %.3f ms  (first pair %.1f ms wall, %.1f ms "
      "CPU)\n",
      ipc.p50, ipc.p99, first_pair, first_pair_cpu);
  std::printf("filter+prioritize scheduler  : p50 %.3f ms  p99 %.3f ms  max %.3f ms  (no JSON)\n",
              cp.p50, cp.p99, cp.max);
  std::printf("filter+prioritize over HTTP  : p50 %.3f ms  p99 %.3f ms  max %.3f ms  (%d pairs)\n",
              hp.p50, hp.p99, hp.max, requests);
  std::printf("throughput (keep-alive, %d clients): %.0f requests/s over %.1f s\n", clients,
              static_cast<double>(done.load()) / run_s, run_s);
  std::printf("  process CPU per request (server + clients): %.3f ms\n", cpu_per_request);
  std::printf("RSS: start %.1f MiB, after cache load %.1f MiB, at end %.1f MiB\n",
              static_cast<double>(rss_start) / 1024, static_cast<double>(rss_cache) / 1024,
              static_cast<double>(rss_end) / 1024);
  return 0;
}
