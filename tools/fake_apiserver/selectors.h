// Label and field selectors as the API server accepts them in list and watch queries
// (equality-based only: "a=b", "a==b", "a!=b", "a", "!a", joined by commas).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace flexai::fake {

struct SelectorTerm {
  std::string key;
  std::string value;
  enum class Op { kEquals, kNotEquals, kExists, kNotExists } op = Op::kEquals;
};

struct Selector {
  std::vector<SelectorTerm> terms;
  bool empty() const { return terms.empty(); }
};

Selector ParseSelector(const std::string& text);
// Label selector: terms look at metadata.labels.
bool MatchesLabels(const Selector& selector, const nlohmann::json& object);
// Field selector: keys are dotted paths into the object (spec.nodeName, status.phase,
// metadata.name); a missing field reads as "".
bool MatchesFields(const Selector& selector, const nlohmann::json& object);

}  // namespace flexai::fake
