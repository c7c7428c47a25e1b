#include "extender/scheduler.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "extender/misfit.h"
#include "kube/protocol.h"
#include "partition/placement/chip_groups.h"

namespace flexai::extender {
namespace {

using partition::ChipSet;
using partition::NodeState;

// Chip order for the per-node pick: busy chips first (binpack) or idle chips first (spread).
std::vector<int> ChipOrder(const NodeState& node, PackMode mode) {
  std::vector<int> order(static_cast<size_t>(node.chip_count()));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    int fa = node.ledger(a).free_cores(), fb = node.ledger(b).free_cores();
    return mode == PackMode::kBinpack ? fa < fb : fa > fb;
  });
  return order;
}

bool AllChosenPreferred(const NodeState& node, const std::vector<ChipSet>& chips,
                        const std::vector<std::string>& preferred) {
  if (preferred.empty()) return false;
  for (ChipSet set : chips) {
    for (int i = 0; i < node.chip_count(); ++i) {
      if (!(set & (ChipSet{1} << i))) continue;
      if (std::find(preferred.begin(), preferred.end(), node.chip(i).model) == preferred.end()) {
        return false;
      }
    }
  }
  return true;
}

// Share of the node's compute left idle after placing `pod` (spread prefers emptier nodes).
double IdleShareAfter(const NodeState& node, const partition::PodRequest& pod) {
  int64_t total = 0, free = 0;
  for (int i = 0; i < node.chip_count(); ++i) {
    total += node.ledger(i).capacity().cores;
    free += node.ledger(i).free_cores();
  }
  if (total == 0) return 0;
  return static_cast<double>(free - pod.ChipSharePercent()) / static_cast<double>(total);
}

// Everything about a pod that its placement evaluation reads (not its identity).
std::string ShapeKey(const PodIntent& pod) {
  std::string f = pod.error + "|";
  for (const auto& c : pod.request.containers) {
    const auto& r = c.slice;
    f += c.name + ":" + std::to_string(r.chips) + ":" + std::to_string(r.memory_mib) + ":" +
         std::to_string(r.memory_percent) + ":" + std::to_string(r.cores) + ":" +
         std::to_string(r.vendor ? static_cast<int>(*r.vendor) : -1);
    for (const auto* list :
         {&r.allowed_models, &r.excluded_models, &r.allowed_uuids, &r.excluded_uuids}) {
      f += "[";
      for (const auto& item : *list) f += item + ",";
      f += "]";
    }
    f += ";";
  }
  f += std::to_string(pod.request.host.cpu_milli) + ":" +
       std::to_string(pod.request.host.memory_mib);
  f += "|" + std::to_string(static_cast<int>(pod.hints.node_mode)) +
       std::to_string(static_cast<int>(pod.hints.chip_mode)) + (pod.hints.numa_bind ? "n" : "-") +
       (pod.hints.island_bind ? "i" : "-") +
       (pod.hints.isolation ? std::to_string(static_cast<int>(*pod.hints.isolation)) : "-");
  for (const auto& m : pod.hints.prefer_models) f += m + ",";
  return f;
}

std::string Fingerprint(const PodIntent& pod) { return pod.uid + "|" + ShapeKey(pod); }

constexpr size_t kMemoPods = 32;

}  // namespace

std::shared_ptr<const Scheduler::Memo> Scheduler::FindMemo(const std::string& fingerprint) const {
  std::lock_guard lock(memo_mu_);
  for (const auto& m : memos_) {
    if (m->fingerprint == fingerprint) return m;
  }
  return nullptr;
}

void Scheduler::KeepMemo(std::shared_ptr<const Memo> memo) const {
  std::lock_guard lock(memo_mu_);
  memos_.remove_if([&](const auto& m) { return m->fingerprint == memo->fingerprint; });
  memos_.push_front(std::move(memo));
  if (memos_.size() > kMemoPods) memos_.pop_back();
}

Scheduler::Scheduler(const ClusterCache& cache,
                     std::shared_ptr<const partition::PlacementPolicy> policy,
                     SchedulerOptions options)
    : cache_(cache), policy_(std::move(policy)), options_(std::move(options)) {}

void Scheduler::SetPlacementPolicy(std::shared_ptr<const partition::PlacementPolicy> policy) {
  std::lock_guard lock(policy_mu_);
  policy_ = std::move(policy);
}

std::shared_ptr<const partition::PlacementPolicy> Scheduler::policy() const {
  std::lock_guard lock(policy_mu_);
  return policy_;
}

std::optional<std::vector<ChipSet>> Scheduler::PickChips(const PodIntent& pod,
                                                         const NodeState& node) const {
  partition::ChipGrouping grouping{pod.hints.numa_bind, pod.hints.island_bind};
  std::vector<int> order = ChipOrder(node, pod.hints.chip_mode);
  if (!grouping.any()) return partition::PickChipsInOrder(node, pod.request, order);
  // The whole pod inside one NUMA node and/or NVLink island; groups tried in pack order.
  return partition::PickChipsInOneGroup(node, pod.request, order, grouping,
                                        pod.hints.chip_mode == PackMode::kBinpack);
}

