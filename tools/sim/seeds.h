// Parsing of the simulator's --seeds, --policy and --weight arguments.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "partition/result.h"

namespace flexai::sim {

// "42-51", "42,43,50" or a mix ("1-3,7").
Result<std::vector<uint64_t>> ParseSeeds(const std::string& text);
// "fgd,hi" or "all"; every name must be in `known`.
Result<std::vector<std::string>> ParsePolicies(const std::string& text,
                                               const std::vector<std::string>& known);

// "name=value" pairs of --weight.
Result<std::map<std::string, double>> ParseWeights(const std::vector<std::string>& args);

}  // namespace flexai::sim
