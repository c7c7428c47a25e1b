// Text form of a PodAssignment, as stored in the pod annotation `flexai.io/assignment` (see
// docs/protocol.md). Compact and line-free so it survives kubectl and JSON patches.
//
//   node=<node>;cpu=<milli>;mem=<MiB>|<container>=<uuid>:<MiB>:<cores>[:x][,<uuid>:...]|...
//
// `x` marks an exclusive (whole-chip) grant. Container names and UUIDs must not contain
// any of "|=;,:".
#pragma once

#include <string>

#include "partition/assignment.h"
#include "partition/result.h"

namespace flexai::partition {

std::string EncodeAssignment(const PodAssignment& assignment);
// Parses the text form; `pod_uid` is taken from the pod object, not the text. Chip indexes are
// left at -1: the node state resolves UUIDs.
Result<PodAssignment> DecodeAssignment(const std::string& text, const std::string& pod_uid);

}  // namespace flexai::partition
