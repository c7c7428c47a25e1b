// Enforces the policy's per-namespace quotas (section `quotas`) on flexai resources: filter fails
// a pod over quota on every node with the reason (evictions cannot help it), and bind checks again
// with the chips it is about to take, under a lock, so two racing binds cannot both pass.
// Usage is what the cluster cache holds: bound pods and reservations, rebuilt from the pods'
// assignment annotations after a restart.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "extender/cluster_cache.h"
#include "extender/pod_intent.h"
#include "partition/quota/quota_check.h"

namespace flexai::extender {

// One namespace's quota and what it uses now (for metrics).
struct QuotaUse {
  std::string ns;
  partition::NamespaceQuota limit;
  partition::QuotaAmounts used;
};

class QuotaGate {
 public:
  explicit QuotaGate(const ClusterCache& cache) : cache_(cache) {}

  // Nodes of `nodes` on which `pod` would pass its namespace's quota, with the reason; every node
  // when the excess does not depend on the node's chips. Empty when within quota or no quota.
  std::map<std::string, std::string> Screen(const PodIntent& pod,
                                            const std::vector<std::string>& nodes) const;

  // A bind in progress: holds the gate until destroyed. Check() tells whether the assignment about
  // to be reserved stays within the quota; usage was read when the hold began.
  class BindHold {
   public:
    Status Check(const partition::PodAssignment& assignment) const;

   private:
    friend class QuotaGate;
    std::unique_lock<std::mutex> lock_;
    std::string ns_;
    std::optional<partition::NamespaceQuota> quota_;
    partition::QuotaAmounts in_use_;
  };
  // Only binds of namespaces with a quota take the lock.
  BindHold BeginBind(const PodIntent& pod) const;

  // Every namespace with a quota and its use now, by namespace.
  std::vector<QuotaUse> Use() const;

 private:
  // What namespace `ns` holds now, leaving out pod `except_uid`.
  partition::QuotaAmounts InUse(const std::string& ns, const std::string& except_uid) const;

  const ClusterCache& cache_;
  mutable std::mutex bind_mu_;
};

}  // namespace flexai::extender
