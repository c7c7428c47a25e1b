// The extender's preempt verb: for each node kube-scheduler proposes, the fewest, lowest-priority
// flexai pods whose slices make room for the preemptor, sparing pods that PodDisruptionBudgets
// protect where another choice exists (partition::SelectVictims). kube-scheduler's own victims
// that hold no flexai slices (freeing CPU or memory) are kept; nodes where no eviction makes room
// are dropped from the answer.
#pragma once

#include <string_view>

#include "extender/cluster_cache.h"
#include "extender/disruption_budgets.h"
#include "extender/extender_api.h"
#include "extender/preemption_quota_metrics.h"
#include "extender/queue_state.h"
#include "extender/scheduler.h"
#include "partition/preemption/victim_selection.h"

namespace flexai::extender {

class Preemptor {
 public:
  Preemptor(const ClusterCache& cache, const Scheduler& scheduler,
            const DisruptionBudgetCache& budgets, PreemptionQuotaMetrics* metrics = nullptr,
            partition::VictimSearchLimits limits = {});

  // ExtenderPreemptionArgs in, ExtenderPreemptionResult out; 400 on a malformed body.
  HttpReply Handle(std::string_view body) const;
  // Gang reservations and the chip hold: a member holding a reservation gets no nodes (evicting
  // cannot move it), other pods no victims on the held node.
  void SetQueue(const QueueState* queue) { queue_ = queue; }

 private:
  const ClusterCache& cache_;
  const Scheduler& scheduler_;
  const DisruptionBudgetCache& budgets_;
  PreemptionQuotaMetrics* metrics_;
  const QueueState* queue_ = nullptr;
  partition::VictimSearchLimits limits_;
};

}  // namespace flexai::extender
