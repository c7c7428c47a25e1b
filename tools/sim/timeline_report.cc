#include "sim/timeline_report.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace flexai::sim {

void PrintTimelineTable(std::ostream& out, const ClusterInfo& cluster,
                        const std::vector<TimelineResult>& results) {
  char line[256];
  std::snprintf(line, sizeof line,
                "flexai-sim timeline: %s, %lld nodes, %lld GPUs, arrivals compressed %.1fx\n\n",
                cluster.source.c_str(), static_cast<long long>(cluster.nodes),
                static_cast<long long>(cluster.gpus),
                results.empty() ? 1.0 : results.front().compression);
  out << line;
  std::snprintf(line, sizeof line, "%-11s %10s %12s %12s %12s %10s %8s   %s\n", "policy",
                "alloc%avg", "GPU-hours", "delay p50 s", "delay p99 s", ">10min %", "waiting",
                "peak queue @ GPU/CPU/mem %");
  out << line;
  for (const auto& r : results) {
    std::snprintf(line, sizeof line, "%-11s %10.2f %12.0f %12.0f %12.0f %10.2f %8lld   ",
                  r.policy.c_str(), r.time_avg_allocated_pct, r.served_gpu_hours, r.delay_p50_s,
                  r.delay_p99_s, r.waited_over_10min_pct, static_cast<long long>(r.never_started));
    out << line;
    if (r.peak_queue == 0) {
      out << "     - (no queue)\n";
      continue;
    }
    std::snprintf(line, sizeof line, "%6lld @ %.1f/%.1f/%.1f\n",
                  static_cast<long long>(r.peak_queue), r.allocated_pct_at_peak_queue,
                  r.cpu_pct_at_peak_queue, r.memory_pct_at_peak_queue);
    out << line;
  }
  bool any_class = false;
  for (const auto& r : results) any_class |= r.by_class.size() > 1;
  if (any_class) {
    out << "\nby kind of task: p99 delay s / waited >10 min %\n";
    std::snprintf(line, sizeof line, "%-11s", "policy");
    out << line;
    for (const auto& c : results.front().by_class) {
      std::snprintf(line, sizeof line, " %20s",
                    (c.name + " (" + std::to_string(c.tasks) + ")").c_str());
      out << line;
    }
    out << "\n";
    for (const auto& r : results) {
      std::snprintf(line, sizeof line, "%-11s", r.policy.c_str());
      out << line;
      for (const auto& c : r.by_class) {
        std::snprintf(line, sizeof line, " %12.0f / %5.2f", c.delay_p99_s, c.waited_over_10min_pct);
        out << line;
      }
      out << "\n";
    }
  }
  out << "\nalloc%avg: time-averaged allocated GPU capacity over the arrival window; delay: time "
         "from arrival to start\n(tasks still waiting at the end count until then); waiting: "
         "tasks that never started;\npeak queue: the longest queue, and the GPU, CPU and memory "
         "capacity allocated at that moment.\n";
}

void PrintCapacityTable(std::ostream& out, const ClusterInfo& cluster,
                        const std::vector<CapacityResult>& results) {
  double base = 0;
  for (const auto& r : results) {
    if (r.policy == "exclusive") base = r.arrival_rate_per_hour;
  }
  char line[256];
  const double goal = 1 + 0.9 * (cluster.sharing_bound - 1);
  std::snprintf(
      line, sizeof line,
      "\ncapacity test: highest arrival rate with p99 queueing delay under 10 minutes%s\n"
      "(goal for sharing: %.3fx exclusive = 1 + 0.9 x (bound %.3f - 1))\n\n",
      results.empty() || results.front().seeds <= 1
          ? ""
          : (" (median over " + std::to_string(results.front().seeds) + " seeds)").c_str(),
      goal, cluster.sharing_bound);
  out << line;
  std::snprintf(line, sizeof line, "%-11s %12s %14s %10s\n", "policy", "compression", "tasks/hour",
                "vs excl");
  out << line;
  for (const auto& r : results) {
    std::string ratio = "-";
    if (base > 0) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.3fx", r.arrival_rate_per_hour / base);
      ratio = buf;
    }
    std::snprintf(line, sizeof line, "%-11s %12.2f %14.1f %10s\n", r.policy.c_str(), r.compression,
                  r.arrival_rate_per_hour, ratio.c_str());
    out << line;
  }
}

