// `kubectl flexai explain POD`: why a pod does (not) fit each node, in words. The verdicts are the
// Hi Scheduler's own: the pod is read with extender::ParsePodIntent, the nodes and the other pods'
// slices go into an extender::ClusterCache, and extender::Scheduler::Filter and Prioritize judge
// them, exactly as a /filter call would. This file only lays the answer out.
// Host CPU and memory, taints and node selectors are kube-scheduler's own checks and not covered.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "kubectl_flexai/cluster_snapshot.h"
#include "partition/policy/slice_policy.h"

namespace flexai::kubectl {

struct NodeVerdict {
  std::string node;
  bool fits = false;
  int64_t score = 0;          // 0..10 when it fits
  std::string reason;         // why not
  bool unresolvable = false;  // evicting pods would not help
};

struct Explanation {
  std::string pod;                    // namespace/name
  std::vector<std::string> notes;     // about the pod itself (not flexai's, already placed, ...)
  std::vector<std::string> requests;  // one line per container that asks for chips
  std::vector<NodeVerdict> nodes;     // empty when the pod cannot be judged against nodes
  std::string summary;
};

struct ExplainOptions {
  std::string scheduler_name = "flexai-scheduler";
  std::chrono::seconds node_stale{60};  // hi-scheduler's --node-stale-seconds
  kube::WallTime now = std::chrono::system_clock::now();
};

Explanation ExplainPod(const ClusterSnapshot& snapshot, const partition::SlicePolicy& policy,
                       const PodView& pod, const ExplainOptions& options = {});
std::string RenderExplanation(const Explanation& explanation);

}  // namespace flexai::kubectl
