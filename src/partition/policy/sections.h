// One parser per top-level section of the policy file, each in its own `<section>_section.cc`.
// Each starts from the defaults already in `*out`, applies what the node gives, validates it, and
// returns an error with the field path on the first problem. Internal to the policy loader.
#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "partition/policy/slice_policy.h"
#include "partition/policy/yaml_fields.h"
#include "partition/result.h"

namespace flexai::partition::policy_yaml {

Status ParseResourcesSection(const YAML::Node& node, const std::string& path,
                             ResourcesSection* out);

Status ParseSharingSection(const YAML::Node& node, const std::string& path, SharingSection* out);
// The keys of `sharing`, which node overrides take as well.
std::vector<std::string_view> SharingKeys();
// Reads those keys of `fields` (absent ones stay unset).
Status ReadSharingOverrides(const MapFields& fields, SharingOverrides* out);

Status ParseAscendSection(const YAML::Node& node, const std::string& path, AscendSection* out);
AscendSection DefaultAscendSection();

Status ParseNodeOverrides(const YAML::Node& node, const std::string& path,
                          std::vector<NodeOverride>* out);

Status ParseSchedulerSection(const YAML::Node& node, const std::string& path,
                             const PolicyParseOptions& options, SchedulerSection* out);
// The checks of PolicyParseOptions against a parsed section (error paths start at `path`).
Status CheckSchedulerSection(const SchedulerSection& section, const std::string& path,
                             const std::vector<std::string>& known_policies,
                             const std::vector<std::string>& known_weights);

Status ParseQuotasSection(const YAML::Node& node, const std::string& path,
                          std::map<std::string, NamespaceQuota>* out);

}  // namespace flexai::partition::policy_yaml
