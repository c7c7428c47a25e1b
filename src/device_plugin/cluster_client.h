// The little the daemon needs from Kubernetes: the pods bound to its node, and annotation patches
// on pods and on its node. Production code uses the src/kube client behind this; tests use an
// in-process fake.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "partition/result.h"

namespace flexai::device_plugin {

// Pod annotations of the scheduler/device-plugin contract (docs/protocol.md).
inline constexpr char kAssignmentAnnotation[] = "flexai.io/assignment";
inline constexpr char kBindPhaseAnnotation[] = "flexai.io/bind-phase";
inline constexpr char kBindTimeAnnotation[] = "flexai.io/bind-time";
inline constexpr char kBindErrorAnnotation[] = "flexai.io/bind-error";
// Written by the device plugin with bind-phase=success: the device IDs kubelet passed for each
// container, so a repeated Allocate is recognised even after a plugin restart.
inline constexpr char kDeviceIdsAnnotation[] = "flexai.io/device-ids";
// Written by the device plugin while a pod with several chip containers is allocated one
// container at a time: "<pod uid>@<bind-time>/" + the device-ids form for the containers answered
// so far, so that a plugin restarted in between hands the next Allocate the next container.
inline constexpr char kAllocatedContainersAnnotation[] = "flexai.io/allocated-containers";
inline constexpr char kBindPhaseAllocating[] = "allocating";
inline constexpr char kBindPhaseSuccess[] = "success";
inline constexpr char kBindPhaseFailed[] = "failed";
// Node annotations published by the device plugin.
inline constexpr char kInventoryAnnotation[] = "flexai.io/inventory";
inline constexpr char kHeartbeatAnnotation[] = "flexai.io/heartbeat";

struct PodSummary {
  std::string namespace_name;
  std::string name;
  std::string uid;
  std::string node_name;
  std::string creation_timestamp;  // metadata.creationTimestamp, RFC 3339
  std::string phase;               // status.phase: Pending, Running, Succeeded, Failed
  std::map<std::string, std::string> annotations;
  bool being_deleted = false;  // metadata.deletionTimestamp is set

  bool terminal() const { return phase == "Succeeded" || phase == "Failed"; }
};

class ClusterClient {
 public:
  virtual ~ClusterClient() = default;
  // Pods whose spec.nodeName is `node`, in any phase; may come from a watch cache.
  virtual Result<std::vector<PodSummary>> ListPodsOnNode(const std::string& node) = 0;
  // The same, read from the API server now (used when the cache has no match yet).
  virtual Result<std::vector<PodSummary>> ListPodsOnNodeFresh(const std::string& node) {
    return ListPodsOnNode(node);
  }
  // Merge-patches the pod's annotations (existing keys not named stay), conditionally on the
  // pod's current resourceVersion and retried on conflict. Refused when the pod of that name is
  // no longer the one with `uid` (deleted and recreated meanwhile).
  virtual Status PatchPodAnnotations(const std::string& namespace_name, const std::string& name,
                                     const std::string& uid,
                                     const std::map<std::string, std::string>& annotations) = 0;
  virtual Status PatchNodeAnnotations(const std::string& node,
                                      const std::map<std::string, std::string>& annotations) = 0;
  // The node's labels (they select the policy's node overrides).
  virtual Result<std::map<std::string, std::string>> NodeLabels(const std::string& node) = 0;
  // Posts a core/v1 Event about the node (`type` Normal or Warning), e.g. a refused policy.
  virtual Status RecordNodeEvent(const std::string& node, const std::string& type,
                                 const std::string& reason, const std::string& message) = 0;
};

}  // namespace flexai::device_plugin
