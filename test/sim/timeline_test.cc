#include "sim/timeline.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "sim/embedded_workload.h"
#include "sim/timeline_report.h"

namespace flexai::sim {
namespace {

TraceTask Timed(const std::string& name, int gpu_milli, int64_t created, int64_t deleted,
                int priority = 0) {
  TraceTask t;
  t.name = name;
  t.cpu_milli = 1000;
  t.num_gpu = 1;
  t.gpu_milli = gpu_milli;
  t.creation_time = created;
  t.deletion_time = deleted;
  t.priority = priority;
  return t;
}

Trace OneGpu(std::vector<TraceTask> tasks) {
  Trace t;
  t.source = "one-gpu";
  t.nodes = {{"a", 8000, 8192, 1, "T4"}};
  t.tasks = std::move(tasks);
  return t;
}

TEST(Timeline, AQueuedTaskStartsWhenCapacityFrees) {
  Trace t = OneGpu({Timed("a", 1000, 0, 100), Timed("b", 1000, 10, 60)});
  auto r = RunTimeline(t, "bestfit", {});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->never_started, 0);
  EXPECT_DOUBLE_EQ(r->delay_p99_s, 90);  // b waits from 10 to 100
  EXPECT_DOUBLE_EQ(r->delay_p50_s, 0);
}

TEST(Timeline, ReportsDelayByKindOfTaskAndTheQueueAtItsPeak) {
  // One GPU: a shared task runs 0-100; a whole-GPU task waits 90 s for it, a second shared task
  // shares the GPU with the first at once.
  Trace t = OneGpu({Timed("a", 500, 0, 100), Timed("b", 1000, 10, 60), Timed("c", 500, 20, 70)});
  auto r = RunTimeline(t, "hi", {});
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->by_class.size(), 2u);
  EXPECT_EQ(r->by_class[0].name, "shared");
  EXPECT_EQ(r->by_class[0].tasks, 2);
  EXPECT_DOUBLE_EQ(r->by_class[0].delay_p99_s, 0);
  EXPECT_EQ(r->by_class[1].name, "1 GPU");
  EXPECT_DOUBLE_EQ(r->by_class[1].delay_p99_s, 90);
  EXPECT_DOUBLE_EQ(r->by_class[1].waited_over_10min_pct, 0);
  EXPECT_EQ(r->peak_queue, 1);
  EXPECT_DOUBLE_EQ(r->allocated_pct_at_peak_queue, 50);  // b queued behind a's half GPU
  EXPECT_DOUBLE_EQ(r->cpu_pct_at_peak_queue, 12.5);      // a's 1 of 8 cores
  EXPECT_DOUBLE_EQ(r->memory_pct_at_peak_queue, 0);
}

TEST(Timeline, TableShowsTheQueuePeakAndDelayByKind) {
  Trace t = OneGpu({Timed("a", 500, 0, 100), Timed("b", 1000, 10, 60)});
  auto queued = RunTimeline(t, "hi", {});
  auto free_run = RunTimeline(OneGpu({Timed("a", 500, 0, 100)}), "hi", {});
  ASSERT_TRUE(queued.ok() && free_run.ok());
  std::ostringstream out;
  PrintTimelineTable(out, {"one-gpu", 1, 1, 1.0}, {*queued, *free_run});
  const std::string text = out.str();
  EXPECT_NE(text.find("1 @ 50.0/12.5/0.0"), std::string::npos) << text;
  EXPECT_NE(text.find("- (no queue)"), std::string::npos) << text;
  EXPECT_NE(text.find("1 GPU (1)"), std::string::npos) << text;
  auto json = nlohmann::json::parse(TimelineJson({"one-gpu", 1, 1, 1.0}, {*queued}, {}));
  EXPECT_EQ(json["timeline"][0]["peak_queue"], 1);
  EXPECT_EQ(json["timeline"][0]["by_class"][1]["class"], "1 GPU");
  EXPECT_DOUBLE_EQ(json["timeline"][0]["by_class"][1]["delay_p99_s"].get<double>(), 90);
}

