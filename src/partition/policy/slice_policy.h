// The slice policy: the operator's settings for how chips are shared, read from the ConfigMap key
// `policy.yaml` (apiVersion flexai.io/v1, kind SlicePolicy). docs/policy.md describes every field.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "partition/chip.h"
#include "partition/chip_ledger.h"
#include "partition/result.h"
#include "partition/slice_request.h"

namespace flexai::partition {

inline constexpr std::string_view kSlicePolicyApiVersion = "flexai.io/v1";
inline constexpr std::string_view kSlicePolicyKind = "SlicePolicy";

// How a slice's limits are enforced inside the container: NVIDIA MPS, the flexai hook library
// (LD_PRELOAD), or not at all (trusting the workload).
enum class IsolationMode { kMps, kHook, kNone };
std::string_view IsolationModeName(IsolationMode mode);
std::optional<IsolationMode> ParseIsolationMode(std::string_view name);

// The extended-resource names a container uses to ask for one kind of chip.
struct ResourceNameSet {
  std::string count;              // number of whole chips (N); the slice amounts are per chip
  std::string memory;             // memory per chip, MiB
  std::string memory_percentage;  // memory per chip, percent of the chip's usable memory
  std::string cores;              // compute per chip, percent of one chip
};

// `resources`: the names pods use; gpu names select NVIDIA (or simulated) chips, npu names Ascend.
struct ResourcesSection {
  ResourceNameSet gpu{"flexai.io/gpu", "flexai.io/gpu-memory", "flexai.io/gpu-memory-percentage",
                      "flexai.io/gpu-cores"};
  ResourceNameSet npu{"flexai.io/npu", "flexai.io/npu-memory", "flexai.io/npu-memory-percentage",
                      "flexai.io/npu-cores"};
  std::string memory_unit = "MiB";  // the only unit accepted in v1
  std::string core_unit = "%";      // the only unit accepted in v1
};

// `sharing`: how far one chip is split. Node overrides change these per node.
struct SharingSection {
  int max_slices_per_chip = 10;
  double memory_oversubscription = 1.0;  // >= 1.0; admitted memory may reach usable x ratio
  int64_t reserved_memory_mib = 0;       // kept back on every chip (driver, context, MPS server)
  IsolationMode isolation_mode = IsolationMode::kHook;
};

// One Ascend vNPU template (Ascend's fixed partitions), e.g. 910B3 `vir05_1c_16g`.
struct VnpuTemplate {
  int ai_cores = 0;
  int ai_cpus = 0;  // 0 when not given
  int64_t memory_mib = 0;
};

// One Ascend chip model and the vNPU templates it can be cut into.
struct AscendModel {
  int ai_cores = 0;
  int ai_cpus = 0;  // 0 when not given
  int64_t memory_mib = 0;
  std::map<std::string, VnpuTemplate> templates;  // by template name
};

// `ascend`: vNPU templates per chip model (the key is the chip model name, e.g. "910B3").
struct AscendSection {
  std::map<std::string, AscendModel> models;
};

// A node label selector (Kubernetes matchLabels): every listed label must be present with the
// given value. An empty selector matches every node.
struct NodeSelector {
  std::map<std::string, std::string> match_labels;
  bool Matches(const std::map<std::string, std::string>& node_labels) const;
};

// Sharing knobs given in a node override; unset ones keep the `sharing` value.
struct SharingOverrides {
  std::optional<int> max_slices_per_chip;
  std::optional<double> memory_oversubscription;
  std::optional<int64_t> reserved_memory_mib;
  std::optional<IsolationMode> isolation_mode;

