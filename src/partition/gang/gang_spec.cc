#include "partition/gang/gang_spec.h"

#include <charconv>

namespace flexai::partition {
namespace {

std::optional<int> WholeNumber(const std::string& text, int lo, int hi) {
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < lo || value > hi) {
    return std::nullopt;
  }
  return value;
}

}  // namespace

Result<std::optional<GangSpec>> ParseGangSpec(const std::string& ns, const std::string& name,
                                              const std::string& size_text,
                                              const std::string& timeout_text,
                                              std::chrono::seconds default_timeout) {
  if (name.empty()) return std::optional<GangSpec>();
  GangSpec spec;
  spec.key = ns + "/" + name;
  auto size = WholeNumber(size_text, 1, kMaxGangSize);
  if (!size) {
    return Error{"annotation flexai.io/gang-size: \"" + size_text +
                 "\" is not a whole number in 1.." + std::to_string(kMaxGangSize) +
                 " (required with flexai.io/gang)"};
  }
  spec.size = *size;
  spec.timeout = default_timeout;
  if (!timeout_text.empty()) {
    auto seconds = WholeNumber(timeout_text, 1, 86400);
    if (!seconds) {
      return Error{"annotation flexai.io/gang-timeout-seconds: \"" + timeout_text +
                   "\" is not a whole number of seconds in 1..86400"};
    }
    spec.timeout = std::chrono::seconds(*seconds);
  }
  return std::optional<GangSpec>(std::move(spec));
}

}  // namespace flexai::partition
