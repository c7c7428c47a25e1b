// Metrics of preemption and quotas (GET /metrics, on the extender's registry): victims named by
// the preempt verb, nodes kept or dropped, and each quota's limit and use per namespace and
// resource.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "extender/quota_gate.h"

namespace flexai::extender {

class PreemptionQuotaMetrics {
 public:
  explicit PreemptionQuotaMetrics(prometheus::Registry& registry);
  // One preempt answer: nodes kept (with victims) and dropped, victims named over all nodes.
  void CountPreemption(size_t nodes_kept, size_t nodes_dropped, int64_t victims_named);
  // Replaces the quota gauges (namespaces no longer in the policy disappear).
  void SetQuotaUse(const std::vector<QuotaUse>& use);

 private:
  prometheus::Family<prometheus::Counter>& preempt_nodes_;
  prometheus::Counter& victims_named_;
  prometheus::Family<prometheus::Gauge>& quota_limit_;
  prometheus::Family<prometheus::Gauge>& quota_used_;
  std::mutex mu_;
  std::vector<prometheus::Gauge*> used_gauges_, limit_gauges_;
};

}  // namespace flexai::extender
