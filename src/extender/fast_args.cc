#include "extender/fast_args.h"

namespace flexai::extender {
namespace {

class Scanner {
 public:
  explicit Scanner(std::string_view text) : s_(text) {}

  void SkipSpace() {
    while (i_ < s_.size() &&
           (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\r' || s_[i_] == '\t')) {
      ++i_;
    }
  }
  bool Eat(char c) {
    SkipSpace();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  bool AtEnd() {
    SkipSpace();
    return i_ == s_.size();
  }
  // A plain ASCII string without escapes; false otherwise (the slow path handles the rest).
  bool SimpleString(std::string_view& out) {
    SkipSpace();
    if (i_ >= s_.size() || s_[i_] != '"') return false;
    size_t start = ++i_;
    while (i_ < s_.size()) {
      unsigned char c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') {
        out = s_.substr(start, i_ - start);
        ++i_;
        return true;
      }
      if (c == '\\' || c < 0x20 || c >= 0x80) return false;
      ++i_;
    }
    return false;
  }
  // Skips one JSON value (any kind), returning its text; brackets must balance outside strings.
  bool SkipValue(std::string_view& out) {
    SkipSpace();
    size_t start = i_;
    int depth = 0;
    bool in_string = false;
    for (; i_ < s_.size(); ++i_) {
      char c = s_[i_];
      if (in_string) {
        if (c == '\\') {
          ++i_;
        } else if (c == '"') {
          in_string = false;
          if (depth == 0) {
            ++i_;
            break;
          }
        }
        continue;
      }
      if (c == '"') {
        in_string = true;
      } else if (c == '{' || c == '[') {
        ++depth;
      } else if (c == '}' || c == ']') {
        if (depth == 0) break;  // end of the enclosing object
        if (--depth == 0) {
          ++i_;
          break;
        }
      } else if (depth == 0 && (c == ',' || c == ' ' || c == '\n' || c == '\r' || c == '\t')) {
        break;
      }
    }
    if (in_string || depth != 0 || i_ == start) return false;
    out = s_.substr(start, i_ - start);
    return true;
  }

 private:
  std::string_view s_;
  size_t i_ = 0;
};

}  // namespace

bool FastParseNodeNamesArgs(std::string_view body, nlohmann::json& pod,
                            std::vector<std::string>& names) {
  Scanner in(body);
  if (!in.Eat('{')) return false;
  bool have_pod = false, have_names = false, have_nodes = false;
  if (in.Eat('}')) return false;
  do {
    std::string_view key;
    if (!in.SimpleString(key) || !in.Eat(':')) return false;
    if (key == "Pod") {
      std::string_view text;
      if (have_pod || !in.SkipValue(text)) return false;
      pod = nlohmann::json::parse(text, nullptr, false);
      if (pod.is_discarded() || !pod.is_object()) return false;
      have_pod = true;
    } else if (key == "NodeNames") {
      if (have_names || !in.Eat('[')) return false;
      have_names = true;
      if (!in.Eat(']')) {
        do {
          std::string_view name;
          if (!in.SimpleString(name)) return false;
          names.emplace_back(name);
        } while (in.Eat(','));
        if (!in.Eat(']')) return false;
      }
    } else if (key == "Nodes") {
      std::string_view text;
      if (have_nodes || !in.SkipValue(text) || text != "null") return false;
      have_nodes = true;
    } else {
      return false;  // unknown keys: let the full parser decide
    }
  } while (in.Eat(','));
  return in.Eat('}') && in.AtEnd() && have_pod && have_names;
}

void AppendJsonString(std::string& out, std::string_view text) {
  static const char* kHex = "0123456789abcdef";
  out += '"';
  // Node names need no escapes: append the clean prefix in one go.
  size_t clean = 0;
  while (clean < text.size()) {
    unsigned char c = static_cast<unsigned char>(text[clean]);
    if (c == '"' || c == '\\' || c < 0x20) break;
    ++clean;
  }
  out.append(text.data(), clean);
  for (char ch : text.substr(clean)) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += ch;
    }
  }
  out += '"';
}

}  // namespace flexai::extender
