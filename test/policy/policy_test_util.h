// Shared by the policy tests: parse a policy body under the required header, and read back the
// error it gives.
#pragma once

#include <string>
#include <string_view>

#include "partition/policy/slice_policy.h"

namespace flexai::partition::testing {

inline Result<SlicePolicy> ParseBody(std::string_view body,
                                     const PolicyParseOptions& options = {}) {
  std::string text = "apiVersion: flexai.io/v1\nkind: SlicePolicy\n" + std::string(body);
  return ParseSlicePolicy(text, "policy.yaml", options);
}

// The error message of parsing `body`, or "<ok>" when it parses.
inline std::string ErrorOf(std::string_view body, const PolicyParseOptions& options = {}) {
  Result<SlicePolicy> policy = ParseBody(body, options);
  return policy.ok() ? "<ok>" : policy.error().message;
}

}  // namespace flexai::partition::testing
