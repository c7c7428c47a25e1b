// Prometheus metrics of the Hi Scheduler (GET /metrics): request counts and latencies per verb,
// bind outcomes, the cache's view of chips, memory and compute allocated, and the live usage of
// each chip as its node's device plugin last published it.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "extender/cluster_cache.h"
#include "extender/queue_stats.h"
#include "kube/protocol.h"

namespace flexai::extender {

class ExtenderMetrics {
 public:
  ExtenderMetrics();
  void ObserveRequest(const std::string& verb, int status, double seconds);
  void CountBind(bool ok);
  // Text exposition format, with the cache gauges refreshed first.
  std::string Render(const ClusterCache::Stats& stats, bool leader, bool ready);
  // Where Render reads the queue gauges from (pending pods, gangs, reserved capacity).
  void SetQueueSource(std::function<QueueStats()> source) { queue_source_ = std::move(source); }
  // For metrics kept elsewhere (preemption, quotas): their registry, and a refresh Render runs
  // first. Refreshes are added while wiring, before serving.
  prometheus::Registry& registry() { return *registry_; }
  void AddRefresh(std::function<void()> refresh) { refreshes_.push_back(std::move(refresh)); }
  // Replaces the live usage gauges (flexai_chip_live_memory_used_mib,
  // flexai_chip_live_compute_used_percent {node, chip, uuid} and
  // flexai_node_live_usage_timestamp_seconds {node}); nodes gone from `live` disappear.
  void SetLiveUsage(const std::map<std::string, kube::NodeLiveUsage>& live);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& latency_;
  prometheus::Family<prometheus::Counter>& binds_;
  prometheus::Family<prometheus::Gauge>& cluster_;
  prometheus::Gauge& leader_;
  prometheus::Gauge& ready_;
  prometheus::Gauge& pending_;
  prometheus::Gauge& gangs_waiting_;
  prometheus::Family<prometheus::Gauge>& reserved_;
  prometheus::Counter& unblocked_;
  prometheus::Family<prometheus::Gauge>& live_memory_;
  prometheus::Family<prometheus::Gauge>& live_compute_;
  prometheus::Family<prometheus::Gauge>& live_sampled_;
  std::mutex live_mu_;  // guards live_gauges_ (renders may overlap)
  std::vector<std::pair<prometheus::Family<prometheus::Gauge>*, prometheus::Gauge*>> live_gauges_;
  std::mutex queue_mu_;  // guards unblocked_seen_ (renders may overlap)
  uint64_t unblocked_seen_ = 0;
  std::function<QueueStats()> queue_source_;
  std::vector<std::function<void()>> refreshes_;
};

}  // namespace flexai::extender