Scheduler::Evaluation Scheduler::Evaluate(const Context& ctx, const PodIntent& pod,
                                          const CachedNode* node, const std::string& name,
                                          bool explain) const {
  if (auto unusable = Unusable(ctx, node, name)) return std::move(*unusable);
  if (auto mismatch = IsolationMismatch(pod, *node, name)) return std::move(*mismatch);
  return EvaluatePlacement(ctx, pod, *node, name, explain);
}

std::optional<Scheduler::Evaluation> Scheduler::Unusable(const Context& ctx, const CachedNode* node,
                                                         const std::string& name) const {
  Evaluation e;
  if (!node) {
    e.reason = "node " + name + ": not known to flexai (not listed yet, or deleted)";
    return e;
  }
  if (!node->has_inventory) {
    e.reason = "node " + name + ": " + node->inventory_error;
    e.unresolvable = true;
    return e;
  }
  if (!node->heartbeat) {
    e.reason =
        "node " + name + ": no device plugin heartbeat annotation; its chips are not trusted";
    e.unresolvable = true;
    return e;
  }
  auto age = std::chrono::duration_cast<std::chrono::seconds>(ctx.now - *node->heartbeat);
  if (age > options_.node_stale) {
    e.reason = "node " + name + ": device plugin heartbeat is " + std::to_string(age.count()) +
               " s old (limit " + std::to_string(options_.node_stale.count()) +
               " s); its chips are not trusted";
    e.unresolvable = true;
    return e;
  }
  return std::nullopt;
}

std::optional<Scheduler::Evaluation> Scheduler::IsolationMismatch(const PodIntent& pod,
                                                                  const CachedNode& node,
                                                                  const std::string& name) {
  if (!pod.hints.isolation || *pod.hints.isolation == node.isolation || !pod.wants_slices()) {
    return std::nullopt;
  }
  Evaluation e;
  e.reason = "node " + name + ": its slice policy runs isolation " +
             std::string(partition::IsolationModeName(node.isolation)) + ", the pod asks " +
             std::string(kube::kIsolationAnnotation) + "=" +
             std::string(partition::IsolationModeName(*pod.hints.isolation));
  e.unresolvable = true;
  return e;
}

Scheduler::Evaluation Scheduler::EvaluatePlacement(const Context& ctx, const PodIntent& pod,
                                                   const CachedNode& node, const std::string& name,
                                                   bool explain) const {
  Evaluation e;
  const NodeState& state = node.state;
  auto base = ctx.policy->Evaluate(state, pod.request);
  if (base) {
    bool custom_pick =
        pod.hints.numa_bind || pod.hints.island_bind || pod.hints.chip_mode == PackMode::kSpread;
    if (custom_pick) {
      auto chips = PickChips(pod, state);
      if (chips) {
        base->chips = std::move(*chips);
      } else {
        base.reset();
        e.reason = pod.hints.island_bind
                       ? "node " + name +
                             ": no single NVLink island / HCCS ring has room for the whole pod "
                             "(flexai.io/island-bind)"
                       : "node " + name + ": no single NUMA node has room for the whole pod (" +
                             std::string("flexai.io/numa-bind") + ")";
      }
    }
  }
  if (base && pod.hints.node_mode == PackMode::kSpread) {
    base->score = IdleShareAfter(state, pod.request);
  }
  if (!base) {
    if (explain && e.reason.empty()) {
      Misfit m = ExplainMisfit(state, pod.request);
      e.reason = m.reason;
      e.unresolvable = m.unresolvable;
    }
    return e;
  }
  e.choice = std::move(base);
  return e;
}

std::vector<NodeVerdict> Scheduler::Verdicts(
    const Context& ctx, const PodIntent& pod,
    const std::unordered_map<std::string, CachedNode>& cached,
    const std::vector<std::string>& names, bool explain) const {
  std::vector<NodeVerdict> out(names.size());
  std::vector<const CachedNode*> usable(names.size(), nullptr);
  for (size_t i = 0; i < names.size(); ++i) {
    auto it = cached.find(names[i]);
    const CachedNode* node = it == cached.end() ? nullptr : &it->second;
    if (auto unusable = Unusable(ctx, node, names[i])) {
      out[i].explained = true;
      out[i].unresolvable = unusable->unresolvable;
      out[i].reason = std::move(unusable->reason);
      continue;
    }
    if (auto mismatch = IsolationMismatch(pod, *node, names[i])) {
      out[i].explained = true;
      out[i].unresolvable = true;
      out[i].reason = std::move(mismatch->reason);
      continue;
    }
    usable[i] = node;
  }
  // Read before evaluating: a verdict is never kept under a newer policy state than it saw.
  const std::optional<uint64_t> version = ctx.policy->StateVersion();
  std::shared_ptr<ShapeVerdicts> table;
  std::vector<bool> hit(names.size(), false);
  if (version) {
    table = scores_.For(ShapeKey(pod), ctx.policy);
    table->Lookup(usable, *version, explain, out, hit);
  }
  std::vector<std::pair<const CachedNode*, NodeVerdict>> fresh;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!usable[i] || hit[i]) continue;
    Evaluation e = EvaluatePlacement(ctx, pod, *usable[i], names[i], explain);
    NodeVerdict& v = out[i];
    v.fits = e.choice.has_value();
    if (e.choice) {
      v.score = e.choice->score;
      v.preferred = AllChosenPreferred(usable[i]->state, e.choice->chips, pod.hints.prefer_models);
    }
    v.explained = explain;
    v.unresolvable = e.unresolvable;
    v.reason = std::move(e.reason);
    if (table) fresh.emplace_back(usable[i], v);
  }
  if (table) table->Store(fresh, *version, cached.size());
  return out;
}