TEST(Timeline, SharingRunsHalvesTogether) {
  Trace t = OneGpu({Timed("a", 500, 0, 100), Timed("b", 500, 10, 100)});
  auto shared = RunTimeline(t, "hi", {});
  auto whole = RunTimeline(t, "exclusive", {});
  ASSERT_TRUE(shared.ok() && whole.ok());
  EXPECT_DOUBLE_EQ(shared->delay_p99_s, 0);
  EXPECT_DOUBLE_EQ(whole->delay_p99_s, 90);
}

TEST(Timeline, HigherPriorityLeavesTheQueueFirst) {
  // c (priority 2) arrives after b (priority 0); both wait for a; c must start first, at 100.
  Trace t =
      OneGpu({Timed("a", 1000, 0, 100), Timed("b", 1000, 10, 1000), Timed("c", 1000, 20, 1000, 2)});
  auto r = RunTimeline(t, "bestfit", {});
  ASSERT_TRUE(r.ok());
  // c waited 80 s; b waits until c ends (100 + 980 = 1080): 1070 s.
  EXPECT_DOUBLE_EQ(r->delay_p99_s, 1070);
}

TEST(Timeline, CompressionDividesInterArrivalTimes) {
  Trace t = OneGpu({Timed("a", 1000, 0, 100), Timed("b", 1000, 200, 300)});
  EXPECT_DOUBLE_EQ(RunTimeline(t, "bestfit", {1.0, 42, 10, {}, 0})->delay_p99_s, 0);
  EXPECT_DOUBLE_EQ(RunTimeline(t, "bestfit", {4.0, 42, 10, {}, 0})->delay_p99_s, 50);  // b at 50
}

TEST(Timeline, UntimedTraceIsAClearError) {
  Trace t = OneGpu({Timed("a", 1000, -1, -1)});
  auto r = RunTimeline(t, "bestfit", {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("creation_time"), std::string::npos);
}

TEST(Timeline, SynthesisIsDeterministicPerSeed) {
  Trace a = EmbeddedDefaultTrace(), b = EmbeddedDefaultTrace();
  SynthesiseTimeline(a, 7);
  SynthesiseTimeline(b, 7);
  ASSERT_TRUE(HasTimeline(a));
  for (size_t i = 0; i < a.tasks.size(); ++i) {
    ASSERT_EQ(a.tasks[i].creation_time, b.tasks[i].creation_time);
    ASSERT_EQ(a.tasks[i].deletion_time, b.tasks[i].deletion_time);
    ASSERT_GE(a.tasks[i].deletion_time, a.tasks[i].creation_time);
  }
}

TEST(Timeline, TilingRepeatsTheTraceOneSpanLater) {
  // Span 0..300 over 3 tasks: each copy starts 300 + 300/3 = 400 s after the previous one.
  Trace t = OneGpu({Timed("a", 500, 0, 50), Timed("b", 500, 100, 150), Timed("c", 500, 300, 310)});
  TileTimeline(t, 3);
  ASSERT_EQ(t.tasks.size(), 9u);
  EXPECT_EQ(t.tasks[3].name, "a~1");
  EXPECT_EQ(t.tasks[3].creation_time, 400);
  EXPECT_EQ(t.tasks[3].deletion_time, 450);
  EXPECT_EQ(t.tasks[8].name, "c~2");
  EXPECT_EQ(t.tasks[8].creation_time, 1100);
  EXPECT_EQ(t.tasks[8].deletion_time, 1110);
}

TEST(Timeline, ANewTaskOfAQueuedShapeWaitsBehindIt) {
  // a holds the GPU; b and c (same shape) queue in arrival order: c is not tried before b, and
  // starts only when b ends.
  Trace t = OneGpu({Timed("a", 1000, 0, 100), Timed("b", 1000, 10, 60), Timed("c", 1000, 20, 70)});
  auto r = RunTimeline(t, "bestfit", {});
  ASSERT_TRUE(r.ok());
  // b waits 90 s (starts at 100, runs 50), c waits from 20 until 150: 130 s.
  EXPECT_DOUBLE_EQ(r->delay_p99_s, 130);
  EXPECT_DOUBLE_EQ(r->delay_p50_s, 90);
}

TEST(Timeline, AHoldKeepsSmallTasksOffTheNodeAMultiGpuTaskWaitsFor) {
  // One 2-GPU node. x holds a GPU until 100; big (2 GPUs) queues at 10; s (1 GPU, long) comes
  // at 20. Without a hold s takes the free GPU and big waits for s (until 1020); with one, the node
  // is big's: s waits until big has run (100..150).
  Trace t;
  t.source = "two-gpu";
  t.nodes = {{"a", 8000, 8192, 2, "T4"}};
  TraceTask big = Timed("big", 1000, 10, 60);
  big.num_gpu = 2;
  t.tasks = {Timed("x", 1000, 0, 100), big, Timed("s", 1000, 20, 1020)};
  TimelineOptions no_hold, hold;
  hold.hold_s = 3600;
  auto without = RunTimeline(t, "bestfit", no_hold);
  auto with = RunTimeline(t, "bestfit", hold);
  ASSERT_TRUE(without.ok() && with.ok());
  EXPECT_DOUBLE_EQ(without->delay_p99_s, 1010);  // big: 10 -> 1020
  EXPECT_DOUBLE_EQ(with->delay_p99_s, 130);      // s: 20 -> 150
  EXPECT_DOUBLE_EQ(with->delay_p50_s, 90);       // big: 10 -> 100
}

TEST(Timeline, ReplayIsDeterministicPerSeed) {
  Trace t = EmbeddedDefaultTrace();
  SynthesiseTimeline(t, 3);
  t.tasks.resize(400);
  TileTimeline(t, 2);
  auto a = RunTimeline(t, "hi", {50000, 9, 20, {}, 0});
  auto b = RunTimeline(t, "hi", {50000, 9, 20, {}, 0});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->delay_p99_s, b->delay_p99_s);
  EXPECT_EQ(a->time_avg_allocated_pct, b->time_avg_allocated_pct);
  EXPECT_EQ(a->allocation_curve, b->allocation_curve);
}

