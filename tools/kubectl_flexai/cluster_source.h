// Where `kubectl flexai` gets its data: the API server found like kubectl finds it (--kubeconfig,
// else $KUBECONFIG, else ~/.kube/config; or --server for a plain URL), and the slice policy (the
// chart's ConfigMap, or a local file).
#pragma once

#include <memory>
#include <string>

#include "kube/client.h"
#include "kubectl_flexai/cluster_snapshot.h"
#include "partition/policy/slice_policy.h"

namespace flexai::kubectl {

struct SourceOptions {
  std::string kubeconfig;   // empty: $KUBECONFIG (its first file), else ~/.kube/config
  std::string context;      // empty: the file's current-context
  std::string server;       // a plain http(s) URL instead of a kubeconfig (tests, the fake)
  std::string policy_file;  // read the policy from this file...
  std::string policy_configmap = "flexai-system/flexai-policy";  // ...else from this ConfigMap
};

// The kubeconfig path kubectl would use.
std::string DefaultKubeconfigPath();

Result<std::unique_ptr<kube::KubeClient>> Connect(const SourceOptions& options);

// Every node and pod of the cluster.
Result<ClusterSnapshot> FetchSnapshot(kube::KubeClient& client);

// The slice policy: the file, else the ConfigMap's `policy.yaml`; when the ConfigMap does not
// exist, the defaults (and `note` says so).
Result<partition::SlicePolicy> FetchPolicy(kube::KubeClient& client, const SourceOptions& options,
                                           std::string& note);

}  // namespace flexai::kubectl
