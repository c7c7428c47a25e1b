// The /bind verb: chooses the exact chips on the node kube-scheduler picked, records them on the
// pod (flexai.io/assignment, bind-phase=allocating, bind-time; a conditional merge patch), then
// creates the pods/binding. Any failure takes the reservation back and leaves an Event.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "extender/cluster_cache.h"
#include "extender/extender_api.h"
#include "extender/quota_gate.h"
#include "extender/scheduler.h"
#include "kube/client.h"

namespace flexai::extender {

class GangBinder;

class Binder {
 public:
  // `allocating_window`: see AllocationGuard (0 disables the guard).
  Binder(kube::KubeClient& client, ClusterCache& cache, const Scheduler& scheduler,
         std::chrono::seconds allocating_window = std::chrono::seconds(30));
  // "" on success, else the error for ExtenderBindingResult.Error.
  std::string Bind(const BindArgs& args);
  // Gang members (flexai.io/gang) are bound all-or-nothing by `gangs`.
  void SetGangBinder(GangBinder* gangs) { gangs_ = gangs; }
  // Namespace quotas are checked again with the chips chosen, atomically with the reservation.
  void SetQuotaGate(const QuotaGate* quota) { quota_ = quota; }

 private:
  std::string Fail(const nlohmann::json& pod, const std::string& message);

  kube::KubeClient& client_;
  ClusterCache& cache_;
  const Scheduler& scheduler_;
  std::chrono::seconds allocating_window_;
  GangBinder* gangs_ = nullptr;
  const QuotaGate* quota_ = nullptr;
};

}  // namespace flexai::extender
