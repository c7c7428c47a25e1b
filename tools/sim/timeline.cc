#include "sim/timeline.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <queue>
#include <random>
#include <set>
#include <tuple>

#include "partition/placement/gpu_ask.h"
#include "partition/placement/policy_factory.h"
#include "partition/placement/simple_policies.h"
#include "partition/queue/chip_hold.h"
#include "partition/queue/pending_queue.h"
#include "sim/cluster_builder.h"
#include "sim/report.h"

namespace flexai::sim {
namespace {

// Task durations of the openb default trace (deletion - creation, seconds) at every 5%.
constexpr double kDurationQuantiles[] = {1,    48,   80,   112,  146,  167,   202,
                                         244,  301,  405,  540,  691,  883,   1122,
                                         1418, 1971, 2697, 4005, 6568, 16377, 12537496};

double SampleDuration(std::mt19937_64& rng) {
  constexpr int n = sizeof kDurationQuantiles / sizeof *kDurationQuantiles;
  double u = std::uniform_real_distribution<double>(0, n - 1)(rng);
  int i = static_cast<int>(u);
  double f = u - i;
  double lo = std::log(kDurationQuantiles[i]), hi = std::log(kDurationQuantiles[i + 1]);
  return std::exp(lo + (hi - lo) * f);
}

struct Pending {
  int priority;
  double arrival;
  size_t task;
  bool operator<(const Pending& o) const {
    if (priority != o.priority) return priority > o.priority;
    if (arrival != o.arrival) return arrival < o.arrival;
    return task < o.task;
  }
};

}  // namespace

bool HasTimeline(const Trace& trace) {
  return std::all_of(trace.tasks.begin(), trace.tasks.end(), [](const TraceTask& t) {
    return t.creation_time >= 0 && t.deletion_time >= 0;
  });
}

void SynthesiseTimeline(Trace& trace, uint64_t seed, double span_s) {
  std::mt19937_64 rng(seed);
  std::vector<size_t> order(trace.tasks.size());
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  std::exponential_distribution<double> gap(static_cast<double>(trace.tasks.size()) / span_s);
  double t = 0;
  for (size_t i : order) {
    auto& task = trace.tasks[i];
    task.creation_time = static_cast<int64_t>(t);
    task.deletion_time = task.creation_time + static_cast<int64_t>(SampleDuration(rng));
    t += gap(rng);
  }
}

void TileTimeline(Trace& trace, int copies) {
  if (copies <= 1 || trace.tasks.empty()) return;
  auto [first, last] = std::minmax_element(
      trace.tasks.begin(), trace.tasks.end(),
      [](const TraceTask& a, const TraceTask& b) { return a.creation_time < b.creation_time; });
  const int64_t n = static_cast<int64_t>(trace.tasks.size());
  const int64_t span = last->creation_time - first->creation_time;
  const int64_t period = span + std::max<int64_t>(1, span / n);
  const size_t original = trace.tasks.size();
  trace.tasks.reserve(original * static_cast<size_t>(copies));
  for (int k = 1; k < copies; ++k) {
    for (size_t i = 0; i < original; ++i) {
      TraceTask copy = trace.tasks[i];
      copy.name += "~" + std::to_string(k);
      copy.creation_time += period * k;
      copy.deletion_time += period * k;
      trace.tasks.push_back(std::move(copy));
    }
  }
}

Result<TimelineResult> RunTimeline(const Trace& trace, const std::string& policy_name,
                                   const TimelineOptions& options) {
  if (trace.tasks.empty()) return Error{"trace has no tasks"};
  if (!HasTimeline(trace)) {
    return Error{
        "timeline mode needs creation_time and deletion_time for every task (the "
        "multigpu files have none)"};
  }
  if (options.compression <= 0) return Error{"compression must be positive"};
  const double capacity = static_cast<double>(trace.total_gpus()) * 1000;
  if (capacity == 0) return Error{"trace cluster has no GPUs"};

  std::vector<partition::TaskShape> shapes;
  for (const auto& t : trace.tasks) shapes.push_back(ToTaskShape(t));
  partition::PolicyContext context{options.seed, partition::BuildTypicalWorkload(shapes),
                                   options.weights};
  const bool exclusive = policy_name == "exclusive";
  auto made = partition::MakePlacementPolicy(exclusive ? "bestfit" : policy_name, context);
  if (!made.ok()) return made.error();
  auto policy = std::move(made).value();

  std::vector<partition::NodeState> nodes = BuildCluster(trace.nodes);
  std::mt19937_64 rng(options.seed);
  std::shuffle(nodes.begin(), nodes.end(), rng);

  const size_t n = trace.tasks.size();
  std::vector<double> arrival(n), duration(n), start(n, -1);
  std::vector<partition::PodRequest> pods(n);
  std::vector<size_t> node_of(n);
  for (size_t i = 0; i < n; ++i) {
    const auto& t = trace.tasks[i];
    arrival[i] = static_cast<double>(t.creation_time) / options.compression;
    duration[i] = std::max<double>(1, static_cast<double>(t.deletion_time - t.creation_time));
    pods[i] = ToPodRequest(t, "t" + std::to_string(i));
    if (exclusive) pods[i] = partition::AsExclusive(pods[i]);
  }
  // Tasks of one shape are interchangeable for fitting: number the shapes.
  std::vector<size_t> shape_of(n);
  std::map<std::tuple<int, int, int64_t, int64_t, std::vector<std::string>>, size_t> shape_ids;
  for (size_t i = 0; i < n; ++i) {
    const auto& t = trace.tasks[i];
    auto key = std::make_tuple(t.num_gpu, t.gpu_milli, t.cpu_milli, t.memory_mib, t.gpu_spec);
    shape_of[i] = shape_ids.emplace(std::move(key), shape_ids.size()).first->second;
  }
  const size_t shape_count = shape_ids.size();
  std::vector<int64_t> queued_of_shape(shape_count, 0);
  std::vector<size_t> by_arrival(n);
  std::iota(by_arrival.begin(), by_arrival.end(), 0);
  std::stable_sort(by_arrival.begin(), by_arrival.end(),
                   [&](size_t a, size_t b) { return arrival[a] < arrival[b]; });
  const double window_end = arrival[by_arrival.back()];

  // Departures as a min-heap of (time, task).
  using Departure = std::pair<double, size_t>;
  std::priority_queue<Departure, std::vector<Departure>, std::greater<>> departures;
  std::set<Pending> queue;
  double allocated = 0, last_t = 0, area = 0, served = 0;
  TimelineResult result;
  result.policy = policy_name;
  result.compression = options.compression;
  result.tasks = static_cast<int64_t>(n);
  const double sample_every = std::max(window_end, 1.0) / options.curve_points;
  double next_sample = 0;

  auto advance = [&](double t) {
    double until = std::min(t, window_end);
    if (until > last_t) area += allocated * (until - last_t);
    while (next_sample <= until && next_sample <= window_end) {
      result.allocation_curve.push_back({next_sample / 3600, 100 * allocated / capacity});
      next_sample += sample_every;
    }
    last_t = std::max(last_t, t);
  };
  // Chip hold (options.hold_s): at most one node held for the oldest queued multi-chip task.
  partition::HoldBook holds(std::chrono::seconds(static_cast<int64_t>(options.hold_s)));
  std::map<std::string, size_t> node_index_of;
  std::vector<const partition::NodeState*> node_ptrs;
  for (size_t k = 0; k < nodes.size(); ++k) {
    node_index_of[nodes[k].name()] = k;
    node_ptrs.push_back(&nodes[k]);
  }
  auto clock = [](double t) {
    return partition::HoldClock::time_point(
        std::chrono::duration_cast<partition::HoldClock::duration>(
            std::chrono::duration<double>(t)));
  };
  constexpr size_t kNone = static_cast<size_t>(-1);
  size_t held_node = kNone, holder = kNone;  // the active hold, as last looked at
  auto refresh_hold = [&](double t) {
    auto active = holds.Active(clock(t));
    held_node = active ? node_index_of.at(active->node) : kNone;
    holder = active ? std::stoul(active->uid) : kNone;
  };
  std::vector<char> multi_chip(n);
  for (size_t i = 0; i < n; ++i) {
    multi_chip[i] = partition::WholeChipsAsked(pods[i]) >= partition::kMultiChipThreshold;
  }
  int64_t queued_multi_chip = 0;
  auto enqueue = [&](size_t i) {
    queue.insert({trace.tasks[i].priority, arrival[i], i});
    if (static_cast<int64_t>(queue.size()) > result.peak_queue) {
      result.peak_queue = static_cast<int64_t>(queue.size());
      result.allocated_pct_at_peak_queue = 100 * allocated / capacity;
      double cpu = 0, cpu_used = 0, memory = 0, memory_used = 0;
      for (const auto& node : nodes) {
        cpu += static_cast<double>(node.host_capacity().cpu_milli);
        cpu_used +=
            static_cast<double>(node.host_capacity().cpu_milli - node.host_free().cpu_milli);
        memory += static_cast<double>(node.host_capacity().memory_mib);
        memory_used +=
            static_cast<double>(node.host_capacity().memory_mib - node.host_free().memory_mib);
      }
      result.cpu_pct_at_peak_queue = cpu > 0 ? 100 * cpu_used / cpu : 0;
      result.memory_pct_at_peak_queue = memory > 0 ? 100 * memory_used / memory : 0;
    }
    ++queued_of_shape[shape_of[i]];
    queued_multi_chip += multi_chip[i];
  };
  auto dequeued = [&](size_t i) {
    --queued_of_shape[shape_of[i]];
    queued_multi_chip -= multi_chip[i];
  };

  auto start_on = [&](size_t i, size_t node_index, const partition::NodeChoice& choice, double t) {
    auto& node = nodes[node_index];
    int64_t before = partition::NodeLeftMilli(node);
    (void)node.Apply(node.MakeAssignment(pods[i], choice.chips));
    policy->OnNodeChanged(node);
    allocated += static_cast<double>(before - partition::NodeLeftMilli(node));
    start[i] = t;
    node_of[i] = node_index;
    departures.push({t + duration[i], i});
    double ran = std::max(0.0, std::min(t + duration[i], window_end) - t);
    served += static_cast<double>(trace.tasks[i].gpu_demand_milli()) / 1000 * ran / 3600;
    if (i == holder) {
      holds.Release(std::to_string(i), clock(t));
      refresh_hold(t);
    }
  };
  auto try_place = [&](size_t i, double t) {
    std::optional<partition::ClusterChoice> best;
    for (size_t k = 0; k < nodes.size(); ++k) {
      if (k == held_node && i != holder) continue;
      auto choice = policy->Evaluate(nodes[k], pods[i]);
      if (choice && (!best || choice->score > best->choice.score)) {
        best = partition::ClusterChoice{k, std::move(*choice)};
      }
    }
    if (!best) return false;
    start_on(i, best->node_index, best->choice, t);
    return true;
  };
  // Serves the queue on node `k`, which gained room (a release, or the end of its hold).
  auto serve_queue_on = [&](size_t k, double t) {
    auto& node = nodes[k];
    if (k == held_node) {  // only the holder may use it
      for (auto it = queue.begin(); it != queue.end(); ++it) {
        if (it->task != holder) continue;
        if (auto choice = policy->Evaluate(node, pods[holder])) {
          size_t q = holder;
          queue.erase(it);
          dequeued(q);
          start_on(q, k, *choice, t);
        }
        break;
      }
      if (k == held_node) return;
    }
    // Every queued task fitted nowhere before (but on a held node): each now either fits here or
    // still fits nowhere. Serve them in priority, then arrival order. The node only fills during
    // this pass, so a shape that did not fit stays unfit: remember it (a long queue holds few
    // distinct shapes).
    std::vector<char> unfit(shape_count, 0);
    for (auto it = queue.begin(); it != queue.end();) {
      size_t q = it->task;
      if (unfit[shape_of[q]]) {
        ++it;
        continue;
      }
      auto choice = policy->Evaluate(node, pods[q]);
      if (!choice) {
        unfit[shape_of[q]] = 1;
        ++it;
        continue;
      }
      it = queue.erase(it);
      dequeued(q);
      start_on(q, k, *choice, t);
    }
  };
  auto release = [&](size_t i, double t) {
    auto& node = nodes[node_of[i]];
    int64_t before = partition::NodeLeftMilli(node);
    node.Release(pods[i].uid);
    policy->OnNodeChanged(node);
    allocated -= static_cast<double>(partition::NodeLeftMilli(node) - before);
    serve_queue_on(node_of[i], t);
  };
  // After each event: a hold that ran out gives its node back to the queue, and the oldest queued
  // multi-chip task (or the next ones, if it is cooling down) may claim a new one.
  auto update_hold = [&](double t) {
    if (options.hold_s <= 0) return;
    size_t was = held_node;
    refresh_hold(t);
    if (held_node != kNone) return;
    if (was != kNone) serve_queue_on(was, t);
    if (queued_multi_chip == 0) return;
    int tries = 0;
    for (const auto& p : queue) {
      if (!multi_chip[p.task]) continue;
      partition::ChipHold hold;
      hold.uid = hold.key = std::to_string(p.task);
      hold.chips = partition::WholeChipsAsked(pods[p.task]);
      auto node = partition::NodeClosestToFitting(node_ptrs, pods[p.task], &hold.memory_mib);
      if (node) {
        hold.node = *node;
        if (holds.Claim(hold, clock(t))) {
          refresh_hold(t);
          return;
        }
      }
      if (++tries == 3) return;
    }
  };

  size_t next_arrival = 0;
  while (next_arrival < n || !departures.empty()) {
    bool arrival_first =
        next_arrival < n &&
        (departures.empty() || arrival[by_arrival[next_arrival]] < departures.top().first);
    if (!arrival_first && queue.empty() && next_arrival >= n) break;  // nothing left to serve
    double now = 0;
    if (arrival_first) {
      size_t i = by_arrival[next_arrival++];
      now = arrival[i];
      advance(now);
      // Every queued task fits nowhere, so neither does a new task of a queued shape.
      if (queued_of_shape[shape_of[i]] > 0 || !try_place(i, now)) enqueue(i);
    } else {
      auto [t, i] = departures.top();
      departures.pop();
      now = t;
      advance(now);
      release(i, now);
    }
    update_hold(now);
  }
  advance(window_end);

  std::vector<double> delays;
  delays.reserve(n);
  const double end = std::max(last_t, window_end);
  int64_t over_10min = 0;
  for (size_t i = 0; i < n; ++i) {
    double d = start[i] >= 0 ? start[i] - arrival[i] : end - arrival[i];
    if (start[i] < 0) ++result.never_started;
    delays.push_back(d);
    over_10min += d > 600;
  }
  auto pct = [](std::vector<double>& v, double p) {  // nearest rank
    std::sort(v.begin(), v.end());
    auto rank = static_cast<size_t>(std::ceil(p / 100 * static_cast<double>(v.size())));
    return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
  };
  static const char* kClassNames[] = {"cpu-only", "shared", "1 GPU", "multi-GPU"};
  std::vector<std::vector<double>> class_delays(4);
  for (size_t i = 0; i < n; ++i) {
    const auto& t = trace.tasks[i];
    int c = t.num_gpu == 0 ? 0 : t.num_gpu > 1 ? 3 : t.gpu_milli < 1000 ? 1 : 2;
    class_delays[static_cast<size_t>(c)].push_back(delays[i]);
  }
  for (size_t c = 0; c < class_delays.size(); ++c) {
    auto& v = class_delays[c];
    if (v.empty()) continue;
    auto over = std::count_if(v.begin(), v.end(), [](double d) { return d > 600; });
    result.by_class.push_back({kClassNames[c], static_cast<int64_t>(v.size()), pct(v, 99),
                               100.0 * static_cast<double>(over) / static_cast<double>(v.size())});
  }
  result.delay_p50_s = pct(delays, 50);
  result.delay_p99_s = pct(delays, 99);
  result.waited_over_10min_pct = 100.0 * static_cast<double>(over_10min) / static_cast<double>(n);
  result.time_avg_allocated_pct = window_end > 0 ? 100 * area / (capacity * window_end) : 0;
  result.served_gpu_hours = served;
  result.arrival_rate_per_hour = window_end > 0 ? static_cast<double>(n) / (window_end / 3600) : 0;
  return result;
}

Result<CapacityResult> FindSustainedRate(const Trace& trace, const std::string& policy,
                                         const TimelineOptions& base, double max_p99_s, int seeds) {
  if (seeds < 1) return Error{"the capacity test needs at least one seed"};
  auto ok_at = [&](double c) -> Result<std::pair<bool, double>> {
    std::vector<double> p99s;
    double rate = 0;
    for (int k = 0; k < seeds; ++k) {
      TimelineOptions options = base;
      options.compression = c;
      options.curve_points = 10;
      options.seed = base.seed + static_cast<uint64_t>(k);
      auto r = RunTimeline(trace, policy, options);
      if (!r.ok()) return r.error();
      p99s.push_back(r->delay_p99_s);
      rate = r->arrival_rate_per_hour;  // the same for every seed
    }
    return std::pair<bool, double>{Percentile(std::move(p99s), 50) < max_p99_s, rate};
  };
  double good = 0, bad = 0, good_rate = 0;
  for (double c = 1; c <= 1 << 24; c *= 4) {
    auto r = ok_at(c);
    if (!r.ok()) return r.error();
    if (r->first) {
      good = c;
      good_rate = r->second;
    } else {
      bad = c;
      break;
    }
  }
  if (bad == 0) return Error{"p99 delay stayed under the limit at every compression tried"};
  if (good == 0) return CapacityResult{policy, 0, 0, seeds};
  for (int step = 0; step < 6; ++step) {  // 4^(1/64): within 2.2%
    double mid = std::sqrt(good * bad);
    auto r = ok_at(mid);
    if (!r.ok()) return r.error();
    if (r->first) {
      good = mid;
      good_rate = r->second;
    } else {
      bad = mid;
    }
  }
  return CapacityResult{policy, good, good_rate, seeds};
}

}  // namespace flexai::sim
