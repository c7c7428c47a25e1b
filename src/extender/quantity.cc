#include "extender/quantity.h"

#include <cmath>
#include <cstdlib>

namespace flexai::extender {
namespace {

// Value in base units (bytes, cores) as a double; nullopt when malformed.
std::optional<double> ParseQuantity(const nlohmann::json& q) {
  if (q.is_number()) return q.get<double>();
  if (!q.is_string()) return std::nullopt;
  std::string s = q.get<std::string>();
  if (s.empty() || s.size() > 64) return std::nullopt;
  char* end = nullptr;
  double value = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || !std::isfinite(value) || value < 0) return std::nullopt;
  std::string suffix(end);
  static const std::pair<const char*, double> kSuffixes[] = {{"", 1},
                                                             {"m", 1e-3},
                                                             {"k", 1e3},
                                                             {"M", 1e6},
                                                             {"G", 1e9},
                                                             {"T", 1e12},
                                                             {"P", 1e15},
                                                             {"Ki", 1024.0},
                                                             {"Mi", 1048576.0},
                                                             {"Gi", 1073741824.0},
                                                             {"Ti", 1099511627776.0}};
  for (const auto& [name, factor] : kSuffixes) {
    if (suffix == name) return value * factor;
  }
  return std::nullopt;
}

}  // namespace

std::optional<int64_t> ParseCpuMilli(const nlohmann::json& quantity) {
  auto v = ParseQuantity(quantity);
  if (!v || *v > 1e12) return std::nullopt;
  return static_cast<int64_t>(std::ceil(*v * 1000.0 - 1e-9));
}

std::optional<int64_t> ParseMemoryMib(const nlohmann::json& quantity) {
  auto v = ParseQuantity(quantity);
  if (!v || *v > 1e18) return std::nullopt;
  return static_cast<int64_t>(std::ceil(*v / 1048576.0 - 1e-9));
}

std::optional<int64_t> ParseCount(const nlohmann::json& quantity) {
  if (quantity.is_number_integer()) {
    int64_t v = quantity.get<int64_t>();
    return v >= 0 ? std::optional<int64_t>(v) : std::nullopt;
  }
  if (!quantity.is_string()) return std::nullopt;
  std::string s = quantity.get<std::string>();
  if (s.empty() || s.size() > 18) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

}  // namespace flexai::extender
