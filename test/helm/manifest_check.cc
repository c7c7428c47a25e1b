// Checks deploy/ manifests with flexai's own readers: every slice policy (the example ConfigMap,
// the chart's `policy` value) must load with ParseSlicePolicy, and every example workload's pod
// must read cleanly with the Hi Scheduler's ParsePodIntent (resources and annotations) under it.
//   flexai_manifest_check FILE.yaml...   -> prints one line per finding, exit 1 if any failed
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "extender/pod_intent.h"
#include "partition/policy/slice_policy.h"

namespace {

using flexai::partition::SlicePolicy;

int failures = 0;

void Report(const std::string& where, const std::string& what, bool ok) {
  std::printf("%s %s: %s\n", ok ? "ok  " : "FAIL", where.c_str(), what.c_str());
  if (!ok) ++failures;
}

// YAML to JSON the way the API server would store it: integers and booleans as such, other
// scalars as strings.
nlohmann::json ToJson(const YAML::Node& node) {
  if (node.IsMap()) {
    nlohmann::json object = nlohmann::json::object();
    for (const auto& item : node) object[item.first.as<std::string>()] = ToJson(item.second);
    return object;
  }
  if (node.IsSequence()) {
    nlohmann::json array = nlohmann::json::array();
    for (const auto& item : node) array.push_back(ToJson(item));
    return array;
  }
  if (!node.IsScalar()) return nullptr;
  const std::string text = node.Scalar();
  if (node.Tag() != "!") {  // unquoted: may be a number or a boolean
    int64_t number = 0;
    bool flag = false;
    if (YAML::convert<int64_t>::decode(node, number)) return number;
    if (YAML::convert<bool>::decode(node, flag)) return flag;
  }
  return text;
}

// The pod a manifest makes: a Pod itself, or a workload's pod template.
std::optional<nlohmann::json> PodOf(const YAML::Node& doc) {
  const std::string kind = doc["kind"] ? doc["kind"].as<std::string>() : "";
  if (kind == "Pod") return ToJson(doc);
  if (kind == "Job" || kind == "Deployment" || kind == "StatefulSet" || kind == "DaemonSet") {
    nlohmann::json pod = ToJson(doc["spec"]["template"]);
    pod["apiVersion"] = "v1";
    pod["kind"] = "Pod";
    pod["metadata"]["name"] = doc["metadata"]["name"].as<std::string>("?");
    return pod;
  }
  return std::nullopt;
}

void CheckPod(const nlohmann::json& pod, const SlicePolicy& policy, const std::string& where) {
  flexai::extender::PodIntent intent = flexai::extender::ParsePodIntent(pod, policy);
  if (!intent.wants_chips) return;
  std::string what = intent.error.empty() ? "valid request" : intent.error;
  if (intent.error.empty()) {
    for (const auto& c : intent.request.containers) {
      what += ", container " + c.name + " " + std::to_string(c.slice.chips) + " chip(s)";
    }
  }
  Report(where, what, intent.error.empty());
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
    if (auto pod = PodOf(doc)) CheckPod(*pod, policy, where);
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
