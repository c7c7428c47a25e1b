#include "kubectl_flexai/explain.h"

#include <algorithm>
#include <memory>
#include <sstream>

#include "extender/cluster_cache.h"
#include "extender/placement_choice.h"
#include "extender/pod_intent.h"
#include "extender/scheduler.h"
#include "extender/workload_refresher.h"

namespace flexai::kubectl {
namespace {

std::string DescribeRequest(const partition::ContainerRequest& c) {
  const partition::SliceRequest& r = c.slice;
  std::ostringstream out;
  out << c.name << ": " << r.chips << (r.chips == 1 ? " chip" : " chips");
  if (r.vendor) out << " (" << partition::VendorName(*r.vendor) << ")";
  if (r.exclusive()) {
    out << ", whole";
  } else {
    out << ", each ";
    if (r.memory_mib > 0) out << r.memory_mib << " MiB";
    if (r.memory_percent > 0) out << r.memory_percent << "% of memory";
    if (r.memory_mib == 0 && r.memory_percent == 0) out << "memory in proportion";
    out << " and " << r.cores << "% compute";
  }
  return out.str();
}

// The scheduler's reasons start with "node NAME: "; the layout already names the node.
std::string WithoutNodePrefix(const std::string& reason, const std::string& node) {
  const std::string prefix = "node " + node + ": ";
  return reason.rfind(prefix, 0) == 0 ? reason.substr(prefix.size()) : reason;
}

}  // namespace

Explanation ExplainPod(const ClusterSnapshot& snapshot, const partition::SlicePolicy& policy,
                       const PodView& pod, const ExplainOptions& options) {
  Explanation out;
  out.pod = pod.key();
  if (pod.finished()) out.notes.push_back("the pod has finished (" + pod.phase + ")");
  if (pod.assignment) {
    out.notes.push_back("already assigned to node " + pod.assignment->node + " (bind phase " +
                        (pod.bind_phase.empty() ? "-" : pod.bind_phase) +
                        "); below, its own slices are not counted");
  }
  if (!pod.assignment_error.empty()) {
    out.notes.push_back("its assignment annotation is unreadable: " + pod.assignment_error);
  }
  if (!pod.scheduler_name.empty() && pod.scheduler_name != options.scheduler_name) {
    out.notes.push_back("its schedulerName is " + pod.scheduler_name + ", not " +
                        options.scheduler_name + ": the Hi Scheduler never sees it");
  }
  extender::PodIntent intent = extender::ParsePodIntent(pod.object, policy);
  if (!intent.wants_chips) {
    out.summary = "it asks for no flexai resource: flexai does not place it";
    return out;
  }
  if (!intent.error.empty()) {
    out.summary = "the request is invalid: " + intent.error;
    return out;
  }
  for (const auto& c : intent.request.containers) out.requests.push_back(DescribeRequest(c));

  auto shared_policy = std::make_shared<partition::SlicePolicy>(policy);
  extender::ClusterCache cache(shared_policy);
  std::vector<Json> nodes, pods;
  std::vector<std::string> names;
  for (const auto& node : snapshot.nodes) {
    nodes.push_back(node.object);
    names.push_back(node.name);
  }
  for (const auto& other : snapshot.pods) {
    if (other.uid != pod.uid) pods.push_back(other.object);
  }
  cache.ReplaceNodes(nodes);
  cache.ReplacePods(pods);
  extender::SchedulerOptions scheduler_options;
  scheduler_options.node_stale = options.node_stale;
  scheduler_options.now = [now = options.now] { return now; };
  extender::Scheduler scheduler(
      cache, extender::MakeExtenderPlacementPolicy(policy, extender::PlacedPodShapes(cache)),
      scheduler_options);
  extender::FilterOutcome outcome = scheduler.Filter(intent, names);
  std::map<std::string, int64_t> scores;
  for (const auto& s : scheduler.Prioritize(intent, outcome.passed)) scores[s.host] = s.score;

  for (const auto& name : names) {
    NodeVerdict v;
    v.node = name;
    if (std::find(outcome.passed.begin(), outcome.passed.end(), name) != outcome.passed.end()) {
      v.fits = true;
      v.score = scores[name];
    } else if (auto it = outcome.unresolvable.find(name); it != outcome.unresolvable.end()) {
      v.reason = WithoutNodePrefix(it->second, name);
      v.unresolvable = true;
    } else if (auto f = outcome.failed.find(name); f != outcome.failed.end()) {
      v.reason = WithoutNodePrefix(f->second, name);
    }
    out.nodes.push_back(std::move(v));
  }
  if (outcome.passed.empty()) {
    out.summary = names.empty() ? "there are no nodes" : "it fits no node now";
  } else {
    const NodeVerdict* best = nullptr;
    for (const auto& v : out.nodes) {
      if (v.fits && (!best || v.score > best->score)) best = &v;
    }
    out.summary = "it fits " + std::to_string(outcome.passed.size()) +
                  (outcome.passed.size() == 1 ? " node" : " nodes") + ", best " + best->node +
                  "; if it stays Pending, see `kubectl describe pod` (cpu, memory, taints and "
                  "node selectors are kube-scheduler's checks)";
  }
  return out;
}

std::string RenderExplanation(const Explanation& e) {
  std::ostringstream out;
  out << "Pod " << e.pod << "\n";
  for (const auto& note : e.notes) out << "  note: " << note << "\n";
  for (const auto& line : e.requests) out << "  asks  " << line << "\n";
  for (const auto& node : e.nodes) {
    if (node.fits) {
      out << "  fits  " << node.node << "  (score " << node.score << "/10)\n";
    } else {
      out << "  no    " << node.node << ": " << node.reason
          << (node.unresolvable ? "" : "  [may fit once other pods leave]") << "\n";
    }
  }
  out << "=> " << e.summary << "\n";
  return out.str();
}

}  // namespace flexai::kubectl
