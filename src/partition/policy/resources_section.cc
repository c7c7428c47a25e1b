// `resources`: the extended-resource names pods use, and the units of their quantities.
#include <algorithm>
#include <utility>

#include "partition/policy/sections.h"

namespace flexai::partition::policy_yaml {
namespace {

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_';
}

// Extended resources are "<domain>/<name>" (e.g. flexai.io/gpu).
Status CheckResourceName(const std::string& name, const std::string& path) {
  size_t slash = name.find('/');
  bool well_formed =
      slash != std::string::npos && slash > 0 && slash + 1 < name.size() &&
      name.find('/', slash + 1) == std::string::npos &&
      std::all_of(name.begin(), name.end(), [](char c) { return c == '/' || IsNameChar(c); });
  if (!well_formed) {
    return FieldError(
        path, "must be an extended resource name like \"flexai.io/gpu\", got \"" + name + "\"");
  }
  return Status::Ok();
}

Status ParseNameSet(const MapEntry& entry, ResourceNameSet* out) {
  Result<MapFields> fields =
      MapFields::Read(entry.value, entry.path, {"count", "memory", "memoryPercentage", "cores"});
  if (!fields) return fields.error();
  std::pair<const char*, std::string*> targets[] = {{"count", &out->count},
                                                    {"memory", &out->memory},
                                                    {"memoryPercentage", &out->memory_percentage},
                                                    {"cores", &out->cores}};
  for (auto& [key, target] : targets) {
    if (Status s = ReadStringField(*fields, key, target); !s) return s;
  }
  return Status::Ok();
}

Status ParseUnit(const MapFields& fields, std::string_view key, std::string_view only,
                 std::string* out) {
  const MapEntry* e = fields.Find(key);
  if (e == nullptr) return Status::Ok();
  Result<std::string> unit = ReadString(e->value, e->path);
  if (!unit) return unit.error();
  if (*unit != only) {
    return FieldError(e->path,
                      "must be \"" + std::string(only) + "\" (the only unit of apiVersion " +
                          std::string(kSlicePolicyApiVersion) + "), got \"" + *unit + "\"");
  }
  *out = *unit;
  return Status::Ok();
}

}  // namespace

Status ParseResourcesSection(const YAML::Node& node, const std::string& path,
                             ResourcesSection* out) {
  Result<MapFields> fields = MapFields::Read(node, path, {"gpu", "npu", "memoryUnit", "coreUnit"});
  if (!fields) return fields.error();
  ResourcesSection section = *out;
  if (const MapEntry* e = fields->Find("gpu")) {
    if (Status s = ParseNameSet(*e, &section.gpu); !s) return s;
  }
  if (const MapEntry* e = fields->Find("npu")) {
    if (Status s = ParseNameSet(*e, &section.npu); !s) return s;
  }
  if (Status s = ParseUnit(*fields, "memoryUnit", "MiB", &section.memory_unit); !s) return s;
  if (Status s = ParseUnit(*fields, "coreUnit", "%", &section.core_unit); !s) return s;

  // Every name well formed and used once across both sets.
  std::vector<std::pair<std::string, const std::string*>> names;
  for (auto [kind, set] : {std::pair{"gpu", &section.gpu}, std::pair{"npu", &section.npu}}) {
    std::string set_path = FieldPath(path, kind);
    names.emplace_back(FieldPath(set_path, "count"), &set->count);
    names.emplace_back(FieldPath(set_path, "memory"), &set->memory);
    names.emplace_back(FieldPath(set_path, "memoryPercentage"), &set->memory_percentage);
    names.emplace_back(FieldPath(set_path, "cores"), &set->cores);
  }
  for (size_t i = 0; i < names.size(); ++i) {
    if (Status s = CheckResourceName(*names[i].second, names[i].first); !s) return s;
    for (size_t j = 0; j < i; ++j) {
      if (*names[j].second == *names[i].second) {
        return FieldError(names[i].first,
                          "\"" + *names[i].second + "\" is already used by " + names[j].first);
      }
    }
  }
  *out = std::move(section);
  return Status::Ok();
}

}  // namespace flexai::partition::policy_yaml
