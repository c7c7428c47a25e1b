// The default workload flexai-sim runs with no arguments: a cluster and task list with the exact
// composition of the openb `default` trace (node types, task shapes and their counts), compiled in
// so the simulator works anywhere without the trace files.
#pragma once

#include "sim/trace.h"

namespace flexai::sim {

Trace EmbeddedDefaultTrace();

}  // namespace flexai::sim
