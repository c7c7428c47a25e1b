// Reading a whole policy: YAML syntax, apiVersion and kind, then each section in turn. Sections
// fill a fresh SlicePolicy that is returned only when everything is valid.
#include <yaml-cpp/eventhandler.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "partition/policy/sections.h"

namespace flexai::partition {
namespace {

using policy_yaml::FieldError;
using policy_yaml::MapEntry;
using policy_yaml::MapFields;

constexpr size_t kMaxPolicyBytes = 4 << 20;  // ConfigMaps hold at most 1 MiB

// Records where each document starts, and nothing else.
class DocumentStarts : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> marks;
  void OnDocumentStart(const YAML::Mark& mark) override { marks.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

std::string Position(std::string_view source, const YAML::Mark& mark) {
  return std::string(source) + ":" + std::to_string(mark.line + 1) + ":" +
         std::to_string(mark.column + 1);
}

// Makes sure `text` holds exactly one YAML document. yaml-cpp 0.7 stops a document at a stray
// block-level ',' and then yields empty documents at that spot forever (YAML::LoadAll never
// returns; YAML::Load silently drops the rest), so at most two documents are asked for.
Status CheckOneDocument(const std::string& text, std::string_view source) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentStarts starts;
  if (!parser.HandleNextDocument(starts)) {
    return Error{std::string(source) +
                 ": empty policy; expected apiVersion: " + std::string(kSlicePolicyApiVersion) +
                 " and kind: " + std::string(kSlicePolicyKind)};
  }
  if (!parser.HandleNextDocument(starts)) return Status::Ok();
  const YAML::Mark& second = starts.marks.back();
  if (starts.marks.size() >= 2 && starts.marks[starts.marks.size() - 2].pos == second.pos) {
    std::string at = static_cast<size_t>(second.pos) < text.size()
                         ? "\"" + text.substr(static_cast<size_t>(second.pos), 1) + "\""
                         : "the end";
    return Error{Position(source, second) + ": unexpected " + at};
  }
  return Error{std::string(source) +
               ": holds more than one YAML document (a second starts at line " +
               std::to_string(second.line + 1) + "), expected one"};
}

Error WithSource(std::string_view source, const Error& error) {
  return Error{std::string(source) + ": " + error.message};
}

Status CheckHeader(const MapFields& fields, std::string_view key, std::string_view expected) {
  const MapEntry* e = fields.Find(key);
  std::string want = "\"" + std::string(expected) + "\"";
  if (e == nullptr) return FieldError(key, "required, must be " + want);
  if (!e->value.IsScalar() || e->value.Scalar() != expected) {
    return policy_yaml::BadValue(e->path, "must be " + want, e->value);
  }
  return Status::Ok();
}

Status ParseRoot(const YAML::Node& root, const PolicyParseOptions& options, SlicePolicy* policy) {
  if (!root.IsMap())
    return Error{"must be a map with apiVersion and kind, got " + policy_yaml::Describe(root)};
  Result<MapFields> fields = MapFields::Read(root, "",
                                             {"apiVersion", "kind", "resources", "sharing",
                                              "ascend", "nodeOverrides", "scheduler", "quotas"});
  if (!fields) return fields.error();
  if (Status s = CheckHeader(*fields, "apiVersion", kSlicePolicyApiVersion); !s) return s;
  if (Status s = CheckHeader(*fields, "kind", kSlicePolicyKind); !s) return s;
  for (const MapEntry& e : fields->entries()) {
    Status s;
    if (e.key == "resources") {
      s = policy_yaml::ParseResourcesSection(e.value, e.path, &policy->resources);
    } else if (e.key == "sharing") {
      s = policy_yaml::ParseSharingSection(e.value, e.path, &policy->sharing);
    } else if (e.key == "ascend") {
      s = policy_yaml::ParseAscendSection(e.value, e.path, &policy->ascend);
    } else if (e.key == "nodeOverrides") {
      s = policy_yaml::ParseNodeOverrides(e.value, e.path, &policy->node_overrides);
    } else if (e.key == "scheduler") {
      s = policy_yaml::ParseSchedulerSection(e.value, e.path, options, &policy->scheduler);
    } else if (e.key == "quotas") {
      s = policy_yaml::ParseQuotasSection(e.value, e.path, &policy->quotas);
    }
    if (!s) return Error{s.message()};
  }
  // The defaults of an absent scheduler section must pass the caller's checks as well.
  if (fields->Find("scheduler") == nullptr) {
    return policy_yaml::CheckSchedulerSection(policy->scheduler, "scheduler",
                                              options.known_scheduler_policies,
                                              options.known_scheduler_weights);
  }
  return Status::Ok();
}

}  // namespace

SlicePolicy DefaultSlicePolicy() {
  SlicePolicy policy;
  policy.ascend = policy_yaml::DefaultAscendSection();
  return policy;
}

Result<SlicePolicy> ParseSlicePolicy(std::string_view text, std::string_view source_name,
                                     const PolicyParseOptions& options) {
  std::string yaml(text);
  YAML::Node root;
  try {
    if (Status s = CheckOneDocument(yaml, source_name); !s) return Error{s.message()};
    root = YAML::Load(yaml);
  } catch (const YAML::ParserException& e) {
    return Error{Position(source_name, e.mark) + ": " + e.msg};
  } catch (const YAML::Exception& e) {
    return Error{std::string(source_name) + ": " + e.what()};
  }
  SlicePolicy policy = DefaultSlicePolicy();
  policy.source = std::string(source_name);
  try {
    if (Status s = ParseRoot(root, options, &policy); !s) {
      return WithSource(source_name, Error{s.message()});
    }
  } catch (const YAML::Exception& e) {  // not expected: the readers check types first
    return Error{std::string(source_name) + ": " + e.what()};
  }
  return policy;
}

Result<SlicePolicy> LoadSlicePolicyFile(const std::string& path,
                                        const PolicyParseOptions& options) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return Error{path + ": is a directory, not a policy file"};
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{path + ": cannot open the policy file"};
  std::string text;
  char buffer[64 * 1024];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    text.append(buffer, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxPolicyBytes) {
      return Error{path + ": larger than " + std::to_string(kMaxPolicyBytes >> 20) +
                   " MiB; not a policy file"};
    }
  }
  if (in.bad()) return Error{path + ": read error"};
  return ParseSlicePolicy(text, path, options);
}

Status CheckSchedulerKnobs(const SlicePolicy& policy,
                           const std::vector<std::string>& known_policies,
                           const std::vector<std::string>& known_weights) {
  Status s = policy_yaml::CheckSchedulerSection(policy.scheduler, "scheduler", known_policies,
                                                known_weights);
  if (!s) return WithSource(policy.source, Error{s.message()});
  return s;
}

}  // namespace flexai::partition
