// Output of the timeline mode: the table, the capacity-test table, JSON and the allocation plot.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "sim/report.h"
#include "sim/timeline.h"

namespace flexai::sim {

void PrintTimelineTable(std::ostream& out, const ClusterInfo& cluster,
                        const std::vector<TimelineResult>& results);
void PrintCapacityTable(std::ostream& out, const ClusterInfo& cluster,
                        const std::vector<CapacityResult>& results);
std::string TimelineJson(const ClusterInfo& cluster, const std::vector<TimelineResult>& results,
                         const std::vector<CapacityResult>& capacity);
// Allocated GPU % over time, one line per policy.
std::string TimelinePlotSvg(const std::vector<TimelineResult>& results);

}  // namespace flexai::sim
