#include "extender/metrics.h"

#include <prometheus/text_serializer.h>

#include <chrono>
#include <set>

namespace flexai::extender {

ExtenderMetrics::ExtenderMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      requests_(prometheus::BuildCounter()
                    .Name("flexai_extender_requests_total")
                    .Help("Extender and webhook requests by verb and HTTP status")
                    .Register(*registry_)),
      latency_(prometheus::BuildHistogram()
                   .Name("flexai_extender_request_seconds")
                   .Help("Time to answer a request, by verb")
                   .Register(*registry_)),
      binds_(prometheus::BuildCounter()
                 .Name("flexai_extender_binds_total")
                 .Help("Bind attempts by result")
                 .Register(*registry_)),
      cluster_(prometheus::BuildGauge()
                   .Name("flexai_cluster")
                   .Help("The scheduler cache's view of flexai chips (by quantity)")
                   .Register(*registry_)),
      leader_(prometheus::BuildGauge()
                  .Name("flexai_extender_leader")
                  .Help("1 when this replica holds the leader lease (or runs without election)")
                  .Register(*registry_)
                  .Add({})),
      ready_(prometheus::BuildGauge()
                 .Name("flexai_extender_ready")
                 .Help("1 once the node and pod caches have synced")
                 .Register(*registry_)
                 .Add({})),
      pending_(prometheus::BuildGauge()
                   .Name("flexai_pending_pods")
                   .Help("Unbound pods asking for flexai resources (the queue)")
                   .Register(*registry_)
                   .Add({})),
      gangs_waiting_(prometheus::BuildGauge()
                         .Name("flexai_gangs_waiting")
                         .Help("Gangs with members holding chips while others are missing")
                         .Register(*registry_)
                         .Add({})),
      reserved_(prometheus::BuildGauge()
                    .Name("flexai_reserved")
                    .Help("Capacity held for waiting gang members and the pending multi-chip pod")
                    .Register(*registry_)),
      unblocked_(prometheus::BuildCounter()
                     .Name("flexai_unblocked_pods_total")
                     .Help("Pending pods that released slices made fit on their node")
                     .Register(*registry_)
                     .Add({})),
      live_memory_(prometheus::BuildGauge()
                       .Name("flexai_chip_live_memory_used_mib")
                       .Help("Device memory in use on the chip, MiB, as its node's device plugin "
                             "last published it (flexai.io/live-usage)")
                       .Register(*registry_)),
      live_compute_(prometheus::BuildGauge()
                        .Name("flexai_chip_live_compute_used_percent")
                        .Help("Estimated GPU time used on the chip, % of the chip, as its node's "
                              "device plugin last published it (flexai.io/live-usage)")
                        .Register(*registry_)),
      live_sampled_(prometheus::BuildGauge()
                        .Name("flexai_node_live_usage_timestamp_seconds")
                        .Help("When the node's device plugin sampled the live usage (Unix time)")
                        .Register(*registry_)) {}

void ExtenderMetrics::SetLiveUsage(const std::map<std::string, kube::NodeLiveUsage>& live) {
  std::lock_guard lock(live_mu_);
  // Updated in place (Add returns the existing series for the same labels), and only series of
  // nodes or chips that went away are removed: a concurrent scrape never sees a live series
  // missing.
  std::vector<std::pair<prometheus::Family<prometheus::Gauge>*, prometheus::Gauge*>> next;
  std::set<const prometheus::Gauge*> kept;
  auto set = [&](prometheus::Family<prometheus::Gauge>& family,
                 const std::map<std::string, std::string>& labels, double value) {
    prometheus::Gauge& gauge = family.Add(labels);
    gauge.Set(value);
    next.emplace_back(&family, &gauge);
    kept.insert(&gauge);
  };
  for (const auto& [node, usage] : live) {
    set(live_sampled_, {{"node", node}},
        std::chrono::duration<double>(usage.sampled_at.time_since_epoch()).count());
    for (const auto& chip : usage.chips) {
      std::map<std::string, std::string> labels = {
          {"node", node}, {"chip", std::to_string(chip.index)}, {"uuid", chip.uuid}};
      set(live_memory_, labels, static_cast<double>(chip.memory_used_mib));
      set(live_compute_, labels, chip.compute_used_percent);
    }
  }
  for (auto [family, gauge] : live_gauges_) {
    if (!kept.contains(gauge)) family->Remove(gauge);
  }
  live_gauges_ = std::move(next);
}

void ExtenderMetrics::ObserveRequest(const std::string& verb, int status, double seconds) {
  requests_.Add({{"verb", verb}, {"code", std::to_string(status)}}).Increment();
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
  latency_.Add({{"verb", verb}}, kBuckets).Observe(seconds);
}

void ExtenderMetrics::CountBind(bool ok) {
  binds_.Add({{"result", ok ? "success" : "error"}}).Increment();
}

std::string ExtenderMetrics::Render(const ClusterCache::Stats& s, bool leader, bool ready) {
  auto set = [&](const char* quantity, double value) {
    cluster_.Add({{"quantity", quantity}}).Set(value);
  };
  set("nodes", static_cast<double>(s.nodes));
  set("nodes_with_chips", static_cast<double>(s.nodes_with_chips));
  set("chips", static_cast<double>(s.chips));
  set("pods_with_slices", static_cast<double>(s.pods_with_slices));
  set("memory_mib_total", static_cast<double>(s.memory_mib_total));
  set("memory_mib_allocated", static_cast<double>(s.memory_mib_used));
  set("cores_percent_total", static_cast<double>(s.cores_total));
  set("cores_percent_allocated", static_cast<double>(s.cores_used));
  for (const auto& refresh : refreshes_) refresh();
  if (queue_source_) {
    QueueStats q = queue_source_();
    std::lock_guard lock(queue_mu_);
    pending_.Set(static_cast<double>(q.pending_pods));
    gangs_waiting_.Set(static_cast<double>(q.gangs_waiting));
    reserved_.Add({{"quantity", "chips"}}).Set(static_cast<double>(q.reserved_chips));
    reserved_.Add({{"quantity", "memory_mib"}}).Set(static_cast<double>(q.reserved_memory_mib));
    if (q.unblocked_total > unblocked_seen_) {
      unblocked_.Increment(static_cast<double>(q.unblocked_total - unblocked_seen_));
      unblocked_seen_ = q.unblocked_total;
    }
  }
  leader_.Set(leader ? 1 : 0);
  ready_.Set(ready ? 1 : 0);
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace flexai::extender
