// `kubectl flexai pods`: one row per container grant (pod, node, chip, memory, cores, bind phase),
// and a row for each flexai pod that has no assignment yet.
#pragma once

#include <string>
#include <vector>

#include "kubectl_flexai/cluster_snapshot.h"

namespace flexai::kubectl {

// Columns padded to their widest cell, two spaces apart (like kubectl get).
std::string FormatTable(const std::vector<std::vector<std::string>>& rows);

// `resource_names`: the policy's flexai resource names (to find pods still waiting for one).
// `ns` empty = every namespace.
std::string RenderPods(const ClusterSnapshot& snapshot,
                       const std::vector<std::string>& resource_names, const std::string& ns);

}  // namespace flexai::kubectl
