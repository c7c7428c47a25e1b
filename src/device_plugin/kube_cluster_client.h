// ClusterClient on the shared Kubernetes client (src/kube): keeps a watch of the pods bound to
// this node (so Allocate reads memory, not the network), falls back to a fresh list when the
// cache has no match yet, and patches pods (conditionally, retried on 409) and the node.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "device_plugin/cluster_client.h"
#include "kube/client.h"
#include "kube/list_watcher.h"

namespace flexai::device_plugin {

class KubeClusterClient : public ClusterClient {
 public:
  static Result<std::unique_ptr<KubeClusterClient>> Create(kube::ClusterConfig config,
                                                           const std::string& node_name);
  ~KubeClusterClient() override;

  Result<std::vector<PodSummary>> ListPodsOnNode(const std::string& node) override;
  Result<std::vector<PodSummary>> ListPodsOnNodeFresh(const std::string& node) override;
  Status PatchPodAnnotations(const std::string& namespace_name, const std::string& name,
                             const std::string& uid,
                             const std::map<std::string, std::string>& annotations) override;
  Status PatchNodeAnnotations(const std::string& node,
                              const std::map<std::string, std::string>& annotations) override;
  Result<std::map<std::string, std::string>> NodeLabels(const std::string& node) override;
  Status RecordNodeEvent(const std::string& node, const std::string& type,
                         const std::string& reason, const std::string& message) override;

 private:
  KubeClusterClient(std::unique_ptr<kube::KubeClient> client, std::string node_name);

  std::unique_ptr<kube::KubeClient> client_;
  const std::string node_name_;
  std::mutex mu_;
  std::map<std::string, PodSummary> pods_;  // by uid, from the watch
  std::unique_ptr<kube::ListWatcher> watcher_;
};

// The fields the daemon needs from a v1 Pod object.
PodSummary PodSummaryFromJson(const kube::Json& pod);

}  // namespace flexai::device_plugin
