#include "sim/experiment.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <random>

#include "partition/placement/fgd_policy.h"
#include "partition/placement/gpu_ask.h"
#include "partition/placement/policy_factory.h"
#include "partition/placement/simple_policies.h"
#include "sim/cluster_builder.h"

namespace flexai::sim {
namespace {

using partition::NodeState;

// Python's round(): half to even, as the paper's analysis scripts bucket arrivals.
double RoundHalfEven(double x, int decimals) {
  double scale = std::pow(10.0, decimals);
  return std::nearbyint(x * scale) / scale;
}

struct Event {
  double arrived_pct;
  double allocated_pct;
  double frag_pct;
};

// The paper's discretisation: the mean allocation of events whose arrival rounds to `x` percent,
// or of x-1..x+1 when none does.
double BucketMean(const std::vector<Event>& events, int x, double Event::*field) {
  for (int width : {0, 1}) {
    double sum = 0;
    int n = 0;
    for (const auto& e : events) {
      double bucket = RoundHalfEven(e.arrived_pct, 0);
      if (bucket >= x - width && bucket <= x + width) {
        sum += RoundHalfEven(e.*field, 2);
        ++n;
      }
    }
    if (n) return RoundHalfEven(sum / n, 2);
  }
  return std::nan("");
}

}  // namespace

std::vector<std::string> KnownPolicies() {
  std::vector<std::string> names = {"exclusive"};
  for (const auto& n : partition::PlacementPolicyNames()) names.push_back(n);
  return names;
}

Result<RunResult> RunOnce(const Trace& trace, const std::string& policy_name, uint64_t seed,
                          const ExperimentOptions& options) {
  if (trace.tasks.empty()) return Error{"trace has no tasks"};
  const int64_t capacity_milli = trace.total_gpus() * 1000;
  if (capacity_milli == 0) return Error{"trace cluster has no GPUs"};

  // Typical workload: every original task, before inflation.
  std::vector<partition::TaskShape> shapes;
  shapes.reserve(trace.tasks.size());
  for (const auto& t : trace.tasks) shapes.push_back(ToTaskShape(t));
  partition::PolicyContext context{seed, partition::BuildTypicalWorkload(shapes), options.weights};

  const bool exclusive = policy_name == "exclusive";
  auto made = partition::MakePlacementPolicy(exclusive ? "bestfit" : policy_name, context);
  if (!made.ok()) return made.error();
  std::unique_ptr<partition::PlacementPolicy> policy = std::move(made).value();

  // Arrival order: shuffled originals, then tasks sampled with replacement up to the inflation.
  std::mt19937_64 rng(seed);
  std::vector<size_t> order(trace.tasks.size());
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  int64_t requested = 0;
  for (const auto& t : trace.tasks) requested += t.gpu_demand_milli();
  const double target = options.inflation * static_cast<double>(capacity_milli);
  std::uniform_int_distribution<size_t> pick(0, trace.tasks.size() - 1);
  while (static_cast<double>(requested) < target) {
    size_t i = pick(rng);
    // The reference stops at the first sample whose per-GPU share would cross the target.
    if (static_cast<double>(requested + trace.tasks[i].gpu_milli) > target) break;
    requested += trace.tasks[i].gpu_demand_milli();
    order.push_back(i);
  }

  // Ties go to a per-seed random node ranking: keep the nodes in rank order.
  std::vector<NodeState> nodes = BuildCluster(trace.nodes);
  std::shuffle(nodes.begin(), nodes.end(), rng);

  partition::FragmentationCache frag(context.workload);
  std::vector<double> node_frag(nodes.size());
  double cluster_frag = 0;
  for (size_t i = 0; i < nodes.size(); ++i) {
    node_frag[i] = frag.Of(partition::ViewOf(nodes[i]));
    cluster_frag += node_frag[i];
  }

  RunResult result;
  result.policy = policy_name;
  result.seed = seed;
  std::vector<Event> events;
  events.reserve(order.size());
  std::vector<double> decision_us;
  decision_us.reserve(order.size());
  int64_t arrived = 0, allocated = 0, served = 0;
  const double cap = static_cast<double>(capacity_milli);

  for (size_t k = 0; k < order.size(); ++k) {
    const TraceTask& task = trace.tasks[order[k]];
    arrived += task.gpu_demand_milli();
    partition::PodRequest pod = ToPodRequest(task, "t" + std::to_string(k));
    if (exclusive) pod = partition::AsExclusive(pod);
    auto start = std::chrono::steady_clock::now();
    auto choice = partition::ChooseNode(*policy, nodes, pod);
    decision_us.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
            .count());
    if (choice) {
      NodeState& node = nodes[choice->node_index];
      int64_t left_before = partition::NodeLeftMilli(node);
      Status applied = node.Apply(node.MakeAssignment(pod, choice->choice.chips));
      if (!applied.ok())
        return Error{"internal: chosen placement did not apply: " + applied.message()};
      policy->OnNodeChanged(node);
      allocated += left_before - partition::NodeLeftMilli(node);
      served += task.gpu_demand_milli();
      ++result.tasks_placed;
      if (task.num_gpu > 0) ++result.gpu_tasks_placed;
      double f = frag.Of(partition::ViewOf(node));
      cluster_frag += f - node_frag[choice->node_index];
      node_frag[choice->node_index] = f;
    }
    events.push_back({100.0 * static_cast<double>(arrived) / cap,
                      100.0 * static_cast<double>(allocated) / cap, 100.0 * cluster_frag / cap});
  }
  result.tasks_arrived = static_cast<int64_t>(order.size());
  result.allocated_pct_at_100 = BucketMean(events, 100, &Event::allocated_pct);
  result.unallocated_pct_at_100 = RoundHalfEven(100.0 - result.allocated_pct_at_100, 2);
  result.frag_pct_at_75 = BucketMean(events, 75, &Event::frag_pct);
  result.served_gpu_demand_pct = 100.0 * static_cast<double>(served) / cap;
  const int last = static_cast<int>(RoundHalfEven(events.back().arrived_pct, 0));
  for (int x = 0; x <= last; ++x) {
    result.points.push_back({static_cast<double>(x), BucketMean(events, x, &Event::allocated_pct),
                             BucketMean(events, x, &Event::frag_pct)});
  }
  std::nth_element(decision_us.begin(), decision_us.begin() + decision_us.size() / 2,
                   decision_us.end());
  result.median_decision_us = decision_us[decision_us.size() / 2];
  return result;
}

}  // namespace flexai::sim
