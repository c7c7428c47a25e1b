#include "extender/cluster_cache.h"

#include <spdlog/spdlog.h>

#include <mutex>

#include "extender/gang_annotations.h"
#include "extender/quantity.h"
#include "kube/operations.h"
#include "kube/protocol.h"
#include "partition/assignment_codec.h"

namespace flexai::extender {
namespace {

using Json = nlohmann::json;

// Host capacity when a node reports none: large enough never to be the limit.
constexpr int64_t kUnlimited = int64_t{1} << 40;

std::string PhaseOf(const Json& pod) {
  auto status = pod.find("status");
  if (status == pod.end() || !status->is_object()) return "";
  return kube::StringAt(*status, "phase");
}

bool IsTerminal(const std::string& phase) { return phase == "Succeeded" || phase == "Failed"; }

// spec.priority as the admission plugin resolved it; 0 when absent (no PriorityClass).
int32_t PriorityOf(const Json& pod) {
  return static_cast<int32_t>(kube::IntAt(kube::ObjectAt(pod, "spec"), "priority", 0));
}

// What the pod's later events may change on a cached pod besides its assignment.
void RefreshPodFields(CachedPod& cached, const Json& pod) {
  cached.bind_phase = kube::AnnotationOf(pod, std::string(kube::kBindPhaseAnnotation));
  cached.gang = !kube::AnnotationOf(pod, std::string(kGangAnnotation)).empty();
  cached.bind_time =
      kube::ParseTime(kube::AnnotationOf(pod, std::string(kube::kBindTimeAnnotation)));
  cached.priority = PriorityOf(pod);
  cached.labels = kube::StringMapAt(kube::ObjectAt(pod, "metadata"), "labels");
}

}  // namespace

bool CachedPod::HeldLikePlaced() const {
  return bound || (gang && (bind_phase == kBindPhaseGangReserved ||
                            bind_phase == kube::kBindPhaseAllocating));
}

namespace {

bool IsBound(const Json& pod) {
  auto spec = pod.find("spec");
  return spec != pod.end() && spec->is_object() && !kube::StringAt(*spec, "nodeName").empty();
}

// Live usage changes with every heartbeat and is read by metrics only: it never rebuilds the node
// nor changes its epoch, so scores are unaffected. A malformed value is dropped with a warning;
// entries the inventory cannot account for are dropped or clamped (FitLiveUsage), with a warning
// when what was wrong changes. Runs after the inventory is read, and again when it changed.
void UpdateLiveUsage(CachedNode& node, const std::string& text, bool inventory_changed) {
  bool text_changed = text != node.live_usage_text;
  if (!text_changed && !inventory_changed) return;
  node.live_usage_text = text;
  node.live_usage.reset();
  if (text.empty()) return;
  auto usage = kube::DecodeLiveUsage(text);
  if (!usage) {
    if (text_changed) {
      spdlog::warn("node {}: ignoring unusable {}: {}", node.name, kube::kLiveUsageAnnotation,
                   usage.error().message);
    }
    return;
  }
  std::string fixes;
  for (const auto& change : kube::FitLiveUsage(*usage, node.state.chips())) {
    fixes += (fixes.empty() ? "" : "; ") + change;
  }
  if (fixes != node.live_usage_fixes && !fixes.empty()) {
    spdlog::warn("node {}: {}: {}", node.name, kube::kLiveUsageAnnotation, fixes);
  }
  node.live_usage_fixes = fixes;
  node.live_usage = std::move(*usage);
}

}  // namespace

ClusterCache::ClusterCache(std::shared_ptr<const partition::SlicePolicy> policy)
    : policy_(std::move(policy)) {}

std::shared_ptr<const partition::SlicePolicy> ClusterCache::policy() const {
  std::shared_lock lock(mu_);
  return policy_;
}

void ClusterCache::SetPolicy(std::shared_ptr<const partition::SlicePolicy> policy) {
  std::unique_lock lock(mu_);
  policy_ = std::move(policy);
  for (auto& [name, node] : nodes_) RebuildNodeLocked(node);
  ++generation_;
}

void ClusterCache::ReplaceNodes(const std::vector<Json>& nodes) {
  std::unique_lock lock(mu_);
  std::set<std::string> seen;
  for (const auto& n : nodes) {
    seen.insert(kube::NameOf(n));
    UpsertNodeLocked(n);
  }
  for (auto it = nodes_.begin(); it != nodes_.end();) {
    it = seen.count(it->first) ? std::next(it) : nodes_.erase(it);
  }
  ++generation_;
}

void ClusterCache::UpsertNode(const Json& node) {
  std::unique_lock lock(mu_);
  if (UpsertNodeLocked(node)) ++generation_;
}

void ClusterCache::RemoveNode(const Json& node) {
  std::unique_lock lock(mu_);
  nodes_.erase(kube::NameOf(node));
  ++generation_;
}

bool ClusterCache::UpsertNodeLocked(const Json& object) {
  std::string name = kube::NameOf(object);
  if (name.empty()) return false;
  auto [it, created] = nodes_.try_emplace(name);
  CachedNode& node = it->second;
  node.name = name;
  std::map<std::string, std::string> labels;
  if (object.contains("metadata") && object["metadata"].contains("labels") &&
      object["metadata"]["labels"].is_object()) {
    for (auto l = object["metadata"]["labels"].begin(); l != object["metadata"]["labels"].end();
         ++l) {
      if (l->is_string()) labels[l.key()] = l->get<std::string>();
    }
  }
  node.unschedulable = kube::BoolAt(kube::ObjectAt(object, "spec"), "unschedulable");
  partition::HostResources allocatable{kUnlimited, kUnlimited};
  if (object.contains("status") && object["status"].contains("allocatable")) {
    const Json& alloc = object["status"]["allocatable"];
    if (alloc.contains("cpu")) {
      if (auto v = ParseCpuMilli(alloc["cpu"])) allocatable.cpu_milli = *v;
    }
    if (alloc.contains("memory")) {
      if (auto v = ParseMemoryMib(alloc["memory"])) allocatable.memory_mib = *v;
    }
  }
  std::string beat = kube::AnnotationOf(object, std::string(kube::kHeartbeatAnnotation));
  node.heartbeat = beat.empty() ? std::nullopt : kube::ParseTime(beat);
  std::string live = kube::AnnotationOf(object, std::string(kube::kLiveUsageAnnotation));
  std::string text = kube::AnnotationOf(object, std::string(kube::kInventoryAnnotation));
  // Heartbeats arrive every few seconds from every node: only a change of what placement reads
  // (inventory, labels, allocatable) rebuilds the node. A rebuild loses nothing: the ledgers are
  // replayed from pod assignments.
  if (!created && text == node.inventory_text && labels == node.labels &&
      allocatable.cpu_milli == node.allocatable.cpu_milli &&
      allocatable.memory_mib == node.allocatable.memory_mib) {
    UpdateLiveUsage(node, live, /*inventory_changed=*/false);
    return false;
  }
  node.labels = std::move(labels);
  node.allocatable = allocatable;
  node.inventory_text = text;
  RebuildNodeLocked(node);
  UpdateLiveUsage(node, live, /*inventory_changed=*/true);
  return true;
}

void ClusterCache::RebuildNodeLocked(CachedNode& node) {
  std::vector<partition::Chip> chips;
  node.has_inventory = false;
  node.inventory_error.clear();
  if (node.inventory_text.empty()) {
    node.inventory_error = "no " + std::string(kube::kInventoryAnnotation) +
                           " annotation (is the flexai device plugin running there?)";
  } else if (auto inv = kube::DecodeInventory(node.inventory_text); !inv.ok()) {
    node.inventory_error =
        "unusable " + std::string(kube::kInventoryAnnotation) + ": " + inv.error().message;
    spdlog::warn("node {}: {}", node.name, node.inventory_error);
  } else {
    chips = std::move(inv->chips);
    node.has_inventory = true;
  }
  node.isolation = partition::EffectiveSharing(*policy_, node.labels).isolation_mode;
  std::vector<partition::ChipCapacity> capacities;
  capacities.reserve(chips.size());
  for (const auto& chip : chips) {
    capacities.push_back(partition::CapacityFor(*policy_, chip, node.labels));
  }
  node.state = partition::NodeState(node.name, node.allocatable, std::move(chips),
                                    std::move(capacities), node.labels);
  // Bound pods are restored whatever room is left: their containers hold those slices, so a
  // smaller capacity (policy, allocatable, a vanished chip) leaves the node over-full rather than
  // forgetting them. An unbound pod's assignment may be the leftover of a bind that died between
  // its patch and the binding: applied only where it still fits.
  std::vector<partition::PodAssignment> placed, tentative;
  if (auto it = by_node_.find(node.name); it != by_node_.end()) {
    for (const auto& uid : it->second) {
      const CachedPod& pod = pods_.at(uid);
      (pod.HeldLikePlaced() ? placed : tentative).push_back(pod.assignment);
    }
  }
  for (const auto& e : node.state.Rebuild(placed, tentative)) {
    spdlog::warn("node {}: {}", node.name, e.message);
  }
  node.epoch = ++epochs_;
}

void ClusterCache::ReplacePods(const std::vector<Json>& pods) {
  std::unique_lock lock(mu_);
  std::set<std::string> seen;
  for (const auto& p : pods) {
    seen.insert(kube::UidOf(p));
    UpsertPodLocked(p);
  }
  std::vector<std::string> gone;
  for (const auto& [uid, pod] : pods_) {
    if (!seen.count(uid) && !pod.binding) gone.push_back(uid);
  }
  for (const auto& uid : gone) ForgetPodLocked(uid);
  ++generation_;
}

void ClusterCache::UpsertPod(const Json& pod) {
  std::unique_lock lock(mu_);
  UpsertPodLocked(pod);
  ++generation_;
}

void ClusterCache::RemovePod(const Json& pod) {
  std::unique_lock lock(mu_);
  ForgetPodLocked(kube::UidOf(pod));
  ++generation_;
}

void ClusterCache::ForgetPodLocked(const std::string& uid) {
  auto it = pods_.find(uid);
  if (it == pods_.end()) return;
  const std::string& node = it->second.node;
  if (auto n = nodes_.find(node); n != nodes_.end()) {
    n->second.state.Release(uid);
    n->second.epoch = ++epochs_;
  }
  if (auto b = by_node_.find(node); b != by_node_.end()) {
    b->second.erase(uid);
    if (b->second.empty()) by_node_.erase(b);
  }
  pods_.erase(it);
}

void ClusterCache::UpsertPodLocked(const Json& pod) {
  std::string uid = kube::UidOf(pod);
  if (uid.empty()) return;
  auto existing = pods_.find(uid);
  if (existing != pods_.end() && existing->second.min_version > 0) {
    int64_t v = kube::ResourceVersionNumber(pod);
    if (v > 0 && v < existing->second.min_version) return;  // older than our own patch
  }
  if (IsTerminal(PhaseOf(pod))) {
    ForgetPodLocked(uid);
    return;
  }
  std::string text = kube::AnnotationOf(pod, std::string(kube::kAssignmentAnnotation));
  if (existing != pods_.end() && existing->second.bound &&
      text != EncodeAssignment(existing->second.assignment)) {
    KeepPlacedAssignmentLocked(existing->second, pod, text);
    return;
  }
  if (text.empty()) {
    // A bind in flight has not written its annotation yet: this event predates it.
    if (existing != pods_.end() && existing->second.binding) return;
    ForgetPodLocked(uid);
    return;
  }
  auto decoded = partition::DecodeAssignment(text, uid);
  if (!decoded.ok()) {
    spdlog::warn("pod {}/{}: ignoring {}: {}", kube::NamespaceOf(pod), kube::NameOf(pod),
                 kube::kAssignmentAnnotation, decoded.error().message);
    ForgetPodLocked(uid);
    return;
  }
  if (existing != pods_.end()) {
    // Same assignment already held (typically our own reservation echoed back): keep it.
    if (EncodeAssignment(existing->second.assignment) == text) {
      existing->second.binding = false;
      existing->second.bound = existing->second.bound || IsBound(pod);
      existing->second.ignored_assignment.clear();
      RefreshPodFields(existing->second, pod);
      // A reservation a rebuild could not fit is now bound: its slices are real.
      if (existing->second.HeldLikePlaced()) HoldPlacedLocked(existing->second);
      return;
    }
    // A reservation in flight is not replaced by an assignment its patch has not written yet
    // (a leftover of an earlier attempt): ConfirmReservation then makes such events stale.
    if (existing->second.binding) return;
    ForgetPodLocked(uid);
  }
  CachedPod entry;
  entry.uid = uid;
  entry.ns = kube::NamespaceOf(pod);
  entry.name = kube::NameOf(pod);
  entry.node = decoded->node;
  entry.assignment = std::move(*decoded);
  entry.bound = IsBound(pod);
  RefreshPodFields(entry, pod);
  if (auto n = nodes_.find(entry.node); n != nodes_.end()) {
    if (n->second.has_inventory) {
      // Fill chip indexes from UUIDs and take the slices.
      n->second.epoch = ++epochs_;
      auto s = n->second.state.Apply(entry.assignment);
      if (!s.ok() && entry.HeldLikePlaced()) {
        // A bound pod's (or gang member's) slices are real: displace leftover reservations of
        // unbound pods (a bind that died after its patch), which their next bind replaces;
        // failing that, hold them anyway.
        DropUnboundReservationsLocked(entry.node, uid);
        s = n->second.state.Apply(entry.assignment);
        if (!s.ok()) HoldPlacedLocked(entry);
      } else if (!s.ok()) {
        spdlog::warn("pod {}/{}: cannot restore its slices: {}", entry.ns, entry.name, s.message());
      }
    }
  }
  by_node_[entry.node].insert(uid);
  pods_.emplace(uid, std::move(entry));
}

void ClusterCache::HoldPlacedLocked(const CachedPod& pod) {
  auto n = nodes_.find(pod.node);
  if (n == nodes_.end() || !n->second.has_inventory) return;
  partition::NodeState& state = n->second.state;
  if (state.pods().count(pod.uid)) return;
  std::vector<Error> notes = state.Restore(pod.assignment);
  for (auto& e : state.OverFull()) notes.push_back(std::move(e));
  for (const auto& e : notes) {
    spdlog::warn("node {}: pod {}/{} keeps its slices: {}", pod.node, pod.ns, pod.name, e.message);
  }
  n->second.epoch = ++epochs_;
}

void ClusterCache::KeepPlacedAssignmentLocked(CachedPod& cached, const Json& pod,
                                              const std::string& text) {
  RefreshPodFields(cached, pod);
  if (text == cached.ignored_assignment) return;  // warned about this value already
  cached.ignored_assignment = text;
  std::string why = "removed";
  if (!text.empty()) {
    auto decoded = partition::DecodeAssignment(text, cached.uid);
    why = decoded.ok() ? "changed to \"" + text + "\"" : "malformed: " + decoded.error().message;
  }
  spdlog::warn("pod {}/{}: ignoring {}: {}; the pod is bound, its slices stay as placed ({})",
               cached.ns, cached.name, kube::kAssignmentAnnotation, why,
               EncodeAssignment(cached.assignment));
}

void ClusterCache::DropUnboundReservationsLocked(const std::string& node_name,
                                                 const std::string& keep_uid) {
  auto b = by_node_.find(node_name);
  auto n = nodes_.find(node_name);
  if (b == by_node_.end() || n == nodes_.end()) return;
  std::vector<std::string> stale;
  for (const auto& uid : b->second) {
    const CachedPod& p = pods_.at(uid);
    if (uid != keep_uid && !p.HeldLikePlaced() && !p.binding) stale.push_back(uid);
  }
  for (const auto& uid : stale) {
    spdlog::warn("pod {}/{}: dropping its unbound reservation on {}: a bound pod needs the room",
                 pods_.at(uid).ns, pods_.at(uid).name, node_name);
    ForgetPodLocked(uid);
  }
}

Result<partition::PodAssignment> ClusterCache::Reserve(const std::string& ns,
                                                       const std::string& name,
                                                       const std::string& node_name,
                                                       const Chooser& choose,
                                                       const AllocationGuard* guard) {
  std::unique_lock lock(mu_);
  auto n = nodes_.find(node_name);
  if (n == nodes_.end()) return Error{"node " + node_name + " is not in the cache"};
  if (guard) {
    if (auto b = by_node_.find(node_name); b != by_node_.end()) {
      for (const auto& other_uid : b->second) {
        const CachedPod& other = pods_.at(other_uid);
        if (other.ns == ns && other.name == name) continue;
        if (other.bind_phase != kube::kBindPhaseAllocating || !other.bind_time) continue;
        if (guard->now - *other.bind_time >= guard->window) continue;
        for (const auto& c : other.assignment.containers) {
          if (guard->chip_counts.count(static_cast<int>(c.grants.size()))) {
            return Error{"node " + node_name + " is still allocating " + other.ns + "/" +
                         other.name +
                         " (same chip count); retrying avoids a device-plugin "
                         "mismatch"};
          }
        }
      }
    }
  }
  auto chosen = choose(n->second);
  if (!chosen.ok()) return chosen;
  const std::string& uid = chosen->pod_uid;
  if (auto existing = pods_.find(uid); existing != pods_.end()) {
    if (EncodeAssignment(existing->second.assignment) == EncodeAssignment(*chosen)) return chosen;
    return Error{"pod " + ns + "/" + name + " already holds slices on node " +
                 existing->second.node};
  }
  if (auto s = n->second.state.Apply(*chosen); !s.ok()) return Error{s.message()};
  n->second.epoch = ++epochs_;
  CachedPod entry;
  entry.uid = uid;
  entry.ns = ns;
  entry.name = name;
  entry.node = node_name;
  entry.assignment = *chosen;
  entry.binding = true;
  entry.bind_phase = std::string(kube::kBindPhaseAllocating);
  entry.bind_time = guard ? std::optional<kube::WallTime>(guard->now) : std::nullopt;
  // bound, gang, priority and labels: filled in by the pod's next event.
  by_node_[node_name].insert(uid);
  pods_.emplace(uid, std::move(entry));
  ++generation_;
  return chosen;
}

void ClusterCache::ConfirmReservation(const std::string& uid, int64_t version) {
  std::unique_lock lock(mu_);
  if (auto it = pods_.find(uid); it != pods_.end()) {
    it->second.binding = false;
    it->second.min_version = version;
  }
}

void ClusterCache::MarkBound(const std::string& uid) {
  std::unique_lock lock(mu_);
  if (auto it = pods_.find(uid); it != pods_.end()) it->second.bound = true;
}

void ClusterCache::Unreserve(const std::string& uid) {
  std::unique_lock lock(mu_);
  if (auto it = pods_.find(uid); it != pods_.end() && it->second.bound) {
    spdlog::warn("pod {}/{} is bound: its slices are kept", it->second.ns, it->second.name);
    return;
  }
  ForgetPodLocked(uid);
  ++generation_;
}

void ClusterCache::Read(
    const std::function<void(const std::unordered_map<std::string, CachedNode>&)>& read) const {
  std::shared_lock lock(mu_);
  read(nodes_);
}

void ClusterCache::Read(const std::function<void(const std::unordered_map<std::string, CachedNode>&,
                                                 uint64_t)>& read) const {
  std::shared_lock lock(mu_);
  read(nodes_, generation_);
}

void ClusterCache::ReadPods(
    const std::function<void(const std::unordered_map<std::string, CachedNode>&, const PodMap&)>&
        read) const {
  std::shared_lock lock(mu_);
  read(nodes_, pods_);
}

std::optional<partition::PodAssignment> ClusterCache::AssignmentOf(const std::string& uid) const {
  std::shared_lock lock(mu_);
  auto it = pods_.find(uid);
  if (it == pods_.end()) return std::nullopt;
  return it->second.assignment;
}

ClusterCache::Stats ClusterCache::stats() const {
  std::shared_lock lock(mu_);
  Stats s;
  s.nodes = nodes_.size();
  s.pods_with_slices = pods_.size();
  for (const auto& [name, node] : nodes_) {
    if (node.has_inventory && node.state.chip_count() > 0) ++s.nodes_with_chips;
    for (int i = 0; i < node.state.chip_count(); ++i) {
      const auto& l = node.state.ledger(i);
      ++s.chips;
      s.memory_mib_total += l.capacity().memory_mib;
      s.memory_mib_used += l.used_memory_mib();
      s.cores_total += l.capacity().cores;
      s.cores_used += l.used_cores();
    }
  }
  return s;
}

std::map<std::string, kube::NodeLiveUsage> ClusterCache::LiveUsage() const {
  std::shared_lock lock(mu_);
  std::map<std::string, kube::NodeLiveUsage> live;
  for (const auto& [name, node] : nodes_) {
    if (node.live_usage) live.emplace(name, *node.live_usage);
  }
  return live;
}

uint64_t ClusterCache::generation() const {
  std::shared_lock lock(mu_);
  return generation_;
}

}  // namespace flexai::extender
