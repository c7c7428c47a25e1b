#include "sim/timeline.h"

#include <gtest/gtest.h>

#include "sim/embedded_workload.h"

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
  EXPECT_DOUBLE_EQ(RunTimeline(t, "bestfit", {1.0, 42, 10})->delay_p99_s, 0);
  EXPECT_DOUBLE_EQ(RunTimeline(t, "bestfit", {4.0, 42, 10})->delay_p99_s, 50);  // b at 50
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

}  // namespace
}  // namespace flexai::sim
