// What a pod asks of flexai, read from its spec and annotations: the chip request of each
// container (through the slice policy's resource names) and the user's placement hints.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "partition/assignment.h"
#include "partition/gang/gang_spec.h"
#include "partition/policy/slice_policy.h"

namespace flexai::extender {

enum class PackMode { kBinpack, kSpread };

// Per-pod annotations (docs/hi-scheduler.md).
struct PlacementHints {
  std::vector<std::string> prefer_models;   // soft: nodes with these models score higher
  PackMode node_mode = PackMode::kBinpack;  // fill busy nodes first, or spread over idle ones
  PackMode chip_mode = PackMode::kBinpack;  // on a node: fill busy chips first, or idle ones
  bool numa_bind = false;                   // a container's chips must share one NUMA node
  bool island_bind = false;  // the pod's chips must share one NVLink island / HCCS ring
  // flexai.io/isolation: the pod's GPU slices need a node running this mode (nullopt = any).
  std::optional<partition::IsolationMode> isolation;
};

struct PodIntent {
  std::string uid, ns, name;
  std::string node_name;     // spec.nodeName, empty while pending
  bool wants_chips = false;  // asks for at least one flexai resource
  std::string error;         // why the request cannot be served (malformed quantities, hints)
  partition::PodRequest request;
  PlacementHints hints;
  // Set for members of a gang (flexai.io/gang); timeout 0 = the hi-scheduler's default.
  std::optional<partition::GangSpec> gang;

  std::string display_name() const { return ns + "/" + name; }
  // True when some container asks for a share of a chip (not whole chips): only those are
  // enforced by an isolation mode.
  bool wants_slices() const;
};

// Never fails: problems are reported in `error` (pods without flexai resources get
// wants_chips=false and are passed through untouched).
PodIntent ParsePodIntent(const nlohmann::json& pod, const partition::SlicePolicy& policy);

}  // namespace flexai::extender
