// Parsing of the simulator's --seeds and --policy lists.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "partition/result.h"

namespace flexai::sim {

// "42-51", "42,43,50" or a mix ("1-3,7").
Result<std::vector<uint64_t>> ParseSeeds(const std::string& text);
// "fgd,hi" or "all"; every name must be in `known`.
Result<std::vector<std::string>> ParsePolicies(const std::string& text,
                                               const std::vector<std::string>& known);

}  // namespace flexai::sim
