// Why a pod does not fit a node, in words a user can act on ("node n1: no chip has 40000 MiB
// free (largest free 30000 MiB on GPU-xxx)"), and whether evicting pods could ever help.
#pragma once

#include <string>

#include "partition/assignment.h"
#include "partition/node_state.h"

namespace flexai::extender {

struct Misfit {
  std::string reason;
  bool unresolvable = false;  // no eviction would make room (chip too small, no such model)
};

// Looks at each container on its own; when every one fits alone the pod's containers do not
// fit together (or host resources are short), and the message says so.
Misfit ExplainMisfit(const partition::NodeState& node, const partition::PodRequest& pod);

}  // namespace flexai::extender
