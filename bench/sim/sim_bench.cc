// Speed of the simulator and of one placement decision on the 1,213-node openb cluster.
//   build/bin/sim_bench                      (all)
//   build/bin/sim_bench --benchmark_filter=Decision
#include <benchmark/benchmark.h>

#include <numeric>
#include <random>

#include "partition/placement/policy_factory.h"
#include "partition/placement/simple_policies.h"
#include "sim/cluster_builder.h"
#include "sim/embedded_workload.h"
#include "sim/experiment.h"

namespace {

using namespace flexai;

const sim::Trace& DefaultTrace() {
  static const sim::Trace trace = sim::EmbeddedDefaultTrace();
  return trace;
}

// One policy, one seed, the whole default trace (inflated to 1.3x): the "< 1 s" target.
void BM_RunOnce(benchmark::State& state, const char* policy) {
  for (auto _ : state) {
    auto r = sim::RunOnce(DefaultTrace(), policy, 42);
    if (!r.ok()) state.SkipWithError(r.error().message.c_str());
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK_CAPTURE(BM_RunOnce, exclusive, "exclusive")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_RunOnce, bestfit, "bestfit")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_RunOnce, fgd, "fgd")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_RunOnce, hi, "hi")->Unit(benchmark::kMillisecond);

// One decision (score every node, pick one) on a cluster filled to about 70% by the same policy.
void BM_Decision(benchmark::State& state, const char* policy_name) {
  const sim::Trace& trace = DefaultTrace();
  std::vector<partition::TaskShape> shapes;
  for (const auto& t : trace.tasks) shapes.push_back(sim::ToTaskShape(t));
  partition::PolicyContext ctx{42, partition::BuildTypicalWorkload(shapes), {}};
  auto policy = std::move(partition::MakePlacementPolicy(policy_name, ctx)).value();
  auto nodes = sim::BuildCluster(trace.nodes);
  std::mt19937_64 rng(42);
  std::vector<size_t> order(trace.tasks.size());
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  size_t k = 0;
  for (int64_t placed = 0; placed < trace.total_gpus() * 700 && k < order.size(); ++k) {
    auto pod = sim::ToPodRequest(trace.tasks[order[k]], "fill" + std::to_string(k));
    if (auto c = partition::ChooseNode(*policy, nodes, pod)) {
      auto& node = nodes[c->node_index];
      (void)node.Apply(node.MakeAssignment(pod, c->choice.chips));
      policy->OnNodeChanged(node);
      placed += trace.tasks[order[k]].gpu_demand_milli();
    }
  }
  size_t i = k;
  for (auto _ : state) {
    auto pod = sim::ToPodRequest(trace.tasks[order[i++ % order.size()]], "probe");
    benchmark::DoNotOptimize(partition::ChooseNode(*policy, nodes, pod));
  }
}
BENCHMARK_CAPTURE(BM_Decision, bestfit, "bestfit")->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Decision, fgd, "fgd")->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Decision, hi, "hi")->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
