// Keeps the Hi Scheduler's placement policy measured against the cluster's own workload: it reads
// the shapes of the pods placed (cached assignments) and, when the typical workload they make or
// the slice policy has changed, builds the placement policy again and hands it over.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "extender/cluster_cache.h"
#include "kube/periodic_task.h"
#include "partition/placement/placement_policy.h"
#include "partition/placement/typical_workload.h"

namespace flexai::extender {

// Shapes of the pods placed in `cache` (every cached pod holds an assignment).
std::vector<partition::TaskShape> PlacedPodShapes(const ClusterCache& cache);

class WorkloadRefresher {
 public:
  using Apply = std::function<void(std::shared_ptr<const partition::PlacementPolicy>)>;
  WorkloadRefresher(const ClusterCache& cache, Apply apply)
      : cache_(cache), apply_(std::move(apply)) {}
  ~WorkloadRefresher() { Stop(); }

  // Builds and applies the policy when the typical workload (shapes, popularity to 0.05) or the
  // cache's slice policy changed since the last time, or when `force`. True when it applied one.
  bool Refresh(bool force = false);
  // Refreshes every `interval` until Stop.
  void Start(std::chrono::seconds interval);
  void Stop();

 private:
  const ClusterCache& cache_;
  Apply apply_;
  std::mutex mu_;
  std::string applied_;  // signature of what was applied last
  std::unique_ptr<kube::PeriodicTask> task_;
};

}  // namespace flexai::extender
