// `kubectl flexai nodes`: each chip drawn as two bars (memory, cores) split into its slices, one
// letter per owner, with a legend naming the owner pods.
#pragma once

#include <string>

#include "kubectl_flexai/cluster_snapshot.h"

namespace flexai::kubectl {

struct BarOptions {
  int width = 30;  // cells per bar
  // Time to show heartbeat ages against; nullopt hides ages (stable output for tests).
  std::optional<kube::WallTime> now;
  bool only_with_chips = true;  // skip nodes without an inventory annotation
};

// One bar: `parts` amounts in order, over `capacity`; cell i shows the letter of the part that
// covers it, '.' where free, and the last cell '!' when the parts exceed the capacity.
std::string DrawBar(const std::vector<std::pair<char, int64_t>>& parts, int64_t capacity,
                    int width);

// The letter that marks owner number `i` (A..Z, a..z, then '#').
char OwnerLetter(size_t i);

// The whole `nodes` view.
std::string RenderNodes(const ClusterSnapshot& snapshot, const BarOptions& options);

}  // namespace flexai::kubectl
