// The pods the harness submits: how many chips each container asks, how much of each, and how long
// the pod runs once admitted. Turned into real Pod objects for the fake apiserver.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace flexai::e2e {

struct ContainerAsk {
  int gpus = 1;
  int64_t memory_mib = 0;  // per chip; 0 with cores 0 = whole chips
  int cores = 0;           // percent per chip
  bool whole() const { return memory_mib == 0 && cores == 0; }
};

struct PodPlan {
  std::string name;
  std::vector<ContainerAsk> containers;
  std::chrono::milliseconds run_for{1000};
  std::map<std::string, std::string> annotations;  // e.g. flexai.io/use-uuids
};

// The Pod object: schedulerName flexai-scheduler, one container per ask (c0, c1, ...), flexai
// quantities as Kubernetes quantity strings.
nlohmann::json PodObject(const PodPlan& plan, const std::string& ns = "default");

// A mix of shapes every chip of `chip_memory_mib` can hold: mostly one-chip slices, some whole
// chips, some two-chip slices and some two-container pods. Deterministic for a seed.
std::vector<PodPlan> RandomMix(int count, uint32_t seed, int64_t chip_memory_mib,
                               std::chrono::milliseconds min_run, std::chrono::milliseconds max_run,
                               const std::string& prefix = "pod");

}  // namespace flexai::e2e
