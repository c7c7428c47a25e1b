// Memo of what the placement policy answered for a pod shape on a node, reused while neither the
// node (its cache epoch) nor the policy's own state changed. kube-scheduler asks about the same
// few pod shapes against thousands of nodes, filter and prioritize ask twice for the same pod,
// and a bind changes one node: most evaluations repeat, and at 5,000 nodes repeating them costs
// tens of milliseconds per request.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "extender/cluster_cache.h"
#include "partition/placement/placement_policy.h"

namespace flexai::extender {

// The placement part of a node's evaluation for one pod (heartbeat and inventory checks are not
// in it: they depend on the clock and are made on every request).
struct NodeVerdict {
  bool fits = false;
  double score = 0;        // the policy's raw score, when it fits
  bool preferred = false;  // every chosen chip is of a preferred model
  // When it does not fit: why (filter asks for the words, prioritize does not) and whether
  // evicting pods could ever help.
  bool explained = false;
  bool unresolvable = false;
  std::string reason;
};

// The verdicts of one pod shape under one policy object. Thread-safe.
class ShapeVerdicts {
 public:
  explicit ShapeVerdicts(std::shared_ptr<const partition::PlacementPolicy> policy)
      : policy_(std::move(policy)) {}
  const partition::PlacementPolicy* policy() const { return policy_.get(); }

  // For each node (nullptr entries are skipped): copies a verdict still valid for the node's
  // epoch and `policy_version` into `out[i]` and sets `hit[i]`. A verdict without words does not
  // count when `need_reason` and the node does not fit.
  void Lookup(const std::vector<const CachedNode*>& nodes, uint64_t policy_version,
              bool need_reason, std::vector<NodeVerdict>& out, std::vector<bool>& hit) const;
  // Keeps fresh verdicts, computed at `policy_version` from the nodes as they are now. Forgets
  // everything first when it holds far more nodes than the cluster has (deleted nodes).
  void Store(const std::vector<std::pair<const CachedNode*, NodeVerdict>>& fresh,
             uint64_t policy_version, size_t cluster_nodes);

 private:
  struct Entry {
    uint64_t epoch = 0;
    uint64_t policy_version = 0;
    NodeVerdict verdict;
  };
  // Holding the policy keeps its address from being reused by a later policy object.
  std::shared_ptr<const partition::PlacementPolicy> policy_;
  mutable std::shared_mutex mu_;
  // Keyed by the cached node's address: stable while the node is in the cache, and a node
  // created later at the same address has a new epoch (epochs are unique for the cache's life).
  std::unordered_map<const CachedNode*, Entry> entries_;
};

// The verdict tables of the most recently asked pod shapes.
class NodeScoreCache {
 public:
  // The table for `shape` under `policy` (a new one when the policy object changed).
  std::shared_ptr<ShapeVerdicts> For(
      const std::string& shape, const std::shared_ptr<const partition::PlacementPolicy>& policy);

 private:
  static constexpr size_t kShapes = 16;
  std::mutex mu_;
  std::list<std::pair<std::string, std::shared_ptr<ShapeVerdicts>>> shapes_;  // recent first
};

}  // namespace flexai::extender
