// A placement policy scores how well a pod fits one node and picks the chips it would take there.
// The same objects serve the simulator and the Hi Scheduler extender (filter/prioritize/bind).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "partition/assignment.h"
#include "partition/node_state.h"

namespace flexai::partition {

// A candidate placement of a pod on one node: higher score is better. `chips[c]` holds the chips
// for container c of the PodRequest.
struct NodeChoice {
  double score = 0;
  std::vector<ChipSet> chips;
};

class PlacementPolicy {
 public:
  virtual ~PlacementPolicy() = default;
  virtual std::string_view name() const = 0;
  // nullopt when the pod cannot go on `node` now (chips, host resources or constraints).
  virtual std::optional<NodeChoice> Evaluate(const NodeState& node,
                                             const PodRequest& pod) const = 0;
  // Tells the policy a pod was placed or released on `node` (policies with cluster-wide state use
  // this; most ignore it).
  virtual void OnNodeChanged(const NodeState& node) {}
  // Callers may memoise Evaluate per (node state, pod) while this stays the same: it changes
  // whenever state the policy keeps between calls changes in a way that can change an answer for
  // an unchanged node. nullopt when answers do not repeat (random) and must not be memoised.
  virtual std::optional<uint64_t> StateVersion() const { return 0; }
};

// Index into `nodes` of the best node for `pod` and its choice; ties go to the lowest index.
struct ClusterChoice {
  size_t node_index = 0;
  NodeChoice choice;
};
std::optional<ClusterChoice> ChooseNode(const PlacementPolicy& policy,
                                        const std::vector<NodeState>& nodes, const PodRequest& pod);

// Per-container chip choice shared by the simple policies: for each container, chips are taken in
// the order `order` gives among the feasible ones (containers of one pod may share a chip only
// when both are fractional and fit together). Returns nullopt when some container cannot be
// served.
std::optional<std::vector<ChipSet>> PickChipsInOrder(const NodeState& node, const PodRequest& pod,
                                                     const std::vector<int>& order);

}  // namespace flexai::partition
