#include "harness/workload.h"

namespace flexai::e2e {

nlohmann::json PodObject(const PodPlan& plan, const std::string& ns) {
  nlohmann::json containers = nlohmann::json::array();
  for (size_t i = 0; i < plan.containers.size(); ++i) {
    const ContainerAsk& a = plan.containers[i];
    nlohmann::json limits = {{"flexai.io/gpu", std::to_string(a.gpus)}};
    if (a.memory_mib > 0) limits["flexai.io/gpu-memory"] = std::to_string(a.memory_mib);
    if (a.cores > 0) limits["flexai.io/gpu-cores"] = std::to_string(a.cores);
    containers.push_back(
        {{"name", "c" + std::to_string(i)},
         {"image", "busybox"},
         {"resources",
          {{"requests", {{"cpu", "100m"}, {"memory", "128Mi"}}}, {"limits", limits}}}});
  }
  nlohmann::json metadata = {{"name", plan.name}, {"namespace", ns}, {"labels", {{"app", "e2e"}}}};
  if (!plan.annotations.empty()) metadata["annotations"] = plan.annotations;
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", metadata},
          {"spec", {{"schedulerName", "flexai-scheduler"}, {"containers", containers}}},
          {"status", {{"phase", "Pending"}}}};
}

std::vector<PodPlan> RandomMix(int count, uint32_t seed, int64_t chip_memory_mib,
                               std::chrono::milliseconds min_run, std::chrono::milliseconds max_run,
                               const std::string& prefix) {
  std::mt19937 rng(seed);
  auto uniform = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  auto slice = [&](int gpus) {
    ContainerAsk a;
    a.gpus = gpus;
    a.memory_mib = uniform(chip_memory_mib / 16, chip_memory_mib / 2) / 256 * 256;
    a.cores = static_cast<int>(uniform(1, 10)) * 5;
    return a;
  };
  std::vector<PodPlan> plans;
  for (int i = 0; i < count; ++i) {
    PodPlan p;
    p.name = prefix + "-" + std::to_string(i);
    int shape = static_cast<int>(uniform(0, 99));
    if (shape < 60) {
      p.containers = {slice(1)};
    } else if (shape < 75) {
      p.containers = {ContainerAsk{1, 0, 0}};
    } else if (shape < 85) {
      p.containers = {slice(2)};
    } else if (shape < 92) {
      p.containers = {slice(1), slice(1)};
    } else {
      p.containers = {ContainerAsk{2, 0, 0}};
    }
    p.run_for = std::chrono::milliseconds(uniform(min_run.count(), max_run.count()));
    plans.push_back(std::move(p));
  }
  return plans;
}

}  // namespace flexai::e2e
