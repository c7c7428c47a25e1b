#include "extender/queue_state.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "extender/gang_annotations.h"
#include "kube/operations.h"
#include "kube/protocol.h"
#include "partition/assignment_codec.h"

namespace flexai::extender {
namespace {

using Json = nlohmann::json;

// How many of the oldest pending pods a release is checked against (keeps the watch thread
// cheap however long the queue).
constexpr size_t kUnblockCheckedPods = 16;

bool IsTerminal(const Json& pod) {
  std::string phase = kube::StringAt(kube::ObjectAt(pod, "status"), "phase");
  return phase == "Succeeded" || phase == "Failed";
}

// The node whose slices `pod` holds, from its assignment annotation ("" when none).
std::string AssignedNode(const Json& pod) {
  std::string text = kube::AnnotationOf(pod, std::string(kube::kAssignmentAnnotation));
  if (text.empty()) return "";
  auto decoded = partition::DecodeAssignment(text, kube::UidOf(pod));
  return decoded.ok() ? decoded->node : "";
}

kube::WallTime TimeOr(const std::string& text, kube::WallTime fallback) {
  auto t = kube::ParseTime(text);
  return t ? *t : fallback;
}

}  // namespace

QueueState::QueueState(ClusterCache& cache, const Scheduler& scheduler, QueueOptions options)
    : cache_(cache), scheduler_(scheduler), options_(options), holds_(options.hold) {}

partition::GangSpec QueueState::WithDefaults(partition::GangSpec spec) const {
  if (spec.timeout.count() <= 0) spec.timeout = options_.gang_timeout;
  return spec;
}

void QueueState::NoteOwnPatch(const std::string& uid, int64_t version) {
  std::lock_guard lock(mu_);
  own_versions_[uid] = version;
}

void QueueState::ReplacePods(const std::vector<Json>& pods, const std::function<void()>& apply) {
  apply();
  std::lock_guard lock(mu_);
  queue_ = partition::PendingQueue();
  intents_.clear();
  std::set<std::string> seen;
  for (const auto& pod : pods) {
    seen.insert(kube::UidOf(pod));
    ObserveLocked(pod, false);
  }
  // Members whose pods vanished while the watch was down are forgotten, bound ones too: a re-run
  // gang of the same name must not count them. Only an unbound member with a patch of ours in
  // flight is kept for now.
  for (const auto& m : gangs_.AllMembers()) {
    if (seen.count(m.uid) || (!m.bound && own_versions_.count(m.uid))) continue;
    gangs_.Forget(m.uid);
  }
  std::erase_if(own_versions_, [&](const auto& entry) {
    return !seen.count(entry.first) && !gangs_.Member(entry.first);
  });
}

void QueueState::OnPodEvent(const std::string& type, const Json& pod,
                            const std::function<void()>& apply) {
  bool gone = type == "DELETED";
  std::string released = gone || IsTerminal(pod) ? AssignedNode(pod) : "";
  std::vector<std::string> before;
  if (!released.empty()) before = FittingOn(released);
  apply();
  {
    std::lock_guard lock(mu_);
    ObserveLocked(pod, gone);
  }
  if (released.empty()) return;
  for (const auto& key : FittingOn(released)) {
    if (std::find(before.begin(), before.end(), key) != before.end()) continue;
    spdlog::info("released slices on node {} unblock pending pod {}", released, key);
    ++unblocked_;
  }
}

std::vector<std::string> QueueState::FittingOn(const std::string& node) const {
  std::vector<PodIntent> candidates;
  {
    std::lock_guard lock(mu_);
    for (const auto& p : queue_.Oldest(kUnblockCheckedPods))
      candidates.push_back(intents_.at(p.uid));
  }
  std::vector<std::string> out;
  for (const auto& intent : candidates) {
    if (!scheduler_.Filter(intent, {node}).passed.empty()) out.push_back(intent.display_name());
  }
  return out;
}

void QueueState::ObserveLocked(const Json& pod, bool gone) {
  std::string uid = kube::UidOf(pod);
  if (uid.empty()) return;
  const auto now = std::chrono::system_clock::now();
  if (gone || IsTerminal(pod)) {
    queue_.Remove(uid);
    intents_.erase(uid);
    holds_.Release(uid, now);
    gangs_.Forget(uid);
    own_versions_.erase(uid);
    return;
  }
  PodIntent intent = ParsePodIntent(pod, *cache_.policy());
  std::string node = kube::NodeNameOf(pod);
  std::string phase = kube::AnnotationOf(pod, std::string(kube::kBindPhaseAnnotation));
  kube::WallTime since =
      TimeOr(kube::AnnotationOf(pod, std::string(kube::kBindTimeAnnotation)), now);
  auto restore = [&](const std::string& on, bool bound) {
    partition::GangMember member{uid, intent.ns, intent.name, on, since, bound};
    auto r = gangs_.Reserve(WithDefaults(*intent.gang), member);
    if (!r.ok()) spdlog::warn("pod {}: {}", intent.display_name(), r.error().message);
  };
  if (!node.empty()) {
    queue_.Remove(uid);
    intents_.erase(uid);
    holds_.Release(uid, now);
    if (!intent.gang) return;
    if (gangs_.Member(uid)) {
      gangs_.MarkBound(uid);
    } else {
      restore(node, true);
    }
    return;
  }
  if (intent.wants_chips && intent.error.empty()) {
    partition::PendingPod pending{
        uid, intent.display_name(),
        TimeOr(kube::StringAt(kube::ObjectAt(pod, "metadata"), "creationTimestamp"), now),
        intent.request, intent.gang.has_value()};
    queue_.Upsert(std::move(pending));
    intents_[uid] = intent;
  } else {
    queue_.Remove(uid);
    intents_.erase(uid);
  }
  if (!intent.gang) return;
  if (auto own = own_versions_.find(uid);
      own != own_versions_.end() && kube::ResourceVersionNumber(pod) < own->second) {
    return;  // predates our own patch
  }
  std::string reserved_on = AssignedNode(pod);
  // `allocating` and unbound: a BindAll marked it but its binding did not happen (failed, or a
  // restart in between). Restored as reserved (since its bind time), the binder's retry of a
  // complete gang binds it, or the timeout releases an incomplete one.
  if (!reserved_on.empty() &&
      (phase == kBindPhaseGangReserved || phase == kube::kBindPhaseAllocating)) {
    if (!gangs_.Member(uid)) restore(reserved_on, false);
  } else if (reserved_on.empty()) {
    gangs_.Forget(uid);  // its reservation was released (timeout, or another replica)
  }
}

std::optional<partition::ChipHold> QueueState::ActiveHold(
    partition::HoldClock::time_point now) const {
  std::lock_guard lock(mu_);
  return holds_.Active(now);
}

std::optional<partition::ChipHold> QueueState::MaybeHold(const PodIntent& pod,
                                                         const std::vector<std::string>& nodes,
                                                         partition::HoldClock::time_point now) {
  std::lock_guard lock(mu_);
  if (auto active = holds_.Active(now)) {
    return active->uid == pod.uid ? active : std::nullopt;
  }
  auto oldest = queue_.OldestMultiChip();
  if (!oldest || oldest->uid != pod.uid) return std::nullopt;
  std::optional<std::string> node;
  int64_t memory = 0;
  cache_.Read([&](const std::unordered_map<std::string, CachedNode>& cached) {
    std::vector<const partition::NodeState*> states;
    for (const auto& name : nodes) {
      auto it = cached.find(name);
      if (it != cached.end() && it->second.has_inventory && !it->second.unschedulable) {
        states.push_back(&it->second.state);
      }
    }
    node = partition::NodeClosestToFitting(states, pod.request, &memory);
  });
  if (!node) return std::nullopt;
  partition::ChipHold hold{
      pod.uid, pod.display_name(), *node, {}, partition::WholeChipsAsked(pod.request), memory};
  auto held = holds_.Claim(hold, now);
  if (held) {
    spdlog::info("pending pod {} ({} whole chips, fits nowhere) holds node {} for {} s",
                 pod.display_name(), held->chips, held->node, options_.hold.count());
  }
  return held;
}

void QueueState::ReleaseHold(const std::string& uid, partition::HoldClock::time_point now) {
  std::lock_guard lock(mu_);
  holds_.Release(uid, now);
}

QueueStats QueueState::stats() const {
  QueueStats s;
  std::optional<partition::ChipHold> hold;
  {
    std::lock_guard lock(mu_);
    s.pending_pods = queue_.size();
    hold = holds_.Active(std::chrono::system_clock::now());
  }
  auto totals = gangs_.totals();
  s.gangs_waiting = totals.gangs_waiting;
  s.gang_members_reserved = totals.members_reserved;
  for (const auto& m : gangs_.UnboundMembers()) {
    auto a = cache_.AssignmentOf(m.uid);
    if (!a) continue;
    for (const auto& c : a->containers) {
      for (const auto& g : c.grants) {
        s.reserved_chips += g.exclusive ? 1 : 0;
        s.reserved_memory_mib += g.memory_mib;
      }
    }
  }
  if (hold) {
    s.reserved_chips += hold->chips;
    s.reserved_memory_mib += hold->memory_mib;
  }
  s.unblocked_total = unblocked_.load();
  return s;
}

}  // namespace flexai::extender
