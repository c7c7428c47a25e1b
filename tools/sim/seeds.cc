#include "sim/seeds.h"

#include <algorithm>
#include <charconv>
#include <sstream>

namespace flexai::sim {
namespace {

bool ParseU64(const std::string& s, uint64_t& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

std::vector<std::string> SplitComma(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream ss(text);
  std::string part;
  while (std::getline(ss, part, ',')) parts.push_back(part);
  return parts;
}

}  // namespace

Result<std::vector<uint64_t>> ParseSeeds(const std::string& text) {
  std::vector<uint64_t> seeds;
  for (const auto& part : SplitComma(text)) {
    size_t dash = part.find('-');
    uint64_t a = 0, b = 0;
    if (dash == std::string::npos) {
      if (!ParseU64(part, a)) return Error{"--seeds: '" + part + "' is not a seed"};
      seeds.push_back(a);
      continue;
    }
    if (!ParseU64(part.substr(0, dash), a) || !ParseU64(part.substr(dash + 1), b) || b < a) {
      return Error{"--seeds: '" + part + "' is not a range like 42-51"};
    }
    if (b - a > 10000) return Error{"--seeds: range '" + part + "' is too long"};
    for (uint64_t s = a; s <= b; ++s) seeds.push_back(s);
  }
  if (seeds.empty()) return Error{"--seeds: no seed given"};
  return seeds;
}

Result<std::vector<std::string>> ParsePolicies(const std::string& text,
                                               const std::vector<std::string>& known) {
  if (text == "all") return known;
  std::vector<std::string> out;
  for (const auto& name : SplitComma(text)) {
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      return Error{"--policy: unknown policy '" + name + "' (known: " + list + ", or all)"};
    }
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
  }
  if (out.empty()) return Error{"--policy: no policy given"};
  return out;
}

Result<std::map<std::string, double>> ParseWeights(const std::vector<std::string>& args) {
  std::map<std::string, double> weights;
  for (const auto& arg : args) {
    size_t eq = arg.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Error{"--weight: '" + arg + "' is not NAME=VALUE"};
    }
    double value = 0;
    std::string text = arg.substr(eq + 1);
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || p != text.data() + text.size()) {
      return Error{"--weight: value of '" + arg + "' is not a number"};
    }
    weights[arg.substr(0, eq)] = value;
  }
  return weights;
}

}  // namespace flexai::sim
