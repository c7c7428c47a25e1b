// The cluster's PodDisruptionBudgets (policy/v1), kept current by a list+watch, in the domain
// core's terms: preemption charges evictions against them.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "partition/preemption/disruption_budget.h"

namespace flexai::extender {

// Reads one PodDisruptionBudget; nullopt when it has no name. A selector that cannot be read
// (unknown operator) is left empty, which covers no pod, as kube-scheduler treats it.
std::optional<partition::DisruptionBudget> ParseDisruptionBudget(const nlohmann::json& object);

class DisruptionBudgetCache {
 public:
  // Fed by the watcher.
  void Replace(const std::vector<nlohmann::json>& items);
  void Upsert(const nlohmann::json& object);
  void Remove(const nlohmann::json& object);
  // The budgets of namespace `ns` (all namespaces when empty).
  std::vector<partition::DisruptionBudget> Budgets(const std::string& ns = "") const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, partition::DisruptionBudget> budgets_;  // by "ns/name"
};

}  // namespace flexai::extender
