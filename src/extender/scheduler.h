// The Hi Scheduler's decisions on plain structs, without HTTP: which nodes can take a pod and why
// the others cannot (in words a user can act on), how each node scores, and the exact chips a
// bind takes. Reads the cluster cache under its shared lock.
#pragma once

#include <chrono>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "extender/cluster_cache.h"
#include "extender/node_score_cache.h"
#include "extender/pod_intent.h"
#include "partition/placement/placement_policy.h"

namespace flexai::extender {

struct SchedulerOptions {
  std::chrono::seconds node_stale{60};  // a heartbeat older than this makes a node unusable
  std::function<kube::WallTime()> now = [] { return std::chrono::system_clock::now(); };
};

struct FilterOutcome {
  std::vector<std::string> passed;
  std::map<std::string, std::string> failed;        // may fit once other pods leave
  std::map<std::string, std::string> unresolvable;  // will not fit whatever is evicted
};

struct HostScore {
  std::string host;
  int64_t score = 0;  // 0..10
};

inline constexpr int64_t kMaxExtenderScore = 10;

class Scheduler {
 public:
  Scheduler(const ClusterCache& cache, std::shared_ptr<const partition::PlacementPolicy> policy,
            SchedulerOptions options = {});

  void SetPlacementPolicy(std::shared_ptr<const partition::PlacementPolicy> policy);

  FilterOutcome Filter(const PodIntent& pod, const std::vector<std::string>& nodes) const;
  std::vector<HostScore> Prioritize(const PodIntent& pod,
                                    const std::vector<std::string>& nodes) const;
  // The chips `pod` takes on `node` now, or why it cannot go there (for bind, under the cache's
  // write lock).
  Result<partition::PodAssignment> Choose(const PodIntent& pod, const CachedNode& node) const;

 private:
  struct Evaluation {
    std::optional<partition::NodeChoice> choice;
    std::string reason;  // when no choice
    bool unresolvable = false;
  };
  // What one request evaluates against: the policy and the clock, read once per request.
  struct Context {
    std::shared_ptr<const partition::PlacementPolicy> policy;
    kube::WallTime now;
  };
  Context MakeContext() const { return {policy(), options_.now()}; }
  Evaluation Evaluate(const Context& ctx, const PodIntent& pod, const CachedNode* node,
                      const std::string& name, bool explain) const;
  // Why `node` cannot take any pod now (unknown, no inventory, stale heartbeat); nullopt if usable.
  std::optional<Evaluation> Unusable(const Context& ctx, const CachedNode* node,
                                     const std::string& name) const;
  // Why `node` cannot serve the isolation mode `pod` asks (flexai.io/isolation); nullopt if it can.
  static std::optional<Evaluation> IsolationMismatch(const PodIntent& pod, const CachedNode& node,
                                                     const std::string& name);
  // The policy's answer for `pod` on a usable node (what the score cache keeps). It must read
  // only the node's state (covered by CachedNode::epoch), the pod's shape (ShapeKey in
  // scheduler.cc: a new field read here goes there too) and the policy (StateVersion); checks on
  // anything else (the clock, quotas, gangs, the pod's namespace) belong outside it.
  Evaluation EvaluatePlacement(const Context& ctx, const PodIntent& pod, const CachedNode& node,
                               const std::string& name, bool explain) const;
  // The verdict on each of `names` (under the cluster cache's read lock), from the score cache
  // where neither the node nor the policy's state changed since it was worked out.
  std::vector<NodeVerdict> Verdicts(const Context& ctx, const PodIntent& pod,
                                    const std::unordered_map<std::string, CachedNode>& cached,
                                    const std::vector<std::string>& names, bool explain) const;
  std::optional<std::vector<partition::ChipSet>> PickChips(const PodIntent& pod,
                                                           const partition::NodeState& node) const;
  std::shared_ptr<const partition::PlacementPolicy> policy() const;

  // kube-scheduler calls prioritize right after filter, for the same pod and the nodes filter
  // passed: filter's scores are kept and reused when the cache has not changed in between.
  struct Scored {
    double score = 0;
    bool preferred = false;
  };
  struct Memo {
    std::string fingerprint;  // pod uid + request + hints
    uint64_t generation = 0;
    std::vector<std::string> passed;
    std::vector<Scored> scores;  // aligned with `passed`
  };
  std::shared_ptr<const Memo> FindMemo(const std::string& fingerprint) const;
  void KeepMemo(std::shared_ptr<const Memo> memo) const;

  const ClusterCache& cache_;
  mutable std::mutex policy_mu_;
  std::shared_ptr<const partition::PlacementPolicy> policy_;
  SchedulerOptions options_;
  mutable std::mutex memo_mu_;
  mutable std::list<std::shared_ptr<const Memo>> memos_;  // most recent first
  mutable NodeScoreCache scores_;
};

}  // namespace flexai::extender
