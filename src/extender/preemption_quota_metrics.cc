#include "extender/preemption_quota_metrics.h"

#include <optional>

namespace flexai::extender {

PreemptionQuotaMetrics::PreemptionQuotaMetrics(prometheus::Registry& registry)
    : preempt_nodes_(prometheus::BuildCounter()
                         .Name("flexai_extender_preempt_nodes_total")
                         .Help("Nodes proposed to the preempt verb, by result (kept with victims, "
                               "or dropped: no eviction makes room)")
                         .Register(registry)),
      victims_named_(prometheus::BuildCounter()
                         .Name("flexai_extender_preempt_victims_total")
                         .Help("Victims named by the preempt verb, over every node it kept")
                         .Register(registry)
                         .Add({})),
      quota_limit_(prometheus::BuildGauge()
                       .Name("flexai_quota_limit")
                       .Help("Namespace quota on flexai resources, by resource (chips, "
                             "memory_mib, cores_percent); absent when unlimited")
                       .Register(registry)),
      quota_used_(prometheus::BuildGauge()
                      .Name("flexai_quota_used")
                      .Help("What a namespace with a quota holds (bound pods and reservations)")
                      .Register(registry)) {}

void PreemptionQuotaMetrics::CountPreemption(size_t nodes_kept, size_t nodes_dropped,
                                             int64_t victims_named) {
  preempt_nodes_.Add({{"result", "kept"}}).Increment(static_cast<double>(nodes_kept));
  preempt_nodes_.Add({{"result", "dropped"}}).Increment(static_cast<double>(nodes_dropped));
  victims_named_.Increment(static_cast<double>(victims_named));
}

void PreemptionQuotaMetrics::SetQuotaUse(const std::vector<QuotaUse>& use) {
  std::lock_guard lock(mu_);
  // Rebuilt on every refresh, so a namespace or limit gone from the policy disappears.
  for (prometheus::Gauge* g : used_gauges_) quota_used_.Remove(g);
  for (prometheus::Gauge* g : limit_gauges_) quota_limit_.Remove(g);
  used_gauges_.clear();
  limit_gauges_.clear();
  for (const QuotaUse& q : use) {
    struct Row {
      const char* resource;
      std::optional<int64_t> limit;
      int64_t used;
    };
    for (const Row& row : {Row{"chips", q.limit.chips, q.used.chips},
                           Row{"memory_mib", q.limit.memory_mib, q.used.memory_mib},
                           Row{"cores_percent", q.limit.cores, q.used.cores}}) {
      std::map<std::string, std::string> labels = {{"namespace", q.ns}, {"resource", row.resource}};
      prometheus::Gauge& used = quota_used_.Add(labels);
      used.Set(static_cast<double>(row.used));
      used_gauges_.push_back(&used);
      if (row.limit) {
        prometheus::Gauge& limit = quota_limit_.Add(labels);
        limit.Set(static_cast<double>(*row.limit));
        limit_gauges_.push_back(&limit);
      }
    }
  }
}

}  // namespace flexai::extender
