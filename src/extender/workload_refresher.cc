#include "extender/workload_refresher.h"

#include <cmath>

#include "extender/placement_choice.h"
#include "partition/placement/gpu_ask.h"

namespace flexai::extender {

std::vector<partition::TaskShape> PlacedPodShapes(const ClusterCache& cache) {
  std::vector<partition::TaskShape> shapes;
  cache.ReadPods(
      [&](const std::unordered_map<std::string, CachedNode>&, const ClusterCache::PodMap& pods) {
        shapes.reserve(pods.size());
        for (const auto& [uid, pod] : pods) shapes.push_back(partition::ShapeOf(pod.assignment));
      });
  return shapes;
}

bool WorkloadRefresher::Refresh(bool force) {
  std::lock_guard lock(mu_);
  const auto policy = cache_.policy();
  const auto shapes = PlacedPodShapes(cache_);
  // What the policy would be built from: the slice policy object, and the typical workload with
  // popularity rounded so that a few pods coming and going do not rebuild it (nor flush the
  // scheduler's verdict memo) every time.
  std::string signature = std::to_string(reinterpret_cast<uintptr_t>(policy.get()));
  if (shapes.size() < kMinObservedPods) {
    signature += "|few";
  } else {
    for (const auto& t : partition::BuildTypicalWorkload(shapes).tasks) {
      signature += "|" + std::to_string(t.shape.cpu_milli) + "," +
                   std::to_string(t.shape.gpu_milli) + "," + std::to_string(t.shape.num_gpu) + "," +
                   std::to_string(t.shape.memory_mib) + "," +
                   std::to_string(std::lround(t.popularity * 20));
    }
  }
  if (!force && signature == applied_) return false;
  applied_ = std::move(signature);
  apply_(MakeExtenderPlacementPolicy(*policy, shapes));
  return true;
}

void WorkloadRefresher::Start(std::chrono::seconds interval) {
  task_ = std::make_unique<kube::PeriodicTask>(interval, [this] { Refresh(); });
  task_->Start();
}

void WorkloadRefresher::Stop() {
  if (task_) task_->Stop();
}

}  // namespace flexai::extender
