// `nodeOverrides`: sharing knobs for the nodes a label selector picks. The list is read in order
// and the first entry whose selector matches a node is the one that applies to it.
#include <utility>

#include "partition/policy/sections.h"

namespace flexai::partition::policy_yaml {
namespace {

Status ParseSelector(const MapEntry& entry, NodeSelector* out) {
  Result<MapFields> fields = MapFields::Read(entry.value, entry.path, {"matchLabels"});
  if (!fields) return fields.error();
  const MapEntry* labels = fields->Find("matchLabels");
  if (labels == nullptr) return FieldError(FieldPath(entry.path, "matchLabels"), "required");
  Result<MapFields> pairs = MapFields::Read(labels->value, labels->path);
  if (!pairs) return pairs.error();
  NodeSelector selector;
  for (const MapEntry& p : pairs->entries()) {
    if (p.key.empty()) return FieldError(p.path, "label names must not be empty");
    if (!p.value.IsScalar()) {
      return BadValue(p.path, "must be a label value (write \"\" for an empty one)", p.value);
    }
    selector.match_labels[p.key] = p.value.Scalar();
  }
  *out = std::move(selector);
  return Status::Ok();
}

Status ParseOverride(const YAML::Node& node, const std::string& path, NodeOverride* out) {
  if (!node.IsMap()) return BadValue(path, "must be a map with a selector", node);
  std::vector<std::string_view> keys = SharingKeys();
  keys.insert(keys.begin(), "selector");
  Result<MapFields> fields = MapFields::Read(node, path, keys);
  if (!fields) return fields.error();
  const MapEntry* selector = fields->Find("selector");
  if (selector == nullptr) return FieldError(FieldPath(path, "selector"), "required");
  NodeOverride entry;
  if (Status s = ParseSelector(*selector, &entry.selector); !s) return s;
  if (Status s = ReadSharingOverrides(*fields, &entry.sharing); !s) return s;
  *out = std::move(entry);
  return Status::Ok();
}

}  // namespace

Status ParseNodeOverrides(const YAML::Node& node, const std::string& path,
                          std::vector<NodeOverride>* out) {
  Result<std::vector<YAML::Node>> items = ReadList(node, path);
  if (!items) return items.error();
  std::vector<NodeOverride> overrides(items->size());
  for (size_t i = 0; i < items->size(); ++i) {
    if (Status s = ParseOverride((*items)[i], IndexPath(path, i), &overrides[i]); !s) return s;
  }
  *out = std::move(overrides);
  return Status::Ok();
}

}  // namespace flexai::partition::policy_yaml

namespace flexai::partition {

bool NodeSelector::Matches(const std::map<std::string, std::string>& node_labels) const {
  for (const auto& [key, value] : match_labels) {
    auto it = node_labels.find(key);
    if (it == node_labels.end() || it->second != value) return false;
  }
  return true;
}

}  // namespace flexai::partition