  SharingSection ApplyTo(SharingSection base) const;
};

// One entry of `nodeOverrides`: sharing knobs for the nodes its selector matches.
struct NodeOverride {
  NodeSelector selector;
  SharingOverrides sharing;
};

// `scheduler`: which placement policy the Hi Scheduler runs and its weights (name -> weight).
struct SchedulerSection {
  std::string policy = "hi";
  std::map<std::string, double> weights;
};

// One namespace's quota; unset fields mean no limit. Cores are in percent of a chip (a whole
// chip is 100), summed over all the namespace's slices.
struct NamespaceQuota {
  std::optional<int64_t> chips;
  std::optional<int64_t> memory_mib;
  std::optional<int64_t> cores;
};

struct SlicePolicy {
  std::string source = "<defaults>";  // file or name it was read from, for messages
  ResourcesSection resources;
  SharingSection sharing;
  AscendSection ascend;
  std::vector<NodeOverride> node_overrides;  // first match wins
  SchedulerSection scheduler;
  std::map<std::string, NamespaceQuota> quotas;  // by namespace
};

// ---- Loading ------------------------------------------------------------------------------------

struct PolicyParseOptions {
  // When non-empty, `scheduler.policy` must be one of these (else the load fails).
  std::vector<std::string> known_scheduler_policies;
  // When non-empty, every key of `scheduler.weights` must be one of these.
  std::vector<std::string> known_scheduler_weights;
};

// The policy used when no file is configured (the values shown in deploy/policy/policy.yaml).
SlicePolicy DefaultSlicePolicy();
// Parses and validates a whole policy; `source_name` prefixes every error message
// ("policy.yaml: sharing.maxSlicesPerChip: ..."; syntax errors give "policy.yaml:LINE:COL: ...").
// Either everything is valid and returned, or an Error and nothing.
Result<SlicePolicy> ParseSlicePolicy(std::string_view text, std::string_view source_name,
                                     const PolicyParseOptions& options = {});
// Reads `path` and parses it (the path is the source name).
Result<SlicePolicy> LoadSlicePolicyFile(const std::string& path,
                                        const PolicyParseOptions& options = {});
// Checks the scheduler knobs against what the caller implements (same rules as the options).
Status CheckSchedulerKnobs(const SlicePolicy& policy,
                           const std::vector<std::string>& known_policies,
                           const std::vector<std::string>& known_weights = {});

// ---- Using it -----------------------------------------------------------------------------------

// Index of the node override that applies to a node with `node_labels` (the first whose selector
// matches), or nullopt.
std::optional<size_t> MatchingNodeOverride(const SlicePolicy& policy,
                                           const std::map<std::string, std::string>& node_labels);
// The sharing knobs for a node: `sharing` with the first matching override applied.
SharingSection EffectiveSharing(const SlicePolicy& policy,
                                const std::map<std::string, std::string>& node_labels);
// What `chip` on a node with `node_labels` can hand out: memory minus reserved (never below 0),
// the node's max slices and oversubscription.
ChipCapacity CapacityFor(const SlicePolicy& policy, const Chip& chip,
                         const std::map<std::string, std::string>& node_labels);

struct NamedVnpuTemplate {
  std::string name;
  VnpuTemplate spec;
};
// The smallest vNPU template of Ascend model `model` that holds `memory_mib` and `ai_cores`
// (by memory, then cores, then name); nullopt when the model is unknown or none is big enough.
std::optional<NamedVnpuTemplate> SmallestVnpuTemplate(const SlicePolicy& policy,
                                                      std::string_view model, int64_t memory_mib,
                                                      int ai_cores);

// Whether `resource_name` is one of the policy's gpu or npu resource names.
bool IsFlexaiResource(const SlicePolicy& policy, std::string_view resource_name);
// Whether `requests` asks for any flexai resource with a quantity above 0 (pods that do not are
// passed through untouched).
bool RequestsFlexaiResource(const SlicePolicy& policy,
                            const std::map<std::string, int64_t>& requests);
// Maps one container's resource quantities (name -> integer; other names are ignored) to a slice
// request with `vendor` set: kNvidia for the gpu names, kAscend for the npu names. Zero
// quantities count as absent. Errors name the resource: memory, percentage or cores without the
// chip count, a percentage or cores above 100, both memory forms, gpu and npu names together,
// negative quantities, or no flexai resource at all.
Result<SliceRequest> SliceRequestFromResources(const SlicePolicy& policy,
                                               const std::map<std::string, int64_t>& requests);

}  // namespace flexai::partition