std::string TimelineJson(const ClusterInfo& cluster, const std::vector<TimelineResult>& results,
                         const std::vector<CapacityResult>& capacity) {
  using nlohmann::json;
  json j;
  j["cluster"] = {{"nodes", cluster.nodes},
                  {"gpus", cluster.gpus},
                  {"source", cluster.source},
                  {"sharing_bound", cluster.sharing_bound}};
  j["timeline"] = json::array();
  for (const auto& r : results) {
    json by_class = json::array();
    for (const auto& c : r.by_class) {
      by_class.push_back({{"class", c.name},
                          {"tasks", c.tasks},
                          {"delay_p99_s", c.delay_p99_s},
                          {"waited_over_10min_pct", c.waited_over_10min_pct}});
    }
    json curve = json::array();
    for (const auto& [h, a] : r.allocation_curve)
      curve.push_back({{"hours", h}, {"allocated_pct", a}});
    j["timeline"].push_back({{"policy", r.policy},
                             {"compression", r.compression},
                             {"time_avg_allocated_pct", r.time_avg_allocated_pct},
                             {"served_gpu_hours", r.served_gpu_hours},
                             {"delay_p50_s", r.delay_p50_s},
                             {"delay_p99_s", r.delay_p99_s},
                             {"waited_over_10min_pct", r.waited_over_10min_pct},
                             {"never_started", r.never_started},
                             {"by_class", by_class},
                             {"peak_queue", r.peak_queue},
                             {"allocated_pct_at_peak_queue", r.allocated_pct_at_peak_queue},
                             {"cpu_pct_at_peak_queue", r.cpu_pct_at_peak_queue},
                             {"memory_pct_at_peak_queue", r.memory_pct_at_peak_queue},
                             {"allocation", curve}});
  }
  j["capacity"] = json::array();
  for (const auto& c : capacity) {
    j["capacity"].push_back({{"policy", c.policy},
                             {"compression", c.compression},
                             {"arrival_rate_per_hour", c.arrival_rate_per_hour},
                             {"seeds", c.seeds}});
  }
  return j.dump(1);
}

std::string TimelinePlotSvg(const std::vector<TimelineResult>& results) {
  constexpr double w = 860, h = 460, left = 70, right = 160, top = 40, bottom = 55;
  static const char* colors[] = {"#7f7f7f", "#d62728", "#1f77b4", "#2ca02c",
                                 "#9467bd", "#ff7f0e", "#8c564b", "#e377c2"};
  double x_max = 1;
  for (const auto& r : results) {
    if (!r.allocation_curve.empty()) x_max = std::max(x_max, r.allocation_curve.back().first);
  }
  const double pw = w - left - right, ph = h - top - bottom;
  auto px = [&](double x) { return left + x / x_max * pw; };
  auto py = [&](double y) { return top + ph - y / 100 * ph; };
  char buf[256];
  std::string svg;
  std::snprintf(
      buf, sizeof buf,
      "<svg xmlns='http://www.w3.org/2000/svg' width='%.0f' height='%.0f' "
      "font-family='sans-serif' font-size='12'>\n<rect width='100%%' height='100%%' "
      "fill='white'/>\n<text x='%.0f' y='22' font-size='15'>Allocated GPU over time</text>\n",
      w, h, w / 2 - 80);
  svg += buf;
  for (int y = 0; y <= 100; y += 20) {
    std::snprintf(buf, sizeof buf,
                  "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#eee'/><text x='%.1f' "
                  "y='%.1f'>%d</text>\n",
                  left, py(y), left + pw, py(y), left - 28, py(y) + 4, y);
    svg += buf;
  }
  for (int i = 0; i <= 5; ++i) {
    double x = x_max * i / 5;
    std::snprintf(buf, sizeof buf, "<text x='%.1f' y='%.1f'>%.0f</text>\n", px(x) - 10, py(0) + 18,
                  x);
    svg += buf;
  }
  std::snprintf(buf, sizeof buf,
                "<text x='%.1f' y='%.1f'>time (hours)</text><text transform='translate(20,%.1f) "
                "rotate(-90)'>allocated GPU (%% of capacity)</text>\n",
                left + pw / 2 - 30, h - 12, top + ph / 2 + 60);
  svg += buf;
  for (size_t i = 0; i < results.size(); ++i) {
    const char* color = colors[i % (sizeof colors / sizeof *colors)];
    svg += std::string("<polyline fill='none' stroke-width='1.5' stroke='") + color + "' points='";
    for (const auto& [x, y] : results[i].allocation_curve) {
      std::snprintf(buf, sizeof buf, "%.1f,%.1f ", px(x), py(std::min(100.0, y)));
      svg += buf;
    }
    svg += "'/>\n";
    std::snprintf(buf, sizeof buf,
                  "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='%s' stroke-width='3'/>"
                  "<text x='%.1f' y='%.1f'>%s %.1f%%</text>\n",
                  w - right + 12, top + 20.0 * static_cast<double>(i) + 10, w - right + 36,
                  top + 20.0 * static_cast<double>(i) + 10, color, w - right + 42,
                  top + 20.0 * static_cast<double>(i) + 14, results[i].policy.c_str(),
                  results[i].time_avg_allocated_pct);
    svg += buf;
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace flexai::sim
