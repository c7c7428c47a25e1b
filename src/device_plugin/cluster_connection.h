// Builds the Kubernetes client from --kubeconfig or the in-cluster service account. Returns a
// null client (not an error) when neither is configured: the daemon then serves kubelet alone.
#pragma once

#include <memory>

#include "device_plugin/cluster_client.h"
#include "device_plugin/daemon_options.h"

namespace flexai::device_plugin {

Result<std::unique_ptr<ClusterClient>> ConnectToCluster(const DaemonOptions& options);

}  // namespace flexai::device_plugin
