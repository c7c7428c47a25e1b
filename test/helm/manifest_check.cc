// Checks deploy/ manifests with the domain core itself: every slice policy (the example ConfigMap,
// the chart's `policy` value) must load with ParseSlicePolicy, and every container of the example
// workloads must make a valid slice request (SliceRequestFromResources) under that policy.
//   flexai_manifest_check FILE.yaml...   -> prints one line per finding, exit 1 if any failed
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <map>
#include <string>

#include "partition/policy/slice_policy.h"

namespace {

using flexai::partition::SlicePolicy;

int failures = 0;

void Report(const std::string& where, const std::string& what, bool ok) {
  std::printf("%s %s: %s\n", ok ? "ok  " : "FAIL", where.c_str(), what.c_str());
  if (!ok) ++failures;
}

YAML::Node PodSpecOf(const YAML::Node& doc) {
  const std::string kind = doc["kind"] ? doc["kind"].as<std::string>() : "";
  if (kind == "Pod") return doc["spec"];
  if (kind == "Job" || kind == "Deployment" || kind == "StatefulSet" || kind == "DaemonSet") {
    return doc["spec"]["template"]["spec"];
  }
  return YAML::Node();
}

void CheckWorkload(const YAML::Node& spec, const SlicePolicy& policy, const std::string& where) {
  for (const auto& container : spec["containers"]) {
    const std::string name = container["name"].as<std::string>("?");
    std::map<std::string, int64_t> quantities;
    const YAML::Node limits = container["resources"]["limits"];
    if (limits && limits.IsMap()) {
      for (const auto& item : limits) {
        const std::string resource = item.first.as<std::string>();
        if (!flexai::partition::IsFlexaiResource(policy, resource)) continue;
        try {
          quantities[resource] = item.second.as<int64_t>();
        } catch (const YAML::Exception&) {
          Report(where + " container " + name, resource + " is not a whole number", false);
          return;
        }
      }
    }
    if (quantities.empty()) continue;
    auto request = flexai::partition::SliceRequestFromResources(policy, quantities);
    Report(where + " container " + name,
           request.ok() ? "valid slice request" : request.error().message, request.ok());
  }
}

void CheckFile(const std::string& path) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAllFromFile(path);
  } catch (const YAML::Exception& e) {
    Report(path, e.what(), false);
    return;
  }
  SlicePolicy policy = flexai::partition::DefaultSlicePolicy();
  for (size_t i = 0; i < docs.size(); ++i) {
    const YAML::Node& doc = docs[i];
    if (!doc || !doc.IsMap()) continue;
    const std::string where = path + "#" + std::to_string(i + 1);
    std::string policy_text;
    if (doc["kind"] && doc["kind"].as<std::string>() == "ConfigMap" && doc["data"] &&
        doc["data"]["policy.yaml"]) {
      policy_text = doc["data"]["policy.yaml"].as<std::string>();
    } else if (!doc["kind"] && doc["policy"]) {  // a Helm values file
      YAML::Emitter out;
      out << doc["policy"];
      policy_text = out.c_str();
    }
    if (!policy_text.empty()) {
      auto parsed = flexai::partition::ParseSlicePolicy(policy_text, where + " policy.yaml");
      Report(where, parsed.ok() ? "policy loads" : parsed.error().message, parsed.ok());
      if (parsed.ok()) policy = *parsed;
      continue;
    }
    if (YAML::Node spec = PodSpecOf(doc)) CheckWorkload(spec, policy, where);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE.yaml...\n", argv[0]);
    return 2;
  }
  for (int i = 1; i < argc; ++i) CheckFile(argv[i]);
  return failures == 0 ? 0 : 1;
}