TEST(Timeline, CapacityTestFindsTheRateWhereTheQueueBuildsUp) {
  // 40 one-GPU tasks of 100 s, one every 100 s, on one GPU: fine until arrivals come faster than
  // one per 100 s, i.e. compression 1; the queue then grows by one task per arrival.
  std::vector<TraceTask> tasks;
  for (int i = 0; i < 40; ++i)
    tasks.push_back(Timed("t" + std::to_string(i), 1000, 100 * i, 100 * i + 100));
  auto r = FindSustainedRate(OneGpu(tasks), "bestfit", {}, /*max_p99_s=*/600);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_GE(r->compression, 1.0);
  EXPECT_LT(r->compression, 1.3);
}

TEST(Timeline, CapacityTestOverSeveralSeedsJudgesEachRateByTheMedian) {
  // Three seeds of `random` placement on two one-GPU nodes; whole-GPU tasks make every seed
  // queue alike, so the median agrees with a single replay and the seed count is reported.
  std::vector<TraceTask> tasks;
  for (int i = 0; i < 40; ++i)
    tasks.push_back(Timed("t" + std::to_string(i), 1000, 50 * i, 50 * i + 100));
  Trace t = OneGpu(tasks);
  t.nodes.push_back({"b", 8000, 8192, 1, "T4"});
  auto one = FindSustainedRate(t, "random", {}, 600, 1);
  auto three = FindSustainedRate(t, "random", {}, 600, 3);
  ASSERT_TRUE(one.ok() && three.ok());
  EXPECT_EQ(three->seeds, 3);
  EXPECT_DOUBLE_EQ(three->compression, one->compression);
  EXPECT_GE(three->compression, 1.0);
  EXPECT_FALSE(FindSustainedRate(t, "random", {}, 600, 0).ok());
}

}  // namespace
}  // namespace flexai::sim
