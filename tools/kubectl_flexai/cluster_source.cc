#include "kubectl_flexai/cluster_source.h"

#include <cstdlib>

#include "kube/config.h"
#include "kube/paths.h"

namespace flexai::kubectl {

std::string DefaultKubeconfigPath() {
  if (const char* env = std::getenv("KUBECONFIG"); env && *env) {
    std::string list = env;
    return list.substr(0, list.find(':'));
  }
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "") + "/.kube/config";
}

Result<std::unique_ptr<kube::KubeClient>> Connect(const SourceOptions& options) {
  if (!options.server.empty())
    return kube::KubeClient::Create(kube::PlainServerConfig(options.server));
  const std::string path =
      options.kubeconfig.empty() ? DefaultKubeconfigPath() : options.kubeconfig;
  auto config = kube::LoadKubeconfig(path, options.context);
  if (!config) return config.error();
  return kube::KubeClient::Create(std::move(config).value());
}

Result<ClusterSnapshot> FetchSnapshot(kube::KubeClient& client) {
  kube::ApiResponse nodes = client.Get(kube::NodesPath());
  if (!nodes.ok()) return Error{nodes.Describe("GET " + kube::NodesPath())};
  kube::ApiResponse pods = client.Get(kube::PodsPath());
  if (!pods.ok()) return Error{pods.Describe("GET " + kube::PodsPath())};
  return BuildSnapshot(nodes.body, pods.body);
}

Result<partition::SlicePolicy> FetchPolicy(kube::KubeClient& client, const SourceOptions& options,
                                           std::string& note) {
  if (!options.policy_file.empty()) return partition::LoadSlicePolicyFile(options.policy_file);
  const std::string& ref = options.policy_configmap;
  const size_t slash = ref.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == ref.size()) {
    return Error{"--policy-configmap must be NAMESPACE/NAME, got \"" + ref + "\""};
  }
  const std::string ns = ref.substr(0, slash);
  const std::string name = ref.substr(slash + 1);
  const std::string path =
      "/api/v1/namespaces/" + kube::UrlEncode(ns) + "/configmaps/" + kube::UrlEncode(name);
  kube::ApiResponse reply = client.Get(path);
  if (reply.not_found()) {
    note = "ConfigMap " + ref + " not found: using the default slice policy";
    return partition::DefaultSlicePolicy();
  }
  if (!reply.ok()) return Error{reply.Describe("GET " + path)};
  const auto key = Json::json_pointer("/data/policy.yaml");
  if (!reply.body.contains(key) || !reply.body.at(key).is_string()) {
    return Error{"ConfigMap " + ref + " has no data key policy.yaml"};
  }
  return partition::ParseSlicePolicy(reply.body.at(key).get<std::string>(),
                                     "ConfigMap " + ref + " policy.yaml");
}

}  // namespace flexai::kubectl
