// The whole Hi Scheduler service, wired: API client, node and pod watchers feeding the cluster
// cache, the scheduler and binder, leader election, the policy file watcher and the HTTP
// listeners. main.cc only parses flags into ServiceOptions; tests run it in-process.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "extender/binder.h"
#include "extender/cluster_cache.h"
#include "extender/disruption_budgets.h"
#include "extender/extender_api.h"
#include "extender/gang_binder.h"
#include "extender/http_server.h"
#include "extender/metrics.h"
#include "extender/preemption.h"
#include "extender/preemption_quota_metrics.h"
#include "extender/queue_filter.h"
#include "extender/queue_state.h"
#include "extender/quota_gate.h"
#include "extender/scheduler.h"
#include "extender/workload_refresher.h"
#include "kube/client.h"
#include "kube/config_file_watcher.h"
#include "kube/leader_election.h"
#include "kube/lease_follower.h"
#include "kube/list_watcher.h"

namespace flexai::extender {

struct ServiceOptions {
  std::string listen = "127.0.0.1:8888";
  std::string policy_file;  // empty = built-in defaults
  bool leader_elect = false;
  std::string lease_name = "flexai-hi-scheduler";
  std::string lease_namespace = "kube-system";
  std::string identity;  // lease holder identity; empty = hostname_random
  std::chrono::milliseconds lease_retry{2000};
  // Instead of electing: lead while kube-scheduler's Lease (this name, in lease_namespace) is
  // held by follow_partner (the pod name: kube-scheduler's identity is "<hostname>_<uuid>").
  std::string follow_lease;
  std::string follow_partner;
  std::string tls_cert, tls_key;
  std::string webhook_listen;  // empty = no second listener
  int node_stale_seconds = 60;
  int allocating_window_seconds = 30;  // see AllocationGuard; 0 = off
  std::string scheduler_name = "flexai-scheduler";
  size_t max_body_bytes = 32u << 20;
  std::chrono::seconds policy_poll{5};
  // This process's own pod (POD_NAME / POD_NAMESPACE from the downward API): refused policy
  // reloads are reported as Events on it. Empty = log only.
  std::string self_pod_name, self_pod_namespace;
  // Gangs and the queue (docs/hi-scheduler.md, "Gangs" and "Queue").
  int gang_timeout_seconds = 120;     // when a member has no flexai.io/gang-timeout-seconds
  int workload_refresh_seconds = 60;  // how often the typical workload is measured again
  int hold_seconds = 30;              // chip hold of the oldest pending multi-chip pod; 0 = off
  std::chrono::milliseconds gang_sweep{1000};  // how often gang timeouts are checked
};

class HiSchedulerService {
 public:
  // Loads the policy; errors (bad policy file, bad listen address) come back here.
  static Result<std::unique_ptr<HiSchedulerService>> Create(
      ServiceOptions options, std::unique_ptr<kube::KubeClient> client);
  ~HiSchedulerService();

  // Starts watchers, election and listeners; returns the main listener's port.
  Result<int> Start();
  void Stop();

  bool ready() const;
  bool leader() const;
  int webhook_port() const { return webhook_port_; }
  ClusterCache& cache() { return *cache_; }
  QueueState& queue() { return *queue_; }
  GangBinder& gang_binder() { return *gang_binder_; }
  kube::KubeClient& client() { return *client_; }
  // Re-reads the policy file now (the poller calls this on change); false when refused.
  bool ReloadPolicy();

 private:
  HiSchedulerService(ServiceOptions options, std::unique_ptr<kube::KubeClient> client,
                     std::shared_ptr<const partition::SlicePolicy> policy);

  ServiceOptions options_;
  std::unique_ptr<kube::KubeClient> client_;
  std::unique_ptr<ClusterCache> cache_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<Binder> binder_;
  std::unique_ptr<QueueState> queue_;
  std::unique_ptr<WorkloadRefresher> refresher_;
  std::unique_ptr<GangBinder> gang_binder_;
  std::unique_ptr<QueueAwareFilter> queue_filter_;
  std::unique_ptr<ExtenderApi> api_;
  std::unique_ptr<ExtenderMetrics> metrics_;
  // Preemption and quotas (docs/hi-scheduler.md "Preemption", docs/policy.md "quotas").
  DisruptionBudgetCache budgets_;
  std::unique_ptr<QuotaGate> quota_;
  std::unique_ptr<PreemptionQuotaMetrics> preemption_metrics_;
  std::unique_ptr<Preemptor> preemptor_;
  std::unique_ptr<kube::ListWatcher> budget_watcher_;
  std::unique_ptr<kube::ListWatcher> node_watcher_;
  std::unique_ptr<kube::ListWatcher> pod_watcher_;
  std::unique_ptr<kube::LeaderElector> elector_;
  std::unique_ptr<kube::LeaseFollower> follower_;
  std::unique_ptr<HttpServer> http_;
  int webhook_port_ = 0;
  // Reloads the policy when the file's content changes (ConfigMap symlink swaps included).
  std::unique_ptr<kube::ConfigFileWatcher> policy_watcher_;
  std::atomic<bool> stopping_{false};
};

}  // namespace flexai::extender
