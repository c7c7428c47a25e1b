#include "device_plugin/kube_cluster_client.h"

#include <spdlog/spdlog.h>

#include "kube/operations.h"

namespace flexai::device_plugin {
namespace {

std::string PodsOnNodeQuery(const std::string& node) {
  return "fieldSelector=spec.nodeName%3D" + node;
}

kube::Json AnnotationPatch(const std::map<std::string, std::string>& annotations) {
  kube::Json values = kube::Json::object();
  for (const auto& [key, value] : annotations) values[key] = value;
  return {{"metadata", {{"annotations", values}}}};
}

}  // namespace

PodSummary PodSummaryFromJson(const kube::Json& pod) {
  PodSummary summary;
  summary.namespace_name = kube::NamespaceOf(pod);
  summary.name = kube::NameOf(pod);
  summary.uid = kube::UidOf(pod);
  const kube::Json metadata = pod.value("metadata", kube::Json::object());
  summary.creation_timestamp = metadata.value("creationTimestamp", "");
  summary.being_deleted =
      metadata.contains("deletionTimestamp") && !metadata["deletionTimestamp"].is_null();
  summary.node_name = pod.value("spec", kube::Json::object()).value("nodeName", "");
  summary.phase = pod.value("status", kube::Json::object()).value("phase", "");
  const kube::Json annotations = metadata.value("annotations", kube::Json::object());
  for (const auto& [key, value] : annotations.items()) {
    if (value.is_string()) summary.annotations[key] = value.get<std::string>();
  }
  return summary;
}

KubeClusterClient::KubeClusterClient(std::unique_ptr<kube::KubeClient> client,
                                     std::string node_name)
    : client_(std::move(client)), node_name_(std::move(node_name)) {}

Result<std::unique_ptr<KubeClusterClient>> KubeClusterClient::Create(kube::ClusterConfig config,
                                                                     const std::string& node_name) {
  auto client = kube::KubeClient::Create(std::move(config));
  if (!client) return client.error();
  std::unique_ptr<KubeClusterClient> cluster(new KubeClusterClient(std::move(*client), node_name));
  KubeClusterClient* self = cluster.get();
  kube::ListWatchHandlers handlers;
  handlers.on_replace = [self](std::vector<kube::Json> items) {
    std::lock_guard lock(self->mu_);
    self->pods_.clear();
    for (const auto& item : items) {
      PodSummary pod = PodSummaryFromJson(item);
      self->pods_[pod.uid] = std::move(pod);
    }
  };
  handlers.on_event = [self](const std::string& type, const kube::Json& object) {
    PodSummary pod = PodSummaryFromJson(object);
    std::lock_guard lock(self->mu_);
    if (type == "DELETED") {
      self->pods_.erase(pod.uid);
    } else {
      self->pods_[pod.uid] = std::move(pod);
    }
  };
  kube::ListWatchOptions options;
  options.query = PodsOnNodeQuery(node_name);
  cluster->watcher_ =
      std::make_unique<kube::ListWatcher>(*cluster->client_, "/api/v1/pods", handlers, options);
  cluster->watcher_->Start();
  return cluster;
}

KubeClusterClient::~KubeClusterClient() {
  if (watcher_) watcher_->Stop();
}

Result<std::vector<PodSummary>> KubeClusterClient::ListPodsOnNode(const std::string& node) {
  if (node != node_name_ || !watcher_->synced()) return ListPodsOnNodeFresh(node);
  std::lock_guard lock(mu_);
  std::vector<PodSummary> pods;
  for (const auto& [uid, pod] : pods_) pods.push_back(pod);
  return pods;
}

Result<std::vector<PodSummary>> KubeClusterClient::ListPodsOnNodeFresh(const std::string& node) {
  kube::ApiResponse reply = client_->Get("/api/v1/pods?" + PodsOnNodeQuery(node));
  if (!reply.ok()) return Error{reply.Describe("list pods on node " + node)};
  std::vector<PodSummary> pods;
  for (const auto& item : reply.body.value("items", kube::Json::array())) {
    pods.push_back(PodSummaryFromJson(item));
  }
  return pods;
}

Status KubeClusterClient::PatchPodAnnotations(
    const std::string& namespace_name, const std::string& name, const std::string& uid,
    const std::map<std::string, std::string>& annotations) {
  const std::string path = "/api/v1/namespaces/" + namespace_name + "/pods/" + name;
  kube::PatchOutcome outcome = kube::PatchWithRetry(
      *client_, path,
      [&](const kube::Json& current, std::string& why_not) -> std::optional<kube::Json> {
        const std::string current_uid = kube::UidOf(current);
        if (!uid.empty() && current_uid != uid) {
          why_not = "pod " + namespace_name + "/" + name + " is now another pod (uid " +
                    current_uid + ", expected " + uid + "): not patched";
          return std::nullopt;
        }
        return AnnotationPatch(annotations);
      });
  if (!outcome.declined.empty()) return Error{outcome.declined};
  if (!outcome.ok()) return Error{outcome.response.Describe("PATCH " + path)};
  return Status::Ok();
}

Status KubeClusterClient::PatchNodeAnnotations(
    const std::string& node, const std::map<std::string, std::string>& annotations) {
  kube::ApiResponse reply =
      client_->MergePatch("/api/v1/nodes/" + node, AnnotationPatch(annotations));
  if (!reply.ok()) return Error{reply.Describe("PATCH node " + node)};
  return Status::Ok();
}

Result<std::map<std::string, std::string>> KubeClusterClient::NodeLabels(const std::string& node) {
  kube::ApiResponse reply = client_->Get("/api/v1/nodes/" + node);
  if (!reply.ok()) return Error{reply.Describe("GET node " + node)};
  std::map<std::string, std::string> labels;
  const kube::Json metadata = reply.body.value("metadata", kube::Json::object());
  const kube::Json values = metadata.value("labels", kube::Json::object());
  for (const auto& [key, value] : values.items()) {
    if (value.is_string()) labels[key] = value.get<std::string>();
  }
  return labels;
}

}  // namespace flexai::device_plugin

namespace flexai::device_plugin {

Status KubeClusterClient::RecordNodeEvent(const std::string& node, const std::string& type,
                                          const std::string& reason, const std::string& message) {
  // The node object as the server has it gives the Event its uid (kubectl describe matches it);
  // without it, the name alone still places the Event.
  kube::ApiResponse got = client_->Get("/api/v1/nodes/" + node);
  kube::Json involved =
      got.ok() ? got.body
               : kube::Json{{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", node}}}};
  involved["apiVersion"] = "v1";
  involved["kind"] = "Node";
  kube::ApiResponse posted =
      kube::RecordEvent(*client_, involved, {type, reason, message, "flexai-device-plugin"});
  if (!posted.ok()) return Error{posted.Describe("posting event " + reason)};
  return Status::Ok();
}

}  // namespace flexai::device_plugin
