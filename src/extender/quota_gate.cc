#include "extender/quota_gate.h"

namespace flexai::extender {
namespace {

std::optional<partition::NamespaceQuota> QuotaOf(const partition::SlicePolicy& policy,
                                                 const std::string& ns) {
  auto it = policy.quotas.find(ns);
  if (it == policy.quotas.end()) return std::nullopt;
  return it->second;
}

}  // namespace

partition::QuotaAmounts QuotaGate::InUse(const std::string& ns,
                                         const std::string& except_uid) const {
  partition::QuotaAmounts used;
  cache_.ReadPods([&](const auto&, const ClusterCache::PodMap& pods) {
    for (const auto& [uid, pod] : pods) {
      if (pod.ns == ns && uid != except_uid) used += partition::AmountsOf(pod.assignment);
    }
  });
  return used;
}

std::map<std::string, std::string> QuotaGate::Screen(const PodIntent& pod,
                                                     const std::vector<std::string>& nodes) const {
  std::map<std::string, std::string> refused;
  if (!pod.wants_chips || !pod.error.empty()) return refused;
  auto quota = QuotaOf(*cache_.policy(), pod.ns);
  if (!quota) return refused;
  const partition::QuotaAmounts in_use = InUse(pod.ns, pod.uid);
  Status everywhere =
      partition::CheckQuota(pod.ns, *quota, in_use, partition::MinimumAsk(pod.request));
  if (!everywhere.ok()) {
    for (const auto& n : nodes) refused[n] = everywhere.message();
    return refused;
  }
  if (!quota->memory_mib || !partition::MemoryDependsOnChip(pod.request)) return refused;
  // Memory given as whole chips, a percentage or cores alone: its size depends on the chips.
  cache_.Read([&](const std::unordered_map<std::string, CachedNode>& cached) {
    for (const auto& n : nodes) {
      auto it = cached.find(n);
      if (it == cached.end() || !it->second.has_inventory) continue;
      Status s = partition::CheckQuota(pod.ns, *quota, in_use,
                                       partition::MinimumAsk(pod.request, &it->second.state));
      if (!s.ok()) refused[n] = "node " + n + ": " + s.message();
    }
  });
  return refused;
}

QuotaGate::BindHold QuotaGate::BeginBind(const PodIntent& pod) const {
  BindHold hold;
  hold.ns_ = pod.ns;
  hold.quota_ = QuotaOf(*cache_.policy(), pod.ns);
  if (!hold.quota_) return hold;
  hold.lock_ = std::unique_lock(bind_mu_);
  hold.in_use_ = InUse(pod.ns, pod.uid);
  return hold;
}

Status QuotaGate::BindHold::Check(const partition::PodAssignment& assignment) const {
  if (!quota_) return Status::Ok();
  return partition::CheckQuota(ns_, *quota_, in_use_, partition::AmountsOf(assignment));
}

std::vector<QuotaUse> QuotaGate::Use() const {
  auto policy = cache_.policy();
  std::map<std::string, partition::QuotaAmounts> used;
  cache_.ReadPods([&](const auto&, const ClusterCache::PodMap& pods) {
    for (const auto& [uid, pod] : pods) {
      if (policy->quotas.count(pod.ns)) used[pod.ns] += partition::AmountsOf(pod.assignment);
    }
  });
  std::vector<QuotaUse> out;
  for (const auto& [ns, limit] : policy->quotas) out.push_back({ns, limit, used[ns]});
  return out;
}

}  // namespace flexai::extender
