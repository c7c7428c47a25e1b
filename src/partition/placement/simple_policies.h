// The baseline policies of the FGD paper (USENIX ATC'23), scored exactly as its simulator does
// (integer scores, higher wins): random, dotprod, clustering, packing and bestfit.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <unordered_map>

#include "partition/placement/placement_policy.h"

namespace flexai::partition {

// A uniformly random feasible node; a random fitting chip for a shared task.
class RandomPolicy : public PlacementPolicy {
 public:
  explicit RandomPolicy(uint64_t seed) : rng_(seed) {}
  std::string_view name() const override { return "random"; }
  std::optional<NodeChoice> Evaluate(const NodeState& node, const PodRequest& pod) const override;
  std::optional<uint64_t> StateVersion() const override { return std::nullopt; }

 private:
  mutable std::mutex mu_;
  mutable std::mt19937_64 rng_;
};

// Prefers the node whose free (CPU, GPU) vector has the smallest dot product with the request.
class DotProductPolicy : public PlacementPolicy {
 public:
  std::string_view name() const override { return "dotprod"; }
  std::optional<NodeChoice> Evaluate(const NodeState& node, const PodRequest& pod) const override;
};

// Groups tasks of the same kind (shared, 1-GPU, 2-GPU, ...) on the same nodes.
class ClusteringPolicy : public PlacementPolicy {
 public:
  std::string_view name() const override { return "clustering"; }
  std::optional<NodeChoice> Evaluate(const NodeState& node, const PodRequest& pod) const override;

 private:
  // Tag -> number of GPU pods with that tag on a node; tag 0 = shared, k = k whole GPUs.
  using TagCounts = std::map<int, int>;
  TagCounts TagsOn(const NodeState& node) const;

  mutable std::mutex mu_;
  mutable std::unordered_map<std::string, std::pair<uint64_t, TagCounts>> cache_;
};

// Fills partly used GPUs first, then partly used nodes, then idle ones.
class PackingPolicy : public PlacementPolicy {
 public:
  std::string_view name() const override { return "packing"; }
  std::optional<NodeChoice> Evaluate(const NodeState& node, const PodRequest& pod) const override;
};

// The node left with the least free CPU and GPU (equal weights) after placement.
class BestFitPolicy : public PlacementPolicy {
 public:
  std::string_view name() const override { return "bestfit"; }
  std::optional<NodeChoice> Evaluate(const NodeState& node, const PodRequest& pod) const override;
};

// Rounds every container's per-chip share up to whole, exclusive chips (the no-sharing baseline).
PodRequest AsExclusive(const PodRequest& pod);

// Normalisers of the paper's simulator: the largest node it knows (128 cores, 8 GPUs).
inline constexpr double kMaxSpecCpuMilli = 128000;
inline constexpr double kMaxSpecGpuMilli = 8000;

}  // namespace flexai::partition
