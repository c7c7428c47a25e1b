// Summaries of many runs (policy x seed): the result table printed on stdout, the JSON report and
// the SVG plot of unallocated GPU against arrived workload.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "sim/experiment.h"

namespace flexai::sim {

struct PolicySummary {
  std::string policy;
  int runs = 0;
  double unallocated_median = 0, unallocated_p25 = 0, unallocated_p75 = 0;
  double frag_at_75_median = 0;
  double served_demand_median = 0;  // % of capacity
  double tasks_placed_median = 0;
  double decision_us_median = 0;
};

struct ClusterInfo {
  std::string source;
  int64_t nodes = 0;
  int64_t gpus = 0;
  double sharing_bound = 1;  // exclusive whole-GPU consumption / requested GPU demand
};

// Median of `values` (mean of the two middle ones for an even count), and linear percentiles.
double Percentile(std::vector<double> values, double p);

std::vector<PolicySummary> Summarise(const std::vector<RunResult>& runs);
void PrintTable(std::ostream& out, const ClusterInfo& cluster,
                const std::vector<PolicySummary>& summaries);
std::string ReportJson(const ClusterInfo& cluster, const std::vector<RunResult>& runs,
                       const std::vector<PolicySummary>& summaries);
// Unallocated GPU % against arrived workload, median line and 25-75% band per policy.
std::string PlotSvg(const std::vector<RunResult>& runs);

// Whole-GPU demand of the trace's tasks (every GPU task rounded up to whole GPUs) divided by the
// requested demand: the most pure sharing can gain over exclusive allocation.
double SharingBound(const Trace& trace);

}  // namespace flexai::sim
