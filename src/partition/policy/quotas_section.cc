// `quotas`: per-namespace limits on chips, memory and cores (enforced by the scheduler).
#include <algorithm>
#include <utility>

#include "partition/policy/sections.h"

namespace flexai::partition::policy_yaml {
namespace {

// Kubernetes namespace names are RFC 1123 labels: lower-case letters, digits and '-', at most 63,
// starting and ending with a letter or digit.
bool IsNamespaceName(const std::string& name) {
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  return !name.empty() && name.size() <= 63 && alnum(name.front()) && alnum(name.back()) &&
         std::all_of(name.begin(), name.end(), [&](char c) { return alnum(c) || c == '-'; });
}

Status ParseQuota(const MapEntry& entry, NamespaceQuota* out) {
  Result<MapFields> fields =
      MapFields::Read(entry.value, entry.path, {"chips", "memoryMiB", "cores"});
  if (!fields) return fields.error();
  NamespaceQuota quota;
  std::pair<const char*, std::optional<int64_t>*> targets[] = {
      {"chips", &quota.chips}, {"memoryMiB", &quota.memory_mib}, {"cores", &quota.cores}};
  for (auto& [key, target] : targets) {
    const MapEntry* e = fields->Find(key);
    if (e == nullptr) continue;
    Result<int64_t> value = ReadInt(e->value, e->path, 0);
    if (!value) return value.error();
    *target = *value;
  }
  *out = quota;
  return Status::Ok();
}

}  // namespace

Status ParseQuotasSection(const YAML::Node& node, const std::string& path,
                          std::map<std::string, NamespaceQuota>* out) {
  Result<MapFields> fields = MapFields::Read(node, path);
  if (!fields) return fields.error();
  std::map<std::string, NamespaceQuota> quotas;
  for (const MapEntry& e : fields->entries()) {
    if (!IsNamespaceName(e.key)) {
      return FieldError(e.path, "\"" + e.key +
                                    "\" is not a namespace name (lower-case letters, digits and "
                                    "'-', at most 63)");
    }
    if (Status s = ParseQuota(e, &quotas[e.key]); !s) return s;
  }
  *out = std::move(quotas);
  return Status::Ok();
}

}  // namespace flexai::partition::policy_yaml
