#include "selectors.h"

#include <functional>

namespace flexai::fake {
namespace {

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(' ');
  size_t e = s.find_last_not_of(' ');
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::string FieldValue(const nlohmann::json& object, const std::string& path) {
  const nlohmann::json* node = &object;
  size_t start = 0;
  while (start <= path.size()) {
    size_t dot = path.find('.', start);
    std::string part = path.substr(start, dot == std::string::npos ? dot : dot - start);
    if (!node->is_object() || !node->contains(part)) return "";
    node = &(*node)[part];
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (node->is_string()) return node->get<std::string>();
  if (node->is_null()) return "";
  return node->dump();
}

bool Matches(const Selector& selector,
             const std::function<const std::string*(const std::string&)>& lookup) {
  for (const auto& t : selector.terms) {
    const std::string* v = lookup(t.key);
    switch (t.op) {
      case SelectorTerm::Op::kEquals:
        if (!v || *v != t.value) return false;
        break;
      case SelectorTerm::Op::kNotEquals:
        if (v && *v == t.value) return false;
        break;
      case SelectorTerm::Op::kExists:
        if (!v) return false;
        break;
      case SelectorTerm::Op::kNotExists:
        if (v) return false;
        break;
    }
  }
  return true;
}

}  // namespace

Selector ParseSelector(const std::string& text) {
  Selector selector;
  size_t start = 0;
  while (start < text.size()) {
    size_t comma = text.find(',', start);
    std::string term = Trim(text.substr(start, comma == std::string::npos ? comma : comma - start));
    start = comma == std::string::npos ? text.size() : comma + 1;
    if (term.empty()) continue;
    SelectorTerm t;
    if (size_t p = term.find("!="); p != std::string::npos) {
      t = {Trim(term.substr(0, p)), Trim(term.substr(p + 2)), SelectorTerm::Op::kNotEquals};
    } else if (size_t q = term.find("=="); q != std::string::npos) {
      t = {Trim(term.substr(0, q)), Trim(term.substr(q + 2)), SelectorTerm::Op::kEquals};
    } else if (size_t r = term.find('='); r != std::string::npos) {
      t = {Trim(term.substr(0, r)), Trim(term.substr(r + 1)), SelectorTerm::Op::kEquals};
    } else if (term[0] == '!') {
      t = {Trim(term.substr(1)), "", SelectorTerm::Op::kNotExists};
    } else {
      t = {term, "", SelectorTerm::Op::kExists};
    }
    selector.terms.push_back(std::move(t));
  }
  return selector;
}

bool MatchesLabels(const Selector& selector, const nlohmann::json& object) {
  if (selector.empty()) return true;
  static const nlohmann::json kEmpty = nlohmann::json::object();
  const nlohmann::json* labels = &kEmpty;
  if (object.contains("metadata") && object["metadata"].contains("labels") &&
      object["metadata"]["labels"].is_object()) {
    labels = &object["metadata"]["labels"];
  }
  std::string scratch;
  return Matches(selector, [&](const std::string& key) -> const std::string* {
    auto it = labels->find(key);
    if (it == labels->end() || !it->is_string()) return nullptr;
    scratch = it->get<std::string>();
    return &scratch;
  });
}

bool MatchesFields(const Selector& selector, const nlohmann::json& object) {
  if (selector.empty()) return true;
  std::string scratch;
  return Matches(selector, [&](const std::string& key) -> const std::string* {
    scratch = FieldValue(object, key);
    return &scratch;  // fields always "exist" (empty when absent), as in the API server
  });
}

}  // namespace flexai::fake
