#include "partition/preemption/disruption_budget.h"

#include <algorithm>

namespace flexai::partition {
namespace {

bool Holds(const LabelRequirement& r, const std::map<std::string, std::string>& labels) {
  auto it = labels.find(r.key);
  bool listed = it != labels.end() &&
                std::find(r.values.begin(), r.values.end(), it->second) != r.values.end();
  switch (r.op) {
    case LabelRequirement::Op::kIn:
      return listed;
    case LabelRequirement::Op::kNotIn:
      return !listed;
    case LabelRequirement::Op::kExists:
      return it != labels.end();
    case LabelRequirement::Op::kDoesNotExist:
      return it == labels.end();
  }
  return false;
}

}  // namespace

bool LabelSelector::Matches(const std::map<std::string, std::string>& labels) const {
  for (const auto& [key, value] : match_labels) {
    auto it = labels.find(key);
    if (it == labels.end() || it->second != value) return false;
  }
  return std::all_of(match_expressions.begin(), match_expressions.end(),
                     [&](const LabelRequirement& r) { return Holds(r, labels); });
}

std::vector<size_t> BudgetsCovering(const std::vector<DisruptionBudget>& budgets,
                                    const std::string& ns, const std::string& name,
                                    const std::map<std::string, std::string>& labels) {
  std::vector<size_t> out;
  if (labels.empty()) return out;  // kube-scheduler: a pod without labels matches no budget
  for (size_t i = 0; i < budgets.size(); ++i) {
    const DisruptionBudget& b = budgets[i];
    if (b.ns != ns || b.selector.empty() || b.disrupted_pods.count(name)) continue;
    if (b.selector.Matches(labels)) out.push_back(i);
  }
  return out;
}

}  // namespace flexai::partition
