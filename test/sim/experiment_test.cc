#include "sim/experiment.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "sim/embedded_workload.h"
#include "sim/report.h"
#include "sim/seeds.h"

namespace flexai::sim {
namespace {

// Two 1-GPU nodes and four half-GPU tasks: the request is exactly the capacity.
Trace HalvesTrace() {
  Trace t;
  t.source = "halves";
  t.nodes = {{"a", 8000, 8192, 1, "T4"}, {"b", 8000, 8192, 1, "T4"}};
  for (int i = 0; i < 4; ++i) {
    TraceTask task;
    task.name = "t" + std::to_string(i);
    task.cpu_milli = 1000;
    task.memory_mib = 1024;
    task.num_gpu = 1;
    task.gpu_milli = 500;
    t.tasks.push_back(task);
  }
  return t;
}

TEST(Experiment, SharingPacksTheHalvesPerfectly) {
  for (const std::string policy : {"bestfit", "fgd", "hi", "packing"}) {
    auto r = RunOnce(HalvesTrace(), policy, 42, {1.0, {}});
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->tasks_placed, 4) << policy;
    EXPECT_DOUBLE_EQ(r->served_gpu_demand_pct, 100.0) << policy;
    EXPECT_DOUBLE_EQ(r->unallocated_pct_at_100, 0.0) << policy;
  }
}

TEST(Experiment, ExclusiveGivesEachTaskAWholeGpu) {
  auto r = RunOnce(HalvesTrace(), "exclusive", 42, {1.0, {}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->tasks_placed, 2);
  EXPECT_DOUBLE_EQ(r->served_gpu_demand_pct, 50.0);
  // Whole GPUs count as allocated under exclusive: when the fourth task arrives (100%), both
  // GPUs are taken by the first two.
  EXPECT_DOUBLE_EQ(r->allocated_pct_at_100, 100.0);
}

TEST(Experiment, CpuLimitsPlacement) {
  Trace t = HalvesTrace();
  for (auto& task : t.tasks) task.cpu_milli = 5000;  // one task per 8-core node
  auto r = RunOnce(t, "bestfit", 7, {1.0, {}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->tasks_placed, 2);
  EXPECT_DOUBLE_EQ(r->unallocated_pct_at_100, 50.0);
}

TEST(Experiment, IsDeterministicPerSeed) {
  Trace t = EmbeddedDefaultTrace();
  t.tasks.resize(1500);  // keep the test quick; the shapes are in table order
  for (const std::string policy : {"random", "hi"}) {
    auto a = RunOnce(t, policy, 42, {0.3, {}});
    auto b = RunOnce(t, policy, 42, {0.3, {}});
    auto c = RunOnce(t, policy, 43, {0.3, {}});
    ASSERT_TRUE(a.ok() && b.ok() && c.ok());
    EXPECT_EQ(a->tasks_placed, b->tasks_placed) << policy;
    ASSERT_EQ(a->points.size(), b->points.size());
    for (size_t i = 0; i < a->points.size(); ++i) {
      if (std::isnan(a->points[i].allocated_pct)) continue;
      EXPECT_DOUBLE_EQ(a->points[i].allocated_pct, b->points[i].allocated_pct) << policy;
      EXPECT_DOUBLE_EQ(a->points[i].frag_pct, b->points[i].frag_pct) << policy;
    }
    bool differs = a->tasks_arrived != c->tasks_arrived || a->tasks_placed != c->tasks_placed;
    for (size_t i = 0; i < std::min(a->points.size(), c->points.size()); ++i) {
      differs = differs || a->points[i].frag_pct != c->points[i].frag_pct;
    }
    EXPECT_TRUE(differs) << policy << ": seeds 42 and 43 gave identical runs";
  }
}

TEST(Experiment, InflationAppendsSampledTasksUpToTheTarget) {
  Trace t = HalvesTrace();
  auto r = RunOnce(t, "bestfit", 1, {2.0, {}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->tasks_arrived, 8);  // 4 x 500 more milli reach 2x the 2000-milli capacity
  EXPECT_EQ(r->tasks_placed, 4);
}

TEST(Experiment, UnknownPolicyAndEmptyTraceAreErrors) {
  EXPECT_FALSE(RunOnce(HalvesTrace(), "worstfit", 1).ok());
  Trace empty;
  EXPECT_FALSE(RunOnce(empty, "bestfit", 1).ok());
}

TEST(Report, JsonHasTheDocumentedShape) {
  auto r = RunOnce(HalvesTrace(), "bestfit", 42, {1.0, {}});
  ASSERT_TRUE(r.ok());
  std::vector<RunResult> runs = {*r};
  auto j = nlohmann::json::parse(ReportJson({"halves", 2, 2, 2.0}, runs, Summarise(runs)));
  EXPECT_EQ(j["cluster"]["nodes"], 2);
  EXPECT_EQ(j["cluster"]["gpus"], 2);
  const auto& res = j["results"][0];
  EXPECT_EQ(res["policy"], "bestfit");
  EXPECT_EQ(res["seed"], 42);
  EXPECT_DOUBLE_EQ(res["unallocated_pct_at_100"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(res["served_gpu_demand_pct"].get<double>(), 100.0);
  ASSERT_FALSE(res["points"].empty());
  EXPECT_TRUE(res["points"][0].contains("arrived_pct"));
  EXPECT_TRUE(res["points"][0].contains("allocated_pct"));
  EXPECT_TRUE(res["points"][0].contains("frag_pct"));
  std::string svg = PlotSvg(runs);
  EXPECT_NE(svg.find("<svg"), std::string::npos);
  EXPECT_NE(svg.find("bestfit"), std::string::npos);
}

TEST(Report, SharingBoundIsWholeGpuDemandOverRequested) {
  EXPECT_DOUBLE_EQ(SharingBound(HalvesTrace()), 2.0);
  EXPECT_NEAR(SharingBound(EmbeddedDefaultTrace()), 1.22, 0.01);
}

TEST(Arguments, SeedsPoliciesAndWeightsParse) {
  EXPECT_EQ(*ParseSeeds("42-44,50"), (std::vector<uint64_t>{42, 43, 44, 50}));
  EXPECT_FALSE(ParseSeeds("44-42").ok());
  EXPECT_FALSE(ParseSeeds("x").ok());
  auto all = ParsePolicies("all", KnownPolicies());
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->front(), "exclusive");
  EXPECT_FALSE(ParsePolicies("fgd,nope", KnownPolicies()).ok());
  EXPECT_EQ(ParseWeights({"a=1.5"})->at("a"), 1.5);
  EXPECT_FALSE(ParseWeights({"a"}).ok());
  EXPECT_FALSE(ParseWeights({"a=x"}).ok());
}

}  // namespace
}  // namespace flexai::sim
