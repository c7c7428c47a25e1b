// The annotation contract between the flexai device plugin and the Hi Scheduler (see
// docs/protocol.md): the node inventory the device plugin publishes, and the per-pod assignment
// and bind phase the scheduler writes and the device plugin completes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kube/time_format.h"
#include "partition/chip.h"
#include "partition/result.h"

namespace flexai::kube {

// Node annotations (written by the device plugin).
inline constexpr std::string_view kInventoryAnnotation = "flexai.io/inventory";
inline constexpr std::string_view kHeartbeatAnnotation = "flexai.io/heartbeat";
// Live use of each chip (memory used, compute used) from its slices' usage.bin, refreshed with
// every heartbeat. Kept apart from the inventory so that usage changes are not inventory changes.
inline constexpr std::string_view kLiveUsageAnnotation = "flexai.io/live-usage";

// Pod annotations (written by the Hi Scheduler at bind, completed by the device plugin).
inline constexpr std::string_view kAssignmentAnnotation = "flexai.io/assignment";
inline constexpr std::string_view kBindPhaseAnnotation = "flexai.io/bind-phase";
// The device IDs kubelet passed, per container; written by the device plugin with `success` and
// cleared by hi-scheduler with every new assignment (a recreated pod keeps its annotations).
inline constexpr std::string_view kDeviceIdsAnnotation = "flexai.io/device-ids";
inline constexpr std::string_view kBindTimeAnnotation = "flexai.io/bind-time";
inline constexpr std::string_view kBindNodeAnnotation = "flexai.io/bind-node";
inline constexpr std::string_view kBindErrorAnnotation = "flexai.io/bind-error";

inline constexpr std::string_view kBindPhaseAllocating = "allocating";
inline constexpr std::string_view kBindPhaseSuccess = "success";
inline constexpr std::string_view kBindPhaseFailed = "failed";

// Per-pod scheduling hints set by users (docs/hi-scheduler.md).
inline constexpr std::string_view kPreferModelsAnnotation = "flexai.io/prefer-models";
inline constexpr std::string_view kAvoidModelsAnnotation = "flexai.io/avoid-models";
inline constexpr std::string_view kUseModelsAnnotation = "flexai.io/use-models";
inline constexpr std::string_view kUseUuidsAnnotation = "flexai.io/use-uuids";
inline constexpr std::string_view kAvoidUuidsAnnotation = "flexai.io/avoid-uuids";
inline constexpr std::string_view kNodePolicyAnnotation = "flexai.io/node-policy";
inline constexpr std::string_view kChipPolicyAnnotation = "flexai.io/chip-policy";
inline constexpr std::string_view kNumaBindAnnotation = "flexai.io/numa-bind";
// The isolation a pod's GPU slices need: `hook` or `mps`. The Hi Scheduler places the pod only on
// nodes whose slice policy runs that mode, and the device plugin refuses a mismatch.
inline constexpr std::string_view kIsolationAnnotation = "flexai.io/isolation";

inline constexpr int kInventoryVersion = 1;

// What the device plugin publishes about its node's chips.
struct NodeInventory {
  int version = kInventoryVersion;
  std::vector<partition::Chip> chips;
};

// JSON text: {"version":1,"chips":[{"index":0,"uuid":"GPU-..","model":"H100","memoryMiB":81559,
//  "numa":0,"linkGroup":0,"cpus":"0-31","health":"Healthy","vendor":"nvidia"}]}
std::string EncodeInventory(const NodeInventory& inventory);
// Errors name the field ("chips[2].memoryMiB: not a positive integer"). Chips are returned sorted
// by index; indexes must be 0..n-1 and UUIDs unique.
Result<NodeInventory> DecodeInventory(std::string_view text);

inline constexpr int kLiveUsageVersion = 1;

// What the device plugin measured on one chip: the sums over the slices allocated on it.
struct ChipLiveUsage {
  int index = 0;
  std::string uuid;
  int64_t memory_used_mib = 0;      // device memory held by the slices' processes
  double compute_used_percent = 0;  // estimated share of the chip's GPU time, 0.1 % steps
};

struct NodeLiveUsage {
  int version = kLiveUsageVersion;
  WallTime sampled_at;  // when the usage files were read
  std::vector<ChipLiveUsage> chips;
};

// JSON text: {"version":1,"sampledAt":"2026-11-28T03:31:06Z","chips":[{"index":0,
//  "uuid":"GPU-..","memoryUsedMiB":3072,"computeUsedPercent":25.0}]}
std::string EncodeLiveUsage(const NodeLiveUsage& usage);
// Errors name the field ("chips[1].memoryUsedMiB: not a non-negative integer"). Chips are
// returned sorted by index; indexes and UUIDs must be unique; numbers finite.
Result<NodeLiveUsage> DecodeLiveUsage(std::string_view text);
// Keeps what the node's inventory can account for, as the device plugin's own clamp does: entries
// whose index and uuid name no chip of `chips` are dropped, memory is clamped to the chip's
// memory and compute to 100 %. Returns one line per change made, without the values (they move
// with every sample), so a caller can warn once per kind of problem.
std::vector<std::string> FitLiveUsage(NodeLiveUsage& usage,
                                      const std::vector<partition::Chip>& chips);

}  // namespace flexai::kube
