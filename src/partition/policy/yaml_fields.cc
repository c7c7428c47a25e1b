#include "partition/policy/yaml_fields.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <sstream>

namespace flexai::partition::policy_yaml {
namespace {

bool IsPlainKeyChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

// Plain scalars carry the non-specific tag "?"; quoted ones "!". Explicit core-schema tags on a
// number are accepted as well.
bool IsPlainOr(const YAML::Node& node, std::string_view core_tag) {
  return node.Tag() == "?" || node.Tag() == core_tag;
}

// Integral values print without exponent ("1048576"); others with up to 15 digits.
std::string FormatPlain(double value) {
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return std::to_string(static_cast<int64_t>(value));
  }
  std::ostringstream out;
  out.precision(15);
  out << value;
  return out.str();
}

// A number as a ratio reads: "1.0", "2.5".
std::string FormatNumber(double value) {
  std::string text = FormatPlain(value);
  if (text.find_first_of(".e") == std::string::npos) text += ".0";
  return text;
}

std::string Range(int64_t min, int64_t max) {
  if (max == std::numeric_limits<int64_t>::max()) return ">= " + std::to_string(min);
  return "within " + std::to_string(min) + ".." + std::to_string(max);
}

}  // namespace

std::string FieldPath(std::string_view parent, std::string_view key) {
  std::string out(parent);
  bool plain = !key.empty() && std::all_of(key.begin(), key.end(), IsPlainKeyChar);
  if (plain) {
    if (!out.empty()) out += '.';
    out += key;
  } else {
    out += "[\"";
    out += key;
    out += "\"]";
  }
  return out;
}

std::string IndexPath(std::string_view parent, size_t index) {
  return std::string(parent) + "[" + std::to_string(index) + "]";
}

std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      if (node.Tag() == "!") return "the quoted string \"" + node.Scalar() + "\"";
      return "\"" + node.Scalar() + "\"";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

Error FieldError(std::string_view path, std::string_view reason) {
  return Error{std::string(path) + ": " + std::string(reason)};
}

Error BadValue(std::string_view path, std::string_view what, const YAML::Node& node) {
  return FieldError(path, std::string(what) + ", got " + Describe(node));
}

Result<MapFields> MapFields::Read(const YAML::Node& node, std::string path,
                                  const std::vector<std::string_view>& allowed) {
  MapFields fields;
  fields.path_ = std::move(path);
  if (node.IsNull()) return fields;
  if (!node.IsMap()) return BadValue(fields.path_, "must be a map", node);
  for (const auto& item : node) {
    const YAML::Node& key_node = item.first;
    if (!key_node.IsScalar()) {
      return FieldError(fields.path_, "keys must be plain names, got " + Describe(key_node));
    }
    const std::string& key = key_node.Scalar();
    std::string key_path = FieldPath(fields.path_, key);
    if (fields.Find(key) != nullptr) return FieldError(key_path, "given more than once");
    if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::string known;
      for (std::string_view a : allowed) {
        if (!known.empty()) known += ", ";
        known += a;
      }
      return FieldError(key_path, "unknown field; expected one of: " + known);
    }
    fields.entries_.push_back({key, std::move(key_path), item.second});
  }
  return fields;
}

const MapEntry* MapFields::Find(std::string_view key) const {
  for (const MapEntry& e : entries_) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

Result<std::vector<YAML::Node>> ReadList(const YAML::Node& node, std::string_view path) {
  std::vector<YAML::Node> items;
  if (node.IsNull()) return items;
  if (!node.IsSequence()) return BadValue(path, "must be a list", node);
  for (const YAML::Node& item : node) items.push_back(item);
  return items;
}

Result<int64_t> ReadInt(const YAML::Node& node, std::string_view path, int64_t min, int64_t max) {
  std::string what = "must be an integer " + Range(min, max);
  if (!node.IsScalar() || !IsPlainOr(node, "tag:yaml.org,2002:int")) {
    return BadValue(path, what, node);
  }
  const std::string& text = node.Scalar();
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || value < min || value > max) {
    return BadValue(path, what, node);
  }
  return value;
}

Result<double> ReadNumber(const YAML::Node& node, std::string_view path, double min, double max) {
  std::string what = "must be a number " +
                     (std::isinf(max) ? ">= " + FormatNumber(min)
                                      : "within " + FormatNumber(min) + ".." + FormatNumber(max));
  if (!node.IsScalar() ||
      !(IsPlainOr(node, "tag:yaml.org,2002:float") || node.Tag() == "tag:yaml.org,2002:int")) {
    return BadValue(path, what, node);
  }
  const std::string& text = node.Scalar();
  double value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || !std::isfinite(value) || value < min || value > max) {
    return BadValue(path, what, node);
  }
  return value;
}

Status CheckAtMost(std::string_view path, double value, double max) {
  if (value <= max) return Status::Ok();
  return FieldError(path, "must be at most " + FormatPlain(max) + ", got " + FormatPlain(value));
}

Result<std::string> ReadString(const YAML::Node& node, std::string_view path, bool allow_empty) {
  if (!node.IsScalar() || (!allow_empty && node.Scalar().empty())) {
    return BadValue(path, allow_empty ? "must be a string" : "must be a non-empty string", node);
  }
  return node.Scalar();
}

Status ReadIntField(const MapFields& fields, std::string_view key, int64_t min, int64_t max,
                    int64_t* out) {
  const MapEntry* e = fields.Find(key);
  if (e == nullptr) return Status::Ok();
  Result<int64_t> value = ReadInt(e->value, e->path, min, max);
  if (!value) return value.error();
  *out = *value;
  return Status::Ok();
}

Status ReadStringField(const MapFields& fields, std::string_view key, std::string* out) {
  const MapEntry* e = fields.Find(key);
  if (e == nullptr) return Status::Ok();
  Result<std::string> value = ReadString(e->value, e->path);
  if (!value) return value.error();
  *out = *value;
  return Status::Ok();
}

}  // namespace flexai::partition::policy_yaml
