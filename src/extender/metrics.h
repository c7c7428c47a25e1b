// Prometheus metrics of the Hi Scheduler (GET /metrics): request counts and latencies per verb,
// bind outcomes, and the cache's view of chips, memory and compute allocated.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "extender/cluster_cache.h"

namespace flexai::extender {

class ExtenderMetrics {
 public:
  ExtenderMetrics();
  void ObserveRequest(const std::string& verb, int status, double seconds);
  void CountBind(bool ok);
  // Text exposition format, with the cache gauges refreshed first.
  std::string Render(const ClusterCache::Stats& stats, bool leader, bool ready);
  // For metrics kept elsewhere (preemption, quotas): their registry, and a refresh Render runs
  // first. Refreshes are added while wiring, before serving.
  prometheus::Registry& registry() { return *registry_; }
  void AddRefresh(std::function<void()> refresh) { refreshes_.push_back(std::move(refresh)); }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& latency_;
  prometheus::Family<prometheus::Counter>& binds_;
  prometheus::Family<prometheus::Gauge>& cluster_;
  prometheus::Gauge& leader_;
  prometheus::Gauge& ready_;
  std::vector<std::function<void()>> refreshes_;
};

}  // namespace flexai::extender
