#include "sim/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

namespace flexai::sim {

double Percentile(std::vector<double> values, double p) {
  values.erase(std::remove_if(values.begin(), values.end(), [](double v) { return std::isnan(v); }),
               values.end());
  if (values.empty()) return std::nan("");
  std::sort(values.begin(), values.end());
  double pos = p / 100.0 * static_cast<double>(values.size() - 1);
  auto lo = static_cast<size_t>(std::floor(pos));
  auto hi = static_cast<size_t>(std::ceil(pos));
  return values[lo] + (values[hi] - values[lo]) * (pos - static_cast<double>(lo));
}

std::vector<PolicySummary> Summarise(const std::vector<RunResult>& runs) {
  std::vector<std::string> order;
  std::map<std::string, std::vector<const RunResult*>> by_policy;
  for (const auto& r : runs) {
    if (!by_policy.count(r.policy)) order.push_back(r.policy);
    by_policy[r.policy].push_back(&r);
  }
  std::vector<PolicySummary> out;
  for (const auto& name : order) {
    const auto& rs = by_policy[name];
    auto collect = [&](auto field) {
      std::vector<double> v;
      for (const auto* r : rs) v.push_back(static_cast<double>(r->*field));
      return v;
    };
    PolicySummary s;
    s.policy = name;
    s.runs = static_cast<int>(rs.size());
    auto unalloc = collect(&RunResult::unallocated_pct_at_100);
    s.unallocated_median = Percentile(unalloc, 50);
    s.unallocated_p25 = Percentile(unalloc, 25);
    s.unallocated_p75 = Percentile(unalloc, 75);
    s.frag_at_75_median = Percentile(collect(&RunResult::frag_pct_at_75), 50);
    s.served_demand_median = Percentile(collect(&RunResult::served_gpu_demand_pct), 50);
    s.tasks_placed_median = Percentile(collect(&RunResult::tasks_placed), 50);
    s.decision_us_median = Percentile(collect(&RunResult::median_decision_us), 50);
    out.push_back(s);
  }
  return out;
}

void PrintTable(std::ostream& out, const ClusterInfo& cluster,
                const std::vector<PolicySummary>& summaries) {
  const PolicySummary* base = nullptr;
  for (const auto& s : summaries) {
    if (s.policy == "exclusive") base = &s;
  }
  char line[256];
  out << "flexai-sim: " << cluster.source << ", " << cluster.nodes << " nodes, " << cluster.gpus
      << " GPUs; sharing can gain at most " << std::fixed;
  std::snprintf(line, sizeof line, "%.2fx", cluster.sharing_bound);
  out << line << " over exclusive\n\n";
  std::snprintf(line, sizeof line, "%-11s %5s %22s %10s %11s %9s %11s %9s %12s\n", "policy",
                "seeds", "unalloc%@100 (25-75%)", "frag%@75", "served%cap", "vs excl", "tasks",
                "vs excl", "decision us");
  out << line;
  for (const auto& s : summaries) {
    char band[64];
    std::snprintf(band, sizeof band, "%.2f (%.2f-%.2f)", s.unallocated_median, s.unallocated_p25,
                  s.unallocated_p75);
    std::string served_ratio = "-", tasks_ratio = "-";
    if (base && base->served_demand_median > 0) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.3fx", s.served_demand_median / base->served_demand_median);
      served_ratio = buf;
      std::snprintf(buf, sizeof buf, "%.3fx", s.tasks_placed_median / base->tasks_placed_median);
      tasks_ratio = buf;
    }
    std::snprintf(line, sizeof line, "%-11s %5d %22s %10.2f %11.2f %9s %11.0f %9s %12.1f\n",
                  s.policy.c_str(), s.runs, band, s.frag_at_75_median, s.served_demand_median,
                  served_ratio.c_str(), s.tasks_placed_median, tasks_ratio.c_str(),
                  s.decision_us_median);
    out << line;
  }
  out << "\nunalloc%@100: GPU capacity left unallocated when the arrived GPU request reaches 100% "
         "of\n"
         "capacity (lower is better); frag%@75: fragmented GPU capacity (FGD measure) at 75% "
         "arrived;\n"
         "served%cap: requested GPU share of placed tasks at the end, over capacity.\n";
}

std::string ReportJson(const ClusterInfo& cluster, const std::vector<RunResult>& runs,
                       const std::vector<PolicySummary>& summaries) {
  using nlohmann::json;
  auto num = [](double v) { return std::isnan(v) ? json(nullptr) : json(v); };
  json j;
  j["cluster"] = {{"nodes", cluster.nodes},
                  {"gpus", cluster.gpus},
                  {"source", cluster.source},
                  {"sharing_bound", cluster.sharing_bound}};
  j["results"] = json::array();
  for (const auto& r : runs) {
    json points = json::array();
    for (const auto& p : r.points) {
      points.push_back({{"arrived_pct", p.arrived_pct},
                        {"allocated_pct", num(p.allocated_pct)},
                        {"frag_pct", num(p.frag_pct)}});
    }
    j["results"].push_back({{"policy", r.policy},
                            {"seed", r.seed},
                            {"unallocated_pct_at_100", num(r.unallocated_pct_at_100)},
                            {"served_gpu_demand_pct", r.served_gpu_demand_pct},
                            {"frag_pct_at_75", num(r.frag_pct_at_75)},
                            {"tasks_arrived", r.tasks_arrived},
                            {"tasks_placed", r.tasks_placed},
                            {"median_decision_us", r.median_decision_us},
                            {"points", points}});
  }
  j["summary"] = json::array();
  for (const auto& s : summaries) {
    j["summary"].push_back({{"policy", s.policy},
                            {"runs", s.runs},
                            {"unallocated_pct_at_100_median", num(s.unallocated_median)},
                            {"unallocated_pct_at_100_p25", num(s.unallocated_p25)},
                            {"unallocated_pct_at_100_p75", num(s.unallocated_p75)},
                            {"frag_pct_at_75_median", num(s.frag_at_75_median)},
                            {"served_gpu_demand_pct_median", num(s.served_demand_median)},
                            {"tasks_placed_median", num(s.tasks_placed_median)}});
  }
  return j.dump(1);
}

double SharingBound(const Trace& trace) {
  int64_t requested = 0, whole = 0;
  for (const auto& t : trace.tasks) {
    requested += t.gpu_demand_milli();
    whole += static_cast<int64_t>(t.num_gpu) * 1000;
  }
  return requested ? static_cast<double>(whole) / static_cast<double>(requested) : 1.0;
}

}  // namespace flexai::sim
