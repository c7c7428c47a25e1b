// `sharing`: how far one chip is split (max slices, memory oversubscription, reserved memory) and
// how slices are isolated. Node overrides reuse these keys.
#include "partition/policy/sections.h"

namespace flexai::partition::policy_yaml {
namespace {

// Upper bounds that keep the arithmetic in range; real values are far below them.
constexpr double kMaxSlicesLimit = 1 << 20;  // ChipCapacity's "no limit"
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
    if (Status s = CheckAtMost(e->path, static_cast<double>(*v), kMaxSlicesLimit); !s) return s;
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
