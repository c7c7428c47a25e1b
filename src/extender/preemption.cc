#include "extender/preemption.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "extender/pod_intent.h"
#include "kube/operations.h"

namespace flexai::extender {
namespace {

using Json = nlohmann::json;

// Fit checks the improving search may spend over all nodes of one call, and at least per node.
constexpr int kFitChecksPerCall = 8192;
constexpr int kMinFitChecksPerNode = 32;

// What kube-scheduler proposed for one node.
struct Proposal {
  std::vector<std::string> uids;
  int64_t pdb_violations = 0;
};

struct PreemptArgs {
  Json pod;
  std::map<std::string, Proposal> nodes;
};

// Reads ExtenderPreemptionArgs: NodeNameToMetaVictims (nodeCacheCapable) or NodeNameToVictims
// (whole pods). Returns the problem, or "".
std::string ParsePreemptArgs(std::string_view body, PreemptArgs& args) {
  Json doc = Json::parse(body, nullptr, false);
  if (doc.is_discarded()) return "request body is not valid JSON";
  if (!doc.is_object()) return "ExtenderPreemptionArgs must be a JSON object";
  auto pod = doc.find("Pod");
  if (pod == doc.end() || !pod->is_object()) {
    return "ExtenderPreemptionArgs.Pod is missing or not an object";
  }
  args.pod = std::move(*pod);
  for (const char* key : {"NodeNameToMetaVictims", "NodeNameToVictims"}) {
    auto map = doc.find(key);
    if (map == doc.end() || map->is_null()) continue;
    if (!map->is_object()) return std::string("ExtenderPreemptionArgs.") + key + " is not a map";
    const bool meta = key == std::string_view("NodeNameToMetaVictims");
    for (auto it = map->begin(); it != map->end(); ++it) {
      Proposal& proposal = args.nodes[it.key()];
      if (it->is_null()) continue;
      if (!it->is_object()) {
        return std::string("ExtenderPreemptionArgs.") + key + "[" + it.key() + "] is not an object";
      }
      proposal.pdb_violations = kube::IntAt(*it, "NumPDBViolations", 0);
      auto pods = it->find("Pods");
      if (pods == it->end() || pods->is_null()) continue;
      if (!pods->is_array()) {
        return std::string("ExtenderPreemptionArgs.") + key + "[" + it.key() +
               "].Pods is not an array";
      }
      for (const Json& p : *pods) {
        std::string uid = meta ? kube::StringAt(p, "UID") : kube::UidOf(p);
        if (uid.empty()) {
          return std::string("ExtenderPreemptionArgs.") + key + "[" + it.key() +
                 "].Pods holds a pod without " + (meta ? "UID" : "metadata.uid");
        }
        proposal.uids.push_back(std::move(uid));
      }
    }
  }
  return "";
}

Json MetaVictims(const std::vector<std::string>& uids, int64_t pdb_violations) {
  Json pods = Json::array();
  for (const auto& uid : uids) pods.push_back({{"UID", uid}});
  return {{"Pods", std::move(pods)}, {"NumPDBViolations", pdb_violations}};
}

}  // namespace

Preemptor::Preemptor(const ClusterCache& cache, const Scheduler& scheduler,
                     const DisruptionBudgetCache& budgets, PreemptionQuotaMetrics* metrics,
                     partition::VictimSearchLimits limits)
    : cache_(cache), scheduler_(scheduler), budgets_(budgets), metrics_(metrics), limits_(limits) {}

HttpReply Preemptor::Handle(std::string_view body) const {
  PreemptArgs args;
  if (std::string error = ParsePreemptArgs(body, args); !error.empty()) return BadRequest(error);
  PodIntent intent = ParsePodIntent(args.pod, *cache_.policy());
  Json result = Json::object();
  if (!intent.wants_chips) {
    // Not a flexai pod: kube-scheduler's proposal stands.
    for (const auto& [node, proposal] : args.nodes) {
      if (!proposal.uids.empty())
        result[node] = MetaVictims(proposal.uids, proposal.pdb_violations);
    }
    return {200,
            Json{{"NodeNameToMetaVictims", result}}.dump(-1, ' ', false,
                                                         Json::error_handler_t::replace),
            "application/json"};
  }
  const auto priority =
      static_cast<int32_t>(kube::IntAt(kube::ObjectAt(args.pod, "spec"), "priority", 0));
  const std::vector<partition::DisruptionBudget> budgets = budgets_.Budgets();
  std::vector<int64_t> allowed;
  for (const auto& b : budgets) allowed.push_back(b.disruptions_allowed);

  int64_t victims_named = 0;
  size_t kept = 0;
  // The improving search shares one budget over the nodes proposed (kube-scheduler may propose a
  // hundred), so an answer stays well inside its httpTimeout; the greedy pass always runs.
  partition::VictimSearchLimits per_node = limits_;
  if (!args.nodes.empty()) {
    per_node.max_fit_checks = std::max(
        kMinFitChecksPerNode,
        std::min(limits_.max_fit_checks, kFitChecksPerCall / static_cast<int>(args.nodes.size())));
  }
  std::optional<std::string> held_node;  // chips held for another pending pod
  bool holds_reservation = false;
  if (queue_) {
    auto member = queue_->gangs().Member(intent.uid);
    holds_reservation = member && !member->bound;
    auto hold = queue_->ActiveHold(std::chrono::system_clock::now());
    if (hold && hold->uid != intent.uid) held_node = hold->node;
  }
  // Under the cache's lock only the proposed nodes and their pods are copied; the search runs on
  // the copies, so binds and watch updates do not wait for it.
  struct Candidate {
    std::string name;
    CachedNode probe;  // a scratch copy: victims are taken off it while searching
    std::vector<partition::RunningPod> running;
    std::set<std::string> flexai_uids;
  };
  std::vector<Candidate> candidates;
  if (intent.error.empty() && !holds_reservation) {
    cache_.ReadPods([&](const std::unordered_map<std::string, CachedNode>& nodes,
                        const ClusterCache::PodMap& pods) {
      std::map<std::string, std::vector<const CachedPod*>> by_node;
      for (const auto& [uid, pod] : pods) {
        if (args.nodes.count(pod.node)) by_node[pod.node].push_back(&pod);
      }
      for (const auto& [name, proposal] : args.nodes) {
        auto node = nodes.find(name);
        if (node == nodes.end() || name == held_node) continue;
        Candidate c{name, node->second, {}, {}};
        // Epoch 0 marks the copy as no node of the cache (nothing memoised for the real node
        // applies to it).
        c.probe.epoch = 0;
        c.probe.state.Release(intent.uid);  // a leftover reservation of the preemptor itself
        for (const CachedPod* pod : by_node[name]) {
          c.flexai_uids.insert(pod->uid);
          // Only bound pods are in kube-scheduler's node view (it looks victims up there); a
          // reservation whose binding has not landed keeps its slices but is no victim.
          if (!pod->bound || pod->uid == intent.uid) continue;
          c.running.push_back(
              {pod->uid, pod->priority,
               partition::BudgetsCovering(budgets, pod->ns, pod->name, pod->labels)});
        }
        candidates.push_back(std::move(c));
      }
    });
  }
  for (Candidate& c : candidates) {
    const auto& proposal = args.nodes.at(c.name);
    auto fits = [&](const partition::NodeState&) {
      return scheduler_.Choose(intent, c.probe).ok();
    };
    auto chosen =
        partition::SelectVictims(c.probe.state, priority, c.running, allowed, fits, per_node);
    if (!chosen) continue;
    if (chosen->uids.empty()) {
      // The slices fit already: what kube-scheduler proposed is for its own resources.
      if (!proposal.uids.empty()) {
        result[c.name] = MetaVictims(proposal.uids, proposal.pdb_violations);
        victims_named += static_cast<int64_t>(proposal.uids.size());
        ++kept;
      }
      continue;
    }
    // Keep kube-scheduler's victims that hold no flexai slices (they free CPU or memory).
    std::vector<std::string> uids = chosen->uids;
    bool kept_others = false;
    for (const auto& uid : proposal.uids) {
      if (!c.flexai_uids.count(uid)) {
        uids.push_back(uid);
        kept_others = true;
      }
    }
    // kube-scheduler's count covers its whole proposal, ours the flexai pods: the larger is a
    // lower bound for the union.
    int64_t violations = chosen->cost.pdb_violations;
    if (kept_others) violations = std::max(violations, proposal.pdb_violations);
    victims_named += static_cast<int64_t>(uids.size());
    result[c.name] = MetaVictims(uids, violations);
    ++kept;
  }
  spdlog::debug("preempt {}: {} of {} nodes can make room", intent.display_name(), kept,
                args.nodes.size());
  if (metrics_) metrics_->CountPreemption(kept, args.nodes.size() - kept, victims_named);
  return {
      200,
      Json{{"NodeNameToMetaVictims", result}}.dump(-1, ' ', false, Json::error_handler_t::replace),
      "application/json"};
}

}  // namespace flexai::extender
