// Filter with the queue in mind, around Scheduler::Filter: a gang member holding a reservation
// passes only its node; a pod that fits nowhere may take the chip hold (QueueState::MaybeHold);
// other pods are steered away from the held node while the hold lasts.
#pragma once

#include <string>
#include <vector>

#include "extender/gang_binder.h"
#include "extender/pod_intent.h"
#include "extender/queue_state.h"
#include "extender/scheduler.h"

namespace flexai::extender {

class QueueAwareFilter {
 public:
  QueueAwareFilter(const Scheduler& scheduler, QueueState& queue, const GangBinder& gangs)
      : scheduler_(scheduler), queue_(queue), gangs_(gangs) {}

  FilterOutcome Filter(const PodIntent& pod, const std::vector<std::string>& nodes) const;

 private:
  const Scheduler& scheduler_;
  QueueState& queue_;
  const GangBinder& gangs_;
};

}  // namespace flexai::extender
