// `sharing`: how far one chip is split (max slices, memory oversubscription, reserved memory) and
// how slices are isolated. Node overrides reuse these keys.
#include "partition/policy/sections.h"

namespace flexai::partition::policy_yaml {
namespace {

// kubelet takes a node's whole device list (maxSlicesPerChip devices per chip) in one gRPC message
// of at most 4 MiB, 63 bytes a device with NVIDIA UUIDs, 74 with Ascend's: 1024 slices keep 64
// GPUs or 55 NPUs, more than a node has, under it. A larger list reaches kubelet as nothing.
constexpr int64_t kMaxSlicesPerChip = 1024;
// Upper bounds that keep the arithmetic in range; real values are far below them.
constexpr double kMaxOversubscription = 100.0;
constexpr double kMaxReservedMiB = 1024.0 * 1024 * 1024;  // 1 PiB

}  // namespace

std::vector<std::string_view> SharingKeys() {
  return {"maxSlicesPerChip", "memoryOversubscription", "reservedMemoryMiB", "isolationMode"};
}

Status ReadSharingOverrides(const MapFields& fields, SharingOverrides* out) {
  SharingOverrides knobs;
  if (const MapEntry* e = fields.Find("maxSlicesPerChip")) {
    Result<int64_t> v = ReadInt(e->value, e->path, 1);
    if (!v) return v.error();
    if (*v > kMaxSlicesPerChip) {
      return FieldError(e->path, "must be at most " + std::to_string(kMaxSlicesPerChip) +
                                     " (kubelet takes the whole device list, chips x slices, in "
                                     "one message of at most 4 MiB), got " +
                                     std::to_string(*v));
    }
    knobs.max_slices_per_chip = static_cast<int>(*v);
  }
  if (const MapEntry* e = fields.Find("memoryOversubscription")) {
    Result<double> v = ReadNumber(e->value, e->path, 1.0);
    if (!v) return v.error();
    if (Status s = CheckAtMost(e->path, *v, kMaxOversubscription); !s) return s;
    knobs.memory_oversubscription = *v;
  }
  if (const MapEntry* e = fields.Find("reservedMemoryMiB")) {
    Result<int64_t> v = ReadInt(e->value, e->path, 0);
    if (!v) return v.error();
    if (Status s = CheckAtMost(e->path, static_cast<double>(*v), kMaxReservedMiB); !s) return s;
    knobs.reserved_memory_mib = *v;
  }
  if (const MapEntry* e = fields.Find("isolationMode")) {
    std::optional<IsolationMode> mode;
    if (e->value.IsScalar()) mode = ParseIsolationMode(e->value.Scalar());
    if (!mode) return BadValue(e->path, "must be one of mps, hook, none", e->value);
    knobs.isolation_mode = *mode;
  }
  *out = knobs;
  return Status::Ok();
}

Status ParseSharingSection(const YAML::Node& node, const std::string& path, SharingSection* out) {
  Result<MapFields> fields = MapFields::Read(node, path, SharingKeys());
  if (!fields) return fields.error();
  SharingOverrides given;
  if (Status s = ReadSharingOverrides(*fields, &given); !s) return s;
  *out = given.ApplyTo(*out);
  return Status::Ok();
}

}  // namespace flexai::partition::policy_yaml

namespace flexai::partition {

std::string_view IsolationModeName(IsolationMode mode) {
  switch (mode) {
    case IsolationMode::kMps:
      return "mps";
    case IsolationMode::kHook:
      return "hook";
    case IsolationMode::kNone:
      return "none";
  }
  return "unknown";
}

std::optional<IsolationMode> ParseIsolationMode(std::string_view name) {
  if (name == "mps") return IsolationMode::kMps;
  if (name == "hook") return IsolationMode::kHook;
  if (name == "none") return IsolationMode::kNone;
  return std::nullopt;
}

SharingSection SharingOverrides::ApplyTo(SharingSection base) const {
  if (max_slices_per_chip) base.max_slices_per_chip = *max_slices_per_chip;
  if (memory_oversubscription) base.memory_oversubscription = *memory_oversubscription;
  if (reserved_memory_mib) base.reserved_memory_mib = *reserved_memory_mib;
  if (isolation_mode) base.isolation_mode = *isolation_mode;
  return base;
}

}  // namespace flexai::partition
