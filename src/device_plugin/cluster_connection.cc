#include "device_plugin/cluster_connection.h"

#include <spdlog/spdlog.h>

#include <cstdlib>

namespace flexai::device_plugin {

Result<std::unique_ptr<ClusterClient>> ConnectToCluster(const DaemonOptions& options) {
  const char* in_cluster = std::getenv("KUBERNETES_SERVICE_HOST");
  if (options.kubeconfig.empty() && (in_cluster == nullptr || *in_cluster == '\0')) {
    return std::unique_ptr<ClusterClient>();
  }
  spdlog::error("this build has no Kubernetes client yet; running without the cluster");
  return std::unique_ptr<ClusterClient>();
}

}  // namespace flexai::device_plugin
