// PodDisruptionBudgets as preemption needs them: which pods a budget covers (its label selector,
// Kubernetes semantics) and how many more evictions it allows.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace flexai::partition {

// One matchExpressions entry: In / NotIn take `values`; Exists / DoesNotExist take none.
struct LabelRequirement {
  enum class Op { kIn, kNotIn, kExists, kDoesNotExist };
  std::string key;
  Op op = Op::kIn;
  std::vector<std::string> values;
};

// metav1.LabelSelector: every matchLabels pair and every requirement must hold.
struct LabelSelector {
  std::map<std::string, std::string> match_labels;
  std::vector<LabelRequirement> match_expressions;
  bool empty() const { return match_labels.empty() && match_expressions.empty(); }
  bool Matches(const std::map<std::string, std::string>& labels) const;
};

struct DisruptionBudget {
  std::string ns, name;
  LabelSelector selector;  // an empty selector covers no pod (as kube-scheduler reads it)
  int64_t disruptions_allowed = 0;
  std::set<std::string> disrupted_pods;  // names already being evicted: not charged again
};

// Indexes of `budgets` that cover pod `ns`/`name` with `labels` (same namespace, selector
// matches, pod not already listed as disrupted).
std::vector<size_t> BudgetsCovering(const std::vector<DisruptionBudget>& budgets,
                                    const std::string& ns, const std::string& name,
                                    const std::map<std::string, std::string>& labels);

}  // namespace flexai::partition
