// `ascend`: the vNPU templates each Ascend chip model can be cut into (Ascend slices come in these
// fixed sizes, not in arbitrary amounts).
#include <algorithm>
#include <tuple>
#include <utility>

#include "partition/policy/sections.h"

namespace flexai::partition::policy_yaml {
namespace {

constexpr int64_t kMaxAiCores = 1024;
constexpr int64_t kMaxMemoryMiB = int64_t{1} << 30;  // 1 PiB

Status ParseTemplate(const MapEntry& entry, const AscendModel& model, VnpuTemplate* out) {
  Result<MapFields> fields =
      MapFields::Read(entry.value, entry.path, {"aiCores", "aiCpus", "memoryMiB"});
  if (!fields) return fields.error();
  for (std::string_view required : {"aiCores", "memoryMiB"}) {
    if (fields->Find(required) == nullptr) {
      return FieldError(FieldPath(entry.path, required), "required");
    }
  }
  VnpuTemplate t;
  int64_t cores = 0, cpus = 0;
  if (Status s = ReadIntField(*fields, "aiCores", 1, model.ai_cores, &cores); !s) return s;
  if (Status s = ReadIntField(*fields, "aiCpus", 0, kMaxAiCores, &cpus); !s) return s;
  if (Status s = ReadIntField(*fields, "memoryMiB", 1, model.memory_mib, &t.memory_mib); !s) {
    return s;
  }
  if (model.ai_cpus > 0 && cpus > model.ai_cpus) {
    return FieldError(FieldPath(entry.path, "aiCpus"), "must be at most the model's aiCpus (" +
                                                           std::to_string(model.ai_cpus) +
                                                           "), got " + std::to_string(cpus));
  }
  t.ai_cores = static_cast<int>(cores);
  t.ai_cpus = static_cast<int>(cpus);
  *out = t;
  return Status::Ok();
}

Status ParseModel(const MapEntry& entry, AscendModel* out) {
  Result<MapFields> fields =
      MapFields::Read(entry.value, entry.path, {"aiCores", "aiCpus", "memoryMiB", "templates"});
  if (!fields) return fields.error();
  for (std::string_view required : {"aiCores", "memoryMiB"}) {
    if (fields->Find(required) == nullptr) {
      return FieldError(FieldPath(entry.path, required), "required");
    }
  }
  AscendModel model;
  int64_t cores = 0, cpus = 0;
  if (Status s = ReadIntField(*fields, "aiCores", 1, kMaxAiCores, &cores); !s) return s;
  if (Status s = ReadIntField(*fields, "aiCpus", 0, kMaxAiCores, &cpus); !s) return s;
  if (Status s = ReadIntField(*fields, "memoryMiB", 1, kMaxMemoryMiB, &model.memory_mib); !s) {
    return s;
  }
  model.ai_cores = static_cast<int>(cores);
  model.ai_cpus = static_cast<int>(cpus);
  if (const MapEntry* t = fields->Find("templates")) {
    Result<MapFields> templates = MapFields::Read(t->value, t->path);
    if (!templates) return templates.error();
    for (const MapEntry& te : templates->entries()) {
      if (te.key.empty()) return FieldError(te.path, "template names must not be empty");
      if (Status s = ParseTemplate(te, model, &model.templates[te.key]); !s) return s;
    }
  }
  *out = std::move(model);
  return Status::Ok();
}

}  // namespace

Status ParseAscendSection(const YAML::Node& node, const std::string& path, AscendSection* out) {
  Result<MapFields> fields = MapFields::Read(node, path, {"models"});
  if (!fields) return fields.error();
  const MapEntry* models = fields->Find("models");
  if (models == nullptr) return Status::Ok();
  Result<MapFields> entries = MapFields::Read(models->value, models->path);
  if (!entries) return entries.error();
  AscendSection section;  // a given model table replaces the default one
  for (const MapEntry& e : entries->entries()) {
    if (e.key.empty()) return FieldError(e.path, "model names must not be empty");
    if (Status s = ParseModel(e, &section.models[e.key]); !s) return s;
  }
  *out = std::move(section);
  return Status::Ok();
}

AscendSection DefaultAscendSection() {
  // The templates of the Ascend device plugin's common chips (as HAMi ships them).
  AscendSection s;
  s.models["910A"] = {30,
                      0,
                      32768,
                      {{"vir02", {2, 0, 2184}},
                       {"vir04", {4, 0, 4369}},
                       {"vir08", {8, 0, 8738}},
                       {"vir16", {16, 0, 17476}}}};
  s.models["910B3"] = {
      20, 7, 65536, {{"vir05_1c_16g", {5, 1, 16384}}, {"vir10_3c_32g", {10, 3, 32768}}}};
  s.models["310P3"] = {
      8, 7, 24576, {{"vir01", {1, 1, 3072}}, {"vir02", {2, 2, 6144}}, {"vir04", {4, 4, 12288}}}};
  return s;
}

}  // namespace flexai::partition::policy_yaml

namespace flexai::partition {

std::optional<NamedVnpuTemplate> SmallestVnpuTemplate(const SlicePolicy& policy,
                                                      std::string_view model, int64_t memory_mib,
                                                      int ai_cores) {
  auto it = policy.ascend.models.find(std::string(model));
  if (it == policy.ascend.models.end()) return std::nullopt;
  std::optional<NamedVnpuTemplate> best;
  for (const auto& [name, t] : it->second.templates) {
    if (t.memory_mib < memory_mib || t.ai_cores < ai_cores) continue;
    if (!best || std::tie(t.memory_mib, t.ai_cores, name) <
                     std::tie(best->spec.memory_mib, best->spec.ai_cores, best->name)) {
      best = NamedVnpuTemplate{name, t};
    }
  }
  return best;
}

}  // namespace flexai::partition
