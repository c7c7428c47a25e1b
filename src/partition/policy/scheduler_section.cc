// `scheduler`: the placement policy the Hi Scheduler runs and its weights. The names a build
// implements are the caller's to give (PolicyParseOptions, CheckSchedulerKnobs).
#include <algorithm>
#include <cmath>
#include <utility>

#include "partition/policy/sections.h"

namespace flexai::partition::policy_yaml {
namespace {

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

bool Contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

Status ParseSchedulerSection(const YAML::Node& node, const std::string& path,
                             const PolicyParseOptions& options, SchedulerSection* out) {
  Result<MapFields> fields = MapFields::Read(node, path, {"policy", "weights"});
  if (!fields) return fields.error();
  SchedulerSection section = *out;
  if (Status s = ReadStringField(*fields, "policy", &section.policy); !s) return s;
  if (const MapEntry* w = fields->Find("weights")) {
    Result<MapFields> weights = MapFields::Read(w->value, w->path);
    if (!weights) return weights.error();
    section.weights.clear();  // a given table replaces the default one
    for (const MapEntry& e : weights->entries()) {
      if (e.key.empty()) return FieldError(e.path, "weight names must not be empty");
      Result<double> value = ReadNumber(e.value, e.path, 0.0);
      if (!value) return value.error();
      section.weights[e.key] = *value;
    }
  }
  if (Status s = CheckSchedulerSection(section, path, options.known_scheduler_policies,
                                       options.known_scheduler_weights);
      !s) {
    return s;
  }
  *out = std::move(section);
  return Status::Ok();
}

Status CheckSchedulerSection(const SchedulerSection& section, const std::string& path,
                             const std::vector<std::string>& known_policies,
                             const std::vector<std::string>& known_weights) {
  if (!known_policies.empty() && !Contains(known_policies, section.policy)) {
    return FieldError(FieldPath(path, "policy"), "unknown policy \"" + section.policy +
                                                     "\"; known: " + JoinNames(known_policies));
  }
  if (!known_weights.empty()) {
    for (const auto& [name, weight] : section.weights) {
      if (!Contains(known_weights, name)) {
        return FieldError(FieldPath(FieldPath(path, "weights"), name),
                          "unknown weight; known: " + JoinNames(known_weights));
      }
    }
  }
  return Status::Ok();
}

}  // namespace flexai::partition::policy_yaml
