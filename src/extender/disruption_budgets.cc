#include "extender/disruption_budgets.h"

#include "kube/operations.h"

namespace flexai::extender {
namespace {

using Json = nlohmann::json;
using partition::LabelRequirement;

std::string KeyOf(const Json& object) {
  return kube::NamespaceOf(object) + "/" + kube::NameOf(object);
}

std::optional<LabelRequirement::Op> ParseOperator(const std::string& text) {
  if (text == "In") return LabelRequirement::Op::kIn;
  if (text == "NotIn") return LabelRequirement::Op::kNotIn;
  if (text == "Exists") return LabelRequirement::Op::kExists;
  if (text == "DoesNotExist") return LabelRequirement::Op::kDoesNotExist;
  return std::nullopt;
}

// Fills `out` from a metav1.LabelSelector; false when part of it cannot be read.
bool ParseSelector(const Json& selector, partition::LabelSelector& out) {
  out.match_labels = kube::StringMapAt(selector, "matchLabels");
  auto expressions = selector.find("matchExpressions");
  if (expressions == selector.end() || expressions->is_null()) return true;
  if (!expressions->is_array()) return false;
  for (const Json& e : *expressions) {
    auto op = ParseOperator(kube::StringAt(e, "operator"));
    std::string key = kube::StringAt(e, "key");
    if (!op || key.empty()) return false;
    LabelRequirement r{key, *op, {}};
    if (auto values = e.find("values"); e.is_object() && values != e.end() && values->is_array()) {
      for (const Json& v : *values) {
        if (v.is_string()) r.values.push_back(v.get<std::string>());
      }
    }
    out.match_expressions.push_back(std::move(r));
  }
  return true;
}

}  // namespace

std::optional<partition::DisruptionBudget> ParseDisruptionBudget(const Json& object) {
  partition::DisruptionBudget b;
  b.ns = kube::NamespaceOf(object);
  b.name = kube::NameOf(object);
  if (b.name.empty()) return std::nullopt;
  Json selector = kube::ObjectAt(kube::ObjectAt(object, "spec"), "selector");
  if (!ParseSelector(selector, b.selector)) b.selector = {};
  Json status = kube::ObjectAt(object, "status");
  b.disruptions_allowed = kube::IntAt(status, "disruptionsAllowed", 0);
  for (const auto& [pod, when] : kube::StringMapAt(status, "disruptedPods")) {
    b.disrupted_pods.insert(pod);
  }
  return b;
}

void DisruptionBudgetCache::Replace(const std::vector<Json>& items) {
  std::map<std::string, partition::DisruptionBudget> fresh;
  for (const Json& item : items) {
    if (auto b = ParseDisruptionBudget(item)) fresh[KeyOf(item)] = std::move(*b);
  }
  std::lock_guard lock(mu_);
  budgets_ = std::move(fresh);
}

void DisruptionBudgetCache::Upsert(const Json& object) {
  auto b = ParseDisruptionBudget(object);
  if (!b) return;
  std::lock_guard lock(mu_);
  budgets_[KeyOf(object)] = std::move(*b);
}

void DisruptionBudgetCache::Remove(const Json& object) {
  std::lock_guard lock(mu_);
  budgets_.erase(KeyOf(object));
}

std::vector<partition::DisruptionBudget> DisruptionBudgetCache::Budgets(
    const std::string& ns) const {
  std::lock_guard lock(mu_);
  std::vector<partition::DisruptionBudget> out;
  for (const auto& [key, b] : budgets_) {
    if (ns.empty() || b.ns == ns) out.push_back(b);
  }
  return out;
}

}  // namespace flexai::extender
