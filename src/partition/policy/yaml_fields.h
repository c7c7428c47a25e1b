// Reading policy fields out of a yaml-cpp tree with the field path at hand, so that every error
// says where it is ("sharing.maxSlicesPerChip: must be ..."). Internal to the policy loader.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "partition/result.h"

namespace flexai::partition::policy_yaml {

// "sharing" + "maxSlicesPerChip" -> "sharing.maxSlicesPerChip". Keys with characters other than
// letters, digits, '_' and '-' are quoted: matchLabels["flexai.io/pool"].
std::string FieldPath(std::string_view parent, std::string_view key);
// "nodeOverrides" + 2 -> "nodeOverrides[2]".
std::string IndexPath(std::string_view parent, size_t index);
// How a value reads in an error: "abc" (a plain scalar), the quoted string "10", a map, a list,
// nothing.
std::string Describe(const YAML::Node& node);
// "path: reason".
Error FieldError(std::string_view path, std::string_view reason);
// "path: <what>, got <Describe(node)>".
Error BadValue(std::string_view path, std::string_view what, const YAML::Node& node);

struct MapEntry {
  std::string key;
  std::string path;  // FieldPath(parent, key)
  YAML::Node value;
};

// The entries of a YAML map, checked: scalar keys, none repeated and, when `allowed` is not
// empty, each one of `allowed`. A null node (a key with nothing after it) reads as an empty map.
class MapFields {
 public:
  static Result<MapFields> Read(const YAML::Node& node, std::string path,
                                const std::vector<std::string_view>& allowed = {});

  const std::string& path() const { return path_; }
  const std::vector<MapEntry>& entries() const { return entries_; }
  // The entry for `key`, or nullptr when it is absent.
  const MapEntry* Find(std::string_view key) const;

 private:
  std::string path_;
  std::vector<MapEntry> entries_;
};

// The items of a YAML list (null reads as empty), or an error when `node` is something else.
Result<std::vector<YAML::Node>> ReadList(const YAML::Node& node, std::string_view path);

// Scalar readers: an error names `path` and the expected form. Numbers must be plain (unquoted)
// decimal scalars.
Result<int64_t> ReadInt(const YAML::Node& node, std::string_view path, int64_t min,
                        int64_t max = std::numeric_limits<int64_t>::max());
// A finite number; `max` may be infinity (no upper bound).
Result<double> ReadNumber(const YAML::Node& node, std::string_view path, double min,
                          double max = std::numeric_limits<double>::infinity());
// "path: must be at most <max>, got <value>" when `value` > `max`.
Status CheckAtMost(std::string_view path, double value, double max);
// Any scalar, quoted or not; `allow_empty` permits "".
Result<std::string> ReadString(const YAML::Node& node, std::string_view path,
                               bool allow_empty = false);

// Reads an optional field of `fields` into `*out` (left unchanged when the key is absent).
Status ReadIntField(const MapFields& fields, std::string_view key, int64_t min, int64_t max,
                    int64_t* out);
Status ReadStringField(const MapFields& fields, std::string_view key, std::string* out);

}  // namespace flexai::partition::policy_yaml
