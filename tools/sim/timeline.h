// Timeline replay: tasks arrive at their creation time and run for their duration; a task that
// does not fit waits in a queue and is retried as soon as capacity frees, in priority then arrival
// order. Measures what a live cluster cares about: allocation over time and queueing delay.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "partition/result.h"
#include "sim/trace.h"

namespace flexai::sim {

struct TimelineOptions {
  double compression = 1.0;  // inter-arrival times are divided by this (durations are kept)
  uint64_t seed = 42;        // node ranking for ties
  int curve_points = 200;    // samples of allocation over time
  std::map<std::string, double> weights;  // placement policy knobs (--weight)
  // The Hi Scheduler's chip hold (hi-scheduler --hold-seconds, partition/queue/chip_hold.h): the
  // oldest queued multi-chip task may keep other tasks off the node closest to fitting it for
  // this long. 0 = off (a pure placement policy, as the published ones are).
  double hold_s = 0;
};

// Queueing delay of one kind of task: whole-GPU tasks are the ones a fragmented cluster starves.
struct DelayByClass {
  std::string name;  // "cpu-only", "shared" (< 1 GPU), "1 GPU", "multi-GPU"
  int64_t tasks = 0;
  double delay_p99_s = 0;
  double waited_over_10min_pct = 0;
};

struct TimelineResult {
  std::string policy;
  double compression = 1;
  double arrival_rate_per_hour = 0;
  double time_avg_allocated_pct = 0;  // over the arrival window
  double served_gpu_hours = 0;        // GPU demand x run time inside the arrival window
  double delay_p50_s = 0, delay_p99_s = 0;
  double waited_over_10min_pct = 0;
  int64_t tasks = 0;
  int64_t never_started = 0;
  std::vector<DelayByClass> by_class;  // classes with at least one task
  // The longest the queue got, and how much of the GPU, CPU and memory capacity was allocated
  // then: where one of them is near 100%, the queue waits for capacity, not for a better placement.
  int64_t peak_queue = 0;
  double allocated_pct_at_peak_queue = 0;
  double cpu_pct_at_peak_queue = 0, memory_pct_at_peak_queue = 0;
  std::vector<std::pair<double, double>> allocation_curve;  // (hours, allocated %)
};

Result<TimelineResult> RunTimeline(const Trace& trace, const std::string& policy,
                                   const TimelineOptions& options);

// Gives every task of an untimed trace (the embedded default) a creation time and a duration:
// Poisson arrivals over `span_s` and durations drawn from the openb default trace's duration
// quantiles (embedded).
void SynthesiseTimeline(Trace& trace, uint64_t seed, double span_s = 12.9e6);
bool HasTimeline(const Trace& trace);

// Appends `copies - 1` copies of the trace's tasks, each shifted by one arrival span (last minus
// first creation time, plus one mean inter-arrival gap), so arrivals continue long enough for a
// queue to build up: one pass of openb never loads its cluster, however much it is compressed.
void TileTimeline(Trace& trace, int copies);

// Highest compression (arrival rate) at which the policy keeps p99 queueing delay under
// `max_p99_s`, found by steps of 4x then bisection (within 2.2%). With `seeds` > 1 each rate is
// replayed with seeds base.seed, base.seed + 1, ... and judged by the median p99: near the limit
// one replay's p99 jumps by tens of seconds for a 0.001% change of rate, too much to rank
// policies by.
struct CapacityResult {
  std::string policy;
  double compression = 0;
  double arrival_rate_per_hour = 0;
  int seeds = 1;
};
// `base` gives everything but the compression.
Result<CapacityResult> FindSustainedRate(const Trace& trace, const std::string& policy,
                                         const TimelineOptions& base, double max_p99_s = 600,
                                         int seeds = 1);

}  // namespace flexai::sim