FilterOutcome Scheduler::Filter(const PodIntent& pod, const std::vector<std::string>& nodes) const {
  FilterOutcome out;
  if (!pod.wants_chips) {
    out.passed = nodes;
    return out;
  }
  if (!pod.error.empty()) {
    for (const auto& n : nodes)
      out.unresolvable[n] = "pod " + pod.display_name() + ": " + pod.error;
    return out;
  }
  const Context ctx = MakeContext();
  auto memo = std::make_shared<Memo>();
  memo->fingerprint = Fingerprint(pod);
  cache_.Read([&](const std::unordered_map<std::string, CachedNode>& cached, uint64_t generation) {
    memo->generation = generation;
    std::vector<NodeVerdict> verdicts = Verdicts(ctx, pod, cached, nodes, true);
    out.passed.reserve(nodes.size());
    memo->scores.reserve(nodes.size());
    for (size_t i = 0; i < nodes.size(); ++i) {
      NodeVerdict& v = verdicts[i];
      if (v.fits) {
        out.passed.push_back(nodes[i]);
        memo->scores.push_back({v.score, v.preferred});
      } else if (v.unresolvable) {
        out.unresolvable[nodes[i]] = std::move(v.reason);
      } else {
        out.failed[nodes[i]] = std::move(v.reason);
      }
    }
  });
  memo->passed = out.passed;
  KeepMemo(std::move(memo));
  return out;
}

std::vector<HostScore> Scheduler::Prioritize(const PodIntent& pod,
                                             const std::vector<std::string>& nodes) const {
  std::vector<HostScore> out;
  out.reserve(nodes.size());
  if (!pod.wants_chips || !pod.error.empty()) {
    for (const auto& n : nodes) out.push_back({n, 0});
    return out;
  }
  std::vector<std::optional<double>> raw(nodes.size());
  std::vector<bool> preferred(nodes.size(), false);
  const Context ctx = MakeContext();
  auto memo = FindMemo(Fingerprint(pod));
  cache_.Read([&](const std::unordered_map<std::string, CachedNode>& cached, uint64_t generation) {
    if (memo && memo->generation == generation && memo->passed == nodes) {
      for (size_t i = 0; i < nodes.size(); ++i) {
        raw[i] = memo->scores[i].score;
        preferred[i] = memo->scores[i].preferred;
      }
      return;
    }
    std::vector<NodeVerdict> verdicts = Verdicts(ctx, pod, cached, nodes, false);
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (!verdicts[i].fits) continue;
      raw[i] = verdicts[i].score;
      preferred[i] = verdicts[i].preferred;
    }
  });
  // Scale the policy's scores linearly onto 0..10 (0..8 when preferred models can add 2).
  double lo = INFINITY, hi = -INFINITY;
  for (const auto& r : raw) {
    if (r) lo = std::min(lo, *r), hi = std::max(hi, *r);
  }
  double top = pod.hints.prefer_models.empty() ? kMaxExtenderScore : kMaxExtenderScore - 2;
  for (size_t i = 0; i < nodes.size(); ++i) {
    int64_t score = 0;
    if (raw[i]) {
      double scaled = hi > lo ? (*raw[i] - lo) / (hi - lo) * top : top;
      score = static_cast<int64_t>(std::lround(scaled)) + (preferred[i] ? 2 : 0);
      score = std::clamp<int64_t>(score, 0, kMaxExtenderScore);
    }
    out.push_back({nodes[i], score});
  }
  return out;
}

Result<partition::PodAssignment> Scheduler::Choose(const PodIntent& pod,
                                                   const CachedNode& node) const {
  if (!pod.error.empty()) return Error{"pod " + pod.display_name() + ": " + pod.error};
  Evaluation e = Evaluate(MakeContext(), pod, &node, node.name, true);
  if (!e.choice) return Error{e.reason};
  return node.state.MakeAssignment(pod.request, e.choice->chips);
}

}  // namespace flexai::extender
