// /bind for gang members (docs/hi-scheduler.md, "Gangs"): all or nothing. A member's bind
// reserves its chips in the cache and on the pod (assignment + bind-phase=gang-reserved, so a
// restart keeps it) but creates no pods/binding; kube-scheduler gets "waiting" and retries. The
// bind that brings the last member binds every member. A gang still waiting after its timeout is
// released (annotations cleared, Event), so nothing is held forever; a complete gang is never
// released: the sweeper retries binding members whose binding failed.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "extender/cluster_cache.h"
#include "extender/extender_api.h"
#include "extender/pod_intent.h"
#include "extender/queue_state.h"
#include "extender/quota_gate.h"
#include "extender/scheduler.h"
#include "kube/client.h"

namespace flexai::extender {

class GangBinder {
 public:
  GangBinder(kube::KubeClient& client, ClusterCache& cache, const Scheduler& scheduler,
             QueueState& queue);
  ~GangBinder();

  // Bind of an unbound gang member `pod` (intent.gang set); "" on success, else the error for
  // kube-scheduler (including "waiting" while members are missing).
  std::string Bind(const BindArgs& args, const nlohmann::json& pod, const PodIntent& intent);
  // Filter for a member holding a reservation: only its node passes. False when it holds none.
  bool FilterReserved(const PodIntent& pod, const std::vector<std::string>& nodes,
                      FilterOutcome& out) const;
  // Releases every gang still gathering its members past its timeout; returns how many.
  size_t ReleaseExpired(kube::WallTime now);
  // A complete gang is committed: members whose binding failed are bound again, never released.
  // A gang whose retry fails again waits 2 s, then 4, 8 ... up to 60 s before the next one (each
  // failed try posts Events). Returns how many gangs were retried.
  size_t RetryCommitted(kube::WallTime now = std::chrono::system_clock::now());

  // Checks timeouts every `period` while `leader()` holds.
  // Namespace quotas are checked with the chips chosen, as for any bind.
  void SetQuotaGate(const QuotaGate* quota) { quota_ = quota; }

  void StartSweeper(std::function<bool()> leader, std::chrono::milliseconds period);
  void Stop();

 private:
  std::mutex& LockFor(const std::string& gang);
  // Binds every unbound member of a complete gang; the error for `uid` ("" when bound).
  std::string BindAll(const std::string& gang, const std::string& uid);
  // Clears a member's reservation (annotations, then cache and book); `why` goes to bind-error.
  // False when it was kept: bound meanwhile, or the patch failed (retried by the next sweep).
  bool Release(const partition::GangMember& member, const std::string& why);

  kube::KubeClient& client_;
  ClusterCache& cache_;
  const Scheduler& scheduler_;
  QueueState& queue_;
  const QuotaGate* quota_ = nullptr;
  std::mutex locks_mu_;
  std::map<std::string, std::unique_ptr<std::mutex>> locks_;  // per gang key
  struct RetryBackoff {
    int failures = 0;
    kube::WallTime next{};
  };
  std::mutex retry_mu_;
  std::map<std::string, RetryBackoff> retry_backoff_;  // committed gangs whose retry failed
  std::thread sweeper_;
  std::mutex sweep_mu_;
  std::condition_variable sweep_wake_;
  bool stopping_ = false;
};

}  // namespace flexai::extender
