#include "extender/service.h"

#include <spdlog/spdlog.h>

#include "extender/admission.h"
#include "extender/placement_choice.h"
#include "kube/operations.h"
#include "kube/paths.h"
#include "partition/placement/policy_factory.h"

namespace flexai::extender {
namespace {

partition::PolicyParseOptions ParseOptions() {
  partition::PolicyParseOptions options;
  options.known_scheduler_policies = partition::PlacementPolicyNames();
  options.known_scheduler_weights = partition::PlacementWeightNames();
  return options;
}

}  // namespace

Result<std::unique_ptr<HiSchedulerService>> HiSchedulerService::Create(
    ServiceOptions options, std::unique_ptr<kube::KubeClient> client) {
  std::shared_ptr<const partition::SlicePolicy> policy;
  if (options.policy_file.empty()) {
    policy = std::make_shared<partition::SlicePolicy>(partition::DefaultSlicePolicy());
  } else {
    auto loaded = partition::LoadSlicePolicyFile(options.policy_file, ParseOptions());
    if (!loaded.ok()) return loaded.error();
    policy = std::make_shared<partition::SlicePolicy>(std::move(*loaded));
  }
  std::string host;
  int port = 0;
  if (!ParseHostPort(options.listen, host, port)) {
    return Error{"--listen " + options.listen + ": expected HOST:PORT"};
  }
  if (!options.webhook_listen.empty() && !ParseHostPort(options.webhook_listen, host, port)) {
    return Error{"--webhook-listen " + options.webhook_listen + ": expected HOST:PORT"};
  }
  if (!options.webhook_listen.empty() && options.tls_cert.empty()) {
    return Error{
        "--webhook-listen needs --tls-cert and --tls-key (API servers call webhooks "
        "over HTTPS only)"};
  }
  return std::unique_ptr<HiSchedulerService>(
      new HiSchedulerService(std::move(options), std::move(client), std::move(policy)));
}

HiSchedulerService::HiSchedulerService(ServiceOptions options,
                                       std::unique_ptr<kube::KubeClient> client,
                                       std::shared_ptr<const partition::SlicePolicy> policy)
    : options_(std::move(options)), client_(std::move(client)) {
  if (!options_.policy_file.empty()) {
    policy_watcher_ = std::make_unique<kube::ConfigFileWatcher>(
        options_.policy_file, options_.policy_poll, [this] { ReloadPolicy(); });
  }
  auto placement = MakeExtenderPlacementPolicy(*policy);
  cache_ = std::make_unique<ClusterCache>(policy);
  SchedulerOptions sched;
  sched.node_stale = std::chrono::seconds(options_.node_stale_seconds);
  scheduler_ = std::make_unique<Scheduler>(*cache_, placement, sched);
  refresher_ = std::make_unique<WorkloadRefresher>(
      *cache_, [this](std::shared_ptr<const partition::PlacementPolicy> placement) {
        scheduler_->SetPlacementPolicy(std::move(placement));
      });
  binder_ = std::make_unique<Binder>(*client_, *cache_, *scheduler_,
                                     std::chrono::seconds(options_.allocating_window_seconds));
  QueueOptions queue;
  queue.gang_timeout = std::chrono::seconds(options_.gang_timeout_seconds);
  queue.hold = std::chrono::seconds(options_.hold_seconds);
  queue_ = std::make_unique<QueueState>(*cache_, *scheduler_, queue);
  gang_binder_ = std::make_unique<GangBinder>(*client_, *cache_, *scheduler_, *queue_);
  binder_->SetGangBinder(gang_binder_.get());
  queue_filter_ = std::make_unique<QueueAwareFilter>(*scheduler_, *queue_, *gang_binder_);
  api_ = std::make_unique<ExtenderApi>(
      *scheduler_, [this] { return cache_->policy(); },
      [this](const BindArgs& args) { return binder_->Bind(args); });
  api_->SetFilter([this](const PodIntent& pod, const std::vector<std::string>& nodes) {
    return queue_filter_->Filter(pod, nodes);
  });
  metrics_ = std::make_unique<ExtenderMetrics>();
  metrics_->SetQueueSource([this] { return queue_->stats(); });
  metrics_->AddRefresh([this] { metrics_->SetLiveUsage(cache_->LiveUsage()); });
  quota_ = std::make_unique<QuotaGate>(*cache_);
  api_->SetQuotaGate(quota_.get());
  binder_->SetQuotaGate(quota_.get());
  gang_binder_->SetQuotaGate(quota_.get());
  preemption_metrics_ = std::make_unique<PreemptionQuotaMetrics>(metrics_->registry());
  metrics_->AddRefresh([this] { preemption_metrics_->SetQuotaUse(quota_->Use()); });
  preemptor_ =
      std::make_unique<Preemptor>(*cache_, *scheduler_, budgets_, preemption_metrics_.get());
  preemptor_->SetQueue(queue_.get());
}

HiSchedulerService::~HiSchedulerService() { Stop(); }

bool HiSchedulerService::ready() const {
  return node_watcher_ && pod_watcher_ && node_watcher_->synced() && pod_watcher_->synced();
}

bool HiSchedulerService::leader() const {
  if (elector_) return elector_->is_leader();
  if (follower_) return follower_->is_leader();
  return true;
}

Result<int> HiSchedulerService::Start() {
  ClusterCache* cache = cache_.get();
  node_watcher_ = std::make_unique<kube::ListWatcher>(
      *client_, kube::NodesPath(),
      kube::ListWatchHandlers{
          [cache](std::vector<kube::Json> items) { cache->ReplaceNodes(items); },
          [cache](const std::string& type, const kube::Json& o) {
            if (type == "DELETED") {
              cache->RemoveNode(o);
            } else {
              cache->UpsertNode(o);
            }
          }});
  // The queue sees every pod event around the cache's update (released slices, gangs).
  QueueState* queue = queue_.get();
  WorkloadRefresher* refresher = refresher_.get();
  pod_watcher_ = std::make_unique<kube::ListWatcher>(
      *client_, kube::PodsPath(),
      kube::ListWatchHandlers{[cache, queue, refresher](std::vector<kube::Json> items) {
                                queue->ReplacePods(items, [&] { cache->ReplacePods(items); });
                                // A (re)start measures against the cluster's pods at once.
                                refresher->Refresh();
                              },
                              [cache, queue](const std::string& type, const kube::Json& o) {
                                queue->OnPodEvent(type, o, [&] {
                                  if (type == "DELETED") {
                                    cache->RemovePod(o);
                                  } else {
                                    cache->UpsertPod(o);
                                  }
                                });
                              }});
  // PodDisruptionBudgets only matter to preemption: readiness does not wait for them, and
  // without them (no RBAC, no policy/v1) preemption sees no budgets (logged by the watcher).
  DisruptionBudgetCache* budgets = &budgets_;
  budget_watcher_ = std::make_unique<kube::ListWatcher>(
      *client_, kube::PodDisruptionBudgetsPath(),
      kube::ListWatchHandlers{[budgets](std::vector<kube::Json> items) { budgets->Replace(items); },
                              [budgets](const std::string& type, const kube::Json& o) {
                                if (type == "DELETED") {
                                  budgets->Remove(o);
                                } else {
                                  budgets->Upsert(o);
                                }
                              }});
  node_watcher_->Start();
  pod_watcher_->Start();
  budget_watcher_->Start();
  if (options_.leader_elect) {
    kube::LeaderElectionConfig config;
    config.lease_name = options_.lease_name;
    config.lease_namespace = options_.lease_namespace;
    config.identity = options_.identity;
    config.retry_period = options_.lease_retry;
    elector_ = std::make_unique<kube::LeaderElector>(*client_, config);
    elector_->Start();
  } else if (!options_.follow_lease.empty()) {
    kube::LeaseFollowerConfig config;
    config.lease_name = options_.follow_lease;
    config.lease_namespace = options_.lease_namespace;
    config.partner = options_.follow_partner;
    config.poll_period = options_.lease_retry;
    follower_ = std::make_unique<kube::LeaseFollower>(*client_, config);
    follower_->Start();
  }

  HttpEndpoints endpoints;
  endpoints.api = api_.get();
  endpoints.metrics = metrics_.get();
  endpoints.mutate = [this](std::string_view body) {
    return HandleAdmissionReview(body, *cache_->policy(), options_.scheduler_name);
  };
  endpoints.ready = [this] { return ready(); };
  endpoints.leader = [this] { return leader(); };
  endpoints.stats = [this] { return cache_->stats(); };
  endpoints.preempt = [this](std::string_view body) { return preemptor_->Handle(body); };
  http_ = std::make_unique<HttpServer>(endpoints);

  ListenOptions main;
  ParseHostPort(options_.listen, main.host, main.port);
  main.tls_cert = options_.tls_cert;
  main.tls_key = options_.tls_key;
  main.max_body_bytes = options_.max_body_bytes;
  auto port = http_->Listen(main);
  if (!port.ok()) return port;
  if (!options_.webhook_listen.empty()) {
    ListenOptions hook = main;
    ParseHostPort(options_.webhook_listen, hook.host, hook.port);
    hook.webhook_only = true;
    auto hook_port = http_->Listen(hook);
    if (!hook_port.ok()) return hook_port;
    webhook_port_ = *hook_port;
  }
  if (policy_watcher_) policy_watcher_->Start();
  refresher_->Start(std::chrono::seconds(options_.workload_refresh_seconds));
  gang_binder_->StartSweeper([this] { return leader(); }, options_.gang_sweep);
  return port;
}

void HiSchedulerService::Stop() {
  if (stopping_.exchange(true)) return;
  if (policy_watcher_) policy_watcher_->Stop();
  if (refresher_) refresher_->Stop();
  if (gang_binder_) gang_binder_->Stop();
  if (http_) http_->Stop();
  if (elector_) elector_->Stop();
  if (follower_) follower_->Stop();
  if (node_watcher_) node_watcher_->Stop();
  if (pod_watcher_) pod_watcher_->Stop();
  if (budget_watcher_) budget_watcher_->Stop();
}

bool HiSchedulerService::ReloadPolicy() {
  auto loaded = partition::LoadSlicePolicyFile(options_.policy_file, ParseOptions());
  if (!loaded.ok()) {
    spdlog::error("policy reload refused, keeping the previous policy: {}", loaded.error().message);
    if (!options_.self_pod_name.empty() && !options_.self_pod_namespace.empty()) {
      kube::Json self = {
          {"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata",
           {{"name", options_.self_pod_name}, {"namespace", options_.self_pod_namespace}}}};
      kube::RecordEvent(*client_, self,
                        {"Warning", "FlexaiPolicyRejected",
                         "policy reload refused, previous policy kept: " + loaded.error().message});
    }
    return false;
  }
  auto policy = std::make_shared<partition::SlicePolicy>(std::move(*loaded));
  cache_->SetPolicy(policy);
  refresher_->Refresh(/*force=*/true);  // the new policy name and weights, the same workload
  spdlog::info("policy reloaded from {}", options_.policy_file);
  return true;
}

}  // namespace flexai::extender
