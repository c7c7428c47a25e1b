// An in-memory ClusterClient for tests: pods are plain structs, patches are applied to them and
// recorded; failures can be switched on.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "device_plugin/cluster_client.h"

namespace flexai::device_plugin::testing {

class FakeClusterClient : public ClusterClient {
 public:
  void AddPod(PodSummary pod) {
    std::lock_guard lock(mu_);
    pods_.push_back(std::move(pod));
  }
  void RemovePod(const std::string& name) {
    std::lock_guard lock(mu_);
    std::erase_if(pods_, [&](const PodSummary& pod) { return pod.name == name; });
  }
  void SetUnavailable(bool unavailable) {
    std::lock_guard lock(mu_);
    unavailable_ = unavailable;
  }
  void SetPatchFails(bool fails) {
    std::lock_guard lock(mu_);
    patch_fails_ = fails;
  }
  std::vector<PodSummary> pods() const {
    std::lock_guard lock(mu_);
    return pods_;
  }
  std::string PodAnnotation(const std::string& name, const std::string& key) const {
    std::lock_guard lock(mu_);
    for (const auto& pod : pods_) {
      if (pod.name != name) continue;
      auto it = pod.annotations.find(key);
      return it == pod.annotations.end() ? "" : it->second;
    }
    return "";
  }
  std::map<std::string, std::string> node_annotations(const std::string& node) const {
    std::lock_guard lock(mu_);
    auto it = nodes_.find(node);
    return it == nodes_.end() ? std::map<std::string, std::string>{} : it->second;
  }

  // Runs at the start of every pod list (outside the fake's lock), e.g. to change something
  // between the containers of one request.
  void SetOnEveryList(std::function<void()> action) {
    std::lock_guard lock(mu_);
    on_every_list_ = std::move(action);
  }
  Result<std::vector<PodSummary>> ListPodsOnNode(const std::string& node) override {
    return List(node, /*fresh=*/false);
  }
  Result<std::vector<PodSummary>> ListPodsOnNodeFresh(const std::string& node) override {
    return List(node, /*fresh=*/true);
  }
  // A watch cache that lags: ListPodsOnNode shows these pods until reset; the fresh list shows
  // the real ones.
  void SetLaggingCache(std::optional<std::vector<PodSummary>> pods) {
    std::lock_guard lock(mu_);
    lagging_cache_ = std::move(pods);
  }
  // The nth pod patch from now fails (1 = the next); the others succeed.
  void FailNthPatch(int nth) {
    std::lock_guard lock(mu_);
    fail_nth_patch_ = nth;
  }
  // Runs once, at the start of the next pod patch (outside the fake's lock): what happens while
  // a patch is in flight.
  void SetDuringNextPatch(std::function<void()> action) {
    std::lock_guard lock(mu_);
    during_next_patch_ = std::move(action);
  }
  Status PatchPodAnnotations(const std::string& namespace_name, const std::string& name,
                             const std::string& uid,
                             const std::map<std::string, std::string>& annotations) override {
    std::function<void()> during;
    {
      std::lock_guard lock(mu_);
      during.swap(during_next_patch_);
    }
    if (during) during();
    std::lock_guard lock(mu_);
    if (unavailable_ || patch_fails_) return Error{"patch refused"};
    if (fail_nth_patch_ > 0 && --fail_nth_patch_ == 0) return Error{"patch refused"};
    for (auto& pod : pods_) {
      if (pod.namespace_name != namespace_name || pod.name != name) continue;
      if (pod.uid != uid) return Error{"pod " + name + " is now another pod (uid " + pod.uid + ")"};
      for (const auto& [k, v] : annotations) pod.annotations[k] = v;
      return Status::Ok();
    }
    return Error{"pod " + namespace_name + "/" + name + " not found"};
  }
  Result<std::map<std::string, std::string>> NodeLabels(const std::string& node) override {
    std::lock_guard lock(mu_);
    if (unavailable_) return Error{"connection refused"};
    return node_labels_[node];
  }
  void SetNodeLabels(const std::string& node, std::map<std::string, std::string> labels) {
    std::lock_guard lock(mu_);
    node_labels_[node] = std::move(labels);
  }
  struct Event {
    std::string node, type, reason, message;
  };
  Status RecordNodeEvent(const std::string& node, const std::string& type,
                         const std::string& reason, const std::string& message) override {
    std::lock_guard lock(mu_);
    if (unavailable_) return Error{"connection refused"};
    events_.push_back({node, type, reason, message});
    return Status::Ok();
  }
  std::vector<Event> events() const {
    std::lock_guard lock(mu_);
    return events_;
  }
  Status PatchNodeAnnotations(const std::string& node,
                              const std::map<std::string, std::string>& annotations) override {
    std::lock_guard lock(mu_);
    if (unavailable_) return Error{"connection refused"};
    for (const auto& [k, v] : annotations) nodes_[node][k] = v;
    return Status::Ok();
  }

 private:
  Result<std::vector<PodSummary>> List(const std::string& node, bool fresh) {
    std::function<void()> on_list;
    {
      std::lock_guard lock(mu_);
      on_list = on_every_list_;
    }
    if (on_list) on_list();
    std::lock_guard lock(mu_);
    if (unavailable_) return Error{"connection refused"};
    std::vector<PodSummary> out;
    for (const auto& pod : !fresh && lagging_cache_ ? *lagging_cache_ : pods_) {
      if (pod.node_name == node) out.push_back(pod);
    }
    return out;
  }

  mutable std::mutex mu_;
  std::optional<std::vector<PodSummary>> lagging_cache_;
  int fail_nth_patch_ = 0;
  std::vector<PodSummary> pods_;
  std::map<std::string, std::map<std::string, std::string>> nodes_;
  std::map<std::string, std::map<std::string, std::string>> node_labels_;
  std::vector<Event> events_;
  std::function<void()> during_next_patch_;
  std::function<void()> on_every_list_;
  bool unavailable_ = false;
  bool patch_fails_ = false;
};

// A pod waiting for Allocate: bind-phase allocating with `assignment` text and `bind_time`.
inline PodSummary PendingPod(const std::string& name, const std::string& node,
                             const std::string& assignment, const std::string& bind_time) {
  PodSummary pod;
  pod.namespace_name = "default";
  pod.name = name;
  pod.uid = "uid-" + name;
  pod.node_name = node;
  pod.annotations = {{kAssignmentAnnotation, assignment},
                     {kBindPhaseAnnotation, kBindPhaseAllocating},
                     {kBindTimeAnnotation, bind_time}};
  return pod;
}

}  // namespace flexai::device_plugin::testing
