// What a gang member says about its gang (docs/hi-scheduler.md, "Gangs"): the gang's name (one
// per namespace), how many members it has and how long reservations may wait for the rest.
// Parsed from plain annotation values; the adapter reads them off the pod.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "partition/result.h"

namespace flexai::partition {

struct GangSpec {
  std::string key;  // "<namespace>/<gang name>"
  int size = 1;
  std::chrono::seconds timeout{120};
};

inline constexpr int kMaxGangSize = 10000;

// nullopt when `name` is empty (not a gang member); an Error naming the annotation when a value
// cannot be used. `timeout_text` empty means `default_timeout`.
Result<std::optional<GangSpec>> ParseGangSpec(const std::string& ns, const std::string& name,
                                              const std::string& size_text,
                                              const std::string& timeout_text,
                                              std::chrono::seconds default_timeout);

}  // namespace flexai::partition
