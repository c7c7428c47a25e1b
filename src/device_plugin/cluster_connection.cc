#include "device_plugin/cluster_connection.h"

#include <spdlog/spdlog.h>

#include <cstdlib>

#include "device_plugin/kube_cluster_client.h"
#include "kube/config.h"

namespace flexai::device_plugin {

Result<std::unique_ptr<ClusterClient>> ConnectToCluster(const DaemonOptions& options) {
  const char* in_cluster = std::getenv("KUBERNETES_SERVICE_HOST");
  Result<kube::ClusterConfig> config = Error{"no Kubernetes configuration"};
  if (!options.kubeconfig.empty()) {
    config = kube::LoadKubeconfig(options.kubeconfig);
  } else if (in_cluster != nullptr && *in_cluster != '\0') {
    config = kube::InClusterConfig();
  } else {
    return std::unique_ptr<ClusterClient>();
  }
  if (!config) return Error{"Kubernetes configuration: " + config.error().message};
  if (options.node_name.empty()) {
    return Error{"--node-name (or NODE_NAME) is required to publish this node's inventory"};
  }
  spdlog::info("Kubernetes API server {}, node {}", config->server, options.node_name);
  auto client = KubeClusterClient::Create(std::move(*config), options.node_name);
  if (!client) return Error{"Kubernetes client: " + client.error().message};
  return std::unique_ptr<ClusterClient>(std::move(*client));
}

}  // namespace flexai::device_plugin
