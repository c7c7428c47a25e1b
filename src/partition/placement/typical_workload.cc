#include "partition/placement/typical_workload.h"

#include <algorithm>
#include <map>
#include <tuple>

namespace flexai::partition {

TypicalWorkload BuildTypicalWorkload(const std::vector<TaskShape>& observed, double coverage) {
  using Key = std::tuple<int64_t, int, int, std::string>;
  std::map<Key, int64_t> counts;
  std::map<Key, std::vector<int64_t>> memories;
  for (const auto& s : observed) {
    Key key{s.cpu_milli, s.gpu_milli, s.num_gpu, s.gpu_spec};
    ++counts[key];
    memories[key].push_back(s.memory_mib);
  }
  std::vector<std::pair<Key, int64_t>> sorted(counts.begin(), counts.end());
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    if (a.second != b.second) return a.second > b.second;
    return a.first > b.first;
  });
  const double threshold = coverage * static_cast<double>(observed.size());
  int64_t cumulative = 0;
  size_t keep = 0;
  while (keep < sorted.size() && static_cast<double>(cumulative) < threshold) {
    cumulative += sorted[keep].second;
    ++keep;
  }
  TypicalWorkload workload;
  for (size_t i = 0; i < keep; ++i) {
    const auto& [cpu, milli, num, spec] = sorted[i].first;
    auto& memory = memories[sorted[i].first];
    auto median = memory.begin() + static_cast<std::ptrdiff_t>(memory.size() / 2);
    std::nth_element(memory.begin(), median, memory.end());
    workload.tasks.push_back(
        {TaskShape{cpu, milli, num, spec, *median},
         static_cast<double>(sorted[i].second) / static_cast<double>(cumulative)});
  }
  return workload;
}

bool ModelAllowed(const std::string& gpu_spec, const std::string& model) {
  if (gpu_spec.empty()) return true;
  bool any_token = false;
  size_t start = 0;
  while (start <= gpu_spec.size()) {
    size_t bar = gpu_spec.find('|', start);
    size_t end = bar == std::string::npos ? gpu_spec.size() : bar;
    if (end > start) {
      any_token = true;
      if (gpu_spec.compare(start, end - start, model) == 0) return true;
    }
    if (bar == std::string::npos) break;
    start = bar + 1;
  }
  return !any_token;
}

}  // namespace flexai::partition
