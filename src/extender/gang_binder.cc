#include "extender/gang_binder.h"

#include <spdlog/spdlog.h>

#include "extender/gang_annotations.h"
#include "kube/operations.h"
#include "kube/paths.h"
#include "kube/protocol.h"
#include "partition/assignment_codec.h"

namespace flexai::extender {
namespace {

using Json = nlohmann::json;

Json Annotations(Json values) { return Json{{"metadata", {{"annotations", std::move(values)}}}}; }

Json PodRef(const partition::GangMember& m) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", m.name}, {"namespace", m.ns}, {"uid", m.uid}}}};
}

}  // namespace

GangBinder::GangBinder(kube::KubeClient& client, ClusterCache& cache, const Scheduler& scheduler,
                       QueueState& queue)
    : client_(client), cache_(cache), scheduler_(scheduler), queue_(queue) {}

GangBinder::~GangBinder() { Stop(); }

std::mutex& GangBinder::LockFor(const std::string& gang) {
  std::lock_guard lock(locks_mu_);
  auto& slot = locks_[gang];
  if (!slot) slot = std::make_unique<std::mutex>();
  return *slot;
}

bool GangBinder::FilterReserved(const PodIntent& pod, const std::vector<std::string>& nodes,
                                FilterOutcome& out) const {
  if (!pod.gang) return false;
  auto member = queue_.gangs().Member(pod.uid);
  if (!member || member->bound || !cache_.AssignmentOf(pod.uid)) return false;
  for (const auto& n : nodes) {
    if (n == member->node) {
      out.passed.push_back(n);
    } else {
      // Unresolvable: evicting pods there cannot help, so kube-scheduler need not preempt.
      out.unresolvable[n] = "pod " + pod.display_name() + ": gang " + pod.gang->key +
                            " member holds its reservation on node " + member->node;
    }
  }
  return true;
}

std::string GangBinder::Bind(const BindArgs& args, const Json& pod, const PodIntent& intent) {
  const partition::GangSpec spec = queue_.WithDefaults(*intent.gang);
  const std::string who = intent.display_name();
  const std::string uid = intent.uid;
  std::lock_guard gang_lock(LockFor(spec.key));
  partition::GangBook& book = queue_.gangs();
  auto member = book.Member(uid);
  if (member && member->bound) {
    // Another member's BindAll bound this one while this bind waited for the gang lock: its
    // chips are real now and must not be taken back.
    if (member->node == args.node) return "";
    return "pod " + who + " is already bound to node " + member->node;
  }
  auto cached = cache_.AssignmentOf(uid);
  bool reuse = member && !member->bound && cached && cached->node == args.node;
  if (!reuse) {
    // A reservation elsewhere (or a leftover) is replaced by this one.
    if (cached) cache_.Unreserve(uid);
    if (member) book.Forget(uid);
    std::optional<QuotaGate::BindHold> quota_hold;
    if (quota_) quota_hold.emplace(quota_->BeginBind(intent));
    auto reserved = cache_.Reserve(intent.ns, intent.name, args.node,
                                   [&](const CachedNode& node) -> Result<partition::PodAssignment> {
                                     auto chosen = scheduler_.Choose(intent, node);
                                     if (chosen.ok() && quota_hold) {
                                       if (Status s = quota_hold->Check(*chosen); !s.ok())
                                         return Error{s.message()};
                                     }
                                     return chosen;
                                   });
    quota_hold.reset();
    if (!reserved.ok()) {
      std::string why = "cannot place " + who + ": " + reserved.error().message;
      spdlog::warn("bind {}: {}", who, why);
      kube::RecordEvent(client_, pod, {"Warning", "FlexaiBindFailed", why});
      return why;
    }
    const auto now = std::chrono::system_clock::now();
    const std::string text = partition::EncodeAssignment(*reserved);
    const std::string path = kube::PodPath(intent.ns, intent.name);
    kube::PatchOutcome patched = kube::PatchWithRetry(
        client_, path,
        [&](const Json& current, std::string& why_not) -> std::optional<Json> {
          if (kube::UidOf(current) != uid || !kube::NodeNameOf(current).empty()) {
            why_not = "pod " + who + " was replaced or bound meanwhile";
            return std::nullopt;
          }
          return Annotations(
              {{std::string(kube::kAssignmentAnnotation), text},
               {std::string(kube::kDeviceIdsAnnotation), nullptr},
               {std::string(kube::kBindPhaseAnnotation), std::string(kBindPhaseGangReserved)},
               {std::string(kube::kBindTimeAnnotation), kube::FormatMicroTime(now)},
               {std::string(kube::kBindNodeAnnotation), args.node},
               {std::string(kube::kBindErrorAnnotation), nullptr}});
        },
        &pod);
    if (!patched.ok()) {
      cache_.Unreserve(uid);
      return patched.declined.empty()
                 ? patched.response.Describe("recording the gang reservation on " + who)
                 : patched.declined;
    }
    int64_t version = kube::ResourceVersionNumber(patched.response.body);
    cache_.ConfirmReservation(uid, version);
    queue_.NoteOwnPatch(uid, version);
    auto progress = book.Reserve(spec, {uid, intent.ns, intent.name, args.node, now, false});
    if (!progress.ok()) {
      Release({uid, intent.ns, intent.name, args.node, now, false}, progress.error().message);
      kube::RecordEvent(client_, pod, {"Warning", "FlexaiBindFailed", progress.error().message});
      return progress.error().message;
    }
    spdlog::info("gang {}: {} reserved on {} ({} of {}): {}", spec.key, who, args.node,
                 progress->held, spec.size, text);
  }
  auto progress = book.Progress(spec.key);
  if (!progress.complete()) {
    return "gang " + spec.key + ": " + std::to_string(progress.held) + " of " +
           std::to_string(spec.size) + " members reserved, waiting for the rest (released " +
           std::to_string(spec.timeout.count()) + " s after the first)";
  }
  return BindAll(spec.key, uid);
}

std::string GangBinder::BindAll(const std::string& gang, const std::string& uid) {
  std::string own_error;
  for (const auto& m : queue_.gangs().Members(gang)) {
    if (m.bound) continue;
    const std::string who = m.ns + "/" + m.name;
    const std::string path = kube::PodPath(m.ns, m.name);
    // The device plugin matches `allocating` pods: the member becomes one just before binding.
    kube::PatchOutcome patched = kube::PatchWithRetry(
        client_, path, [&](const Json& current, std::string& why_not) -> std::optional<Json> {
          if (kube::UidOf(current) != m.uid || !kube::NodeNameOf(current).empty()) {
            why_not = "pod " + who + " was replaced or bound meanwhile";
            return std::nullopt;
          }
          return Annotations(
              {{std::string(kube::kBindPhaseAnnotation), std::string(kube::kBindPhaseAllocating)},
               {std::string(kube::kBindTimeAnnotation),
                kube::FormatMicroTime(std::chrono::system_clock::now())}});
        });
    std::string error;
    if (!patched.ok()) {
      error = patched.declined.empty() ? patched.response.Describe("marking " + who + " allocating")
                                       : patched.declined;
    } else {
      int64_t version = kube::ResourceVersionNumber(patched.response.body);
      cache_.ConfirmReservation(m.uid, version);
      queue_.NoteOwnPatch(m.uid, version);
      kube::ApiResponse binding = kube::BindPod(client_, m.ns, m.name, m.uid, m.node);
      if (binding.ok()) {
        cache_.MarkBound(m.uid);
        queue_.gangs().MarkBound(m.uid);
        spdlog::info("gang {}: bound {} to {}", gang, who, m.node);
      } else {
        error = binding.Describe("binding " + who + " to " + m.node);
      }
    }
    if (!error.empty()) {
      // The member keeps its reservation; the next bind of any member retries it.
      spdlog::warn("gang {}: {}", gang, error);
      kube::RecordEvent(client_, PodRef(m), {"Warning", "FlexaiBindFailed", error});
      if (m.uid == uid) own_error = error;
    }
  }
  return own_error;
}

bool GangBinder::Release(const partition::GangMember& m, const std::string& why) {
  // The annotations are cleared first, and the chips taken back only when that landed: a member
  // bound meanwhile keeps its chips (they are real), one whose patch failed is retried later.
  bool bound_meanwhile = false;
  bool replaced = false;
  kube::PatchOutcome patched = kube::PatchWithRetry(
      client_, kube::PodPath(m.ns, m.name),
      [&](const Json& current, std::string& why_not) -> std::optional<Json> {
        replaced = kube::UidOf(current) != m.uid;
        bound_meanwhile = !replaced && !kube::NodeNameOf(current).empty();
        if (replaced || bound_meanwhile) {
          why_not = "pod changed";
          return std::nullopt;
        }
        return Annotations({{std::string(kube::kAssignmentAnnotation), nullptr},
                            {std::string(kube::kBindPhaseAnnotation), nullptr},
                            {std::string(kube::kBindTimeAnnotation), nullptr},
                            {std::string(kube::kBindNodeAnnotation), nullptr},
                            {std::string(kube::kBindErrorAnnotation), why}});
      });
  if (bound_meanwhile) {
    cache_.MarkBound(m.uid);
    queue_.gangs().MarkBound(m.uid);
    return false;
  }
  const bool gone = replaced || patched.response.not_found();
  if (!patched.ok() && !gone) {
    spdlog::warn("releasing {}/{}: {}", m.ns, m.name,
                 patched.response.Describe("clearing its gang reservation"));
    return false;
  }
  cache_.Unreserve(m.uid);
  queue_.gangs().Forget(m.uid);
  if (patched.ok()) {
    queue_.NoteOwnPatch(m.uid, kube::ResourceVersionNumber(patched.response.body));
  }
  return true;
}

size_t GangBinder::ReleaseExpired(kube::WallTime now) {
  size_t released = 0;
  for (const auto& gang : queue_.gangs().Expired(now)) {
    std::lock_guard gang_lock(LockFor(gang));
    auto spec = queue_.gangs().Spec(gang);
    if (!spec) continue;
    auto expired = queue_.gangs().Expired(now);
    if (std::find(expired.begin(), expired.end(), gang) == expired.end()) continue;
    auto members = queue_.gangs().Members(gang);
    int held = static_cast<int>(members.size());
    const std::string why = "gang " + gang + ": only " + std::to_string(held) + " of " +
                            std::to_string(spec->size) + " members arrived within " +
                            std::to_string(spec->timeout.count()) +
                            " s; their reserved chips are released";
    spdlog::warn("{}", why);
    for (const auto& m : members) {
      if (m.bound) continue;
      if (Release(m, why)) {
        kube::RecordEvent(client_, PodRef(m), {"Warning", "FlexaiGangTimedOut", why});
      }
    }
    ++released;
  }
  return released;
}

size_t GangBinder::RetryCommitted(kube::WallTime now) {
  size_t retried = 0;
  const auto committed = queue_.gangs().Committed();
  auto is_committed = [](const std::vector<std::string>& gangs, const std::string& gang) {
    return std::find(gangs.begin(), gangs.end(), gang) != gangs.end();
  };
  {
    std::lock_guard lock(retry_mu_);
    std::erase_if(retry_backoff_,
                  [&](const auto& entry) { return !is_committed(committed, entry.first); });
  }
  for (const auto& gang : committed) {
    {
      std::lock_guard lock(retry_mu_);
      auto it = retry_backoff_.find(gang);
      if (it != retry_backoff_.end() && now < it->second.next) continue;
    }
    std::lock_guard gang_lock(LockFor(gang));
    if (!is_committed(queue_.gangs().Committed(), gang)) continue;
    spdlog::info("gang {}: complete, retrying the binding of its unbound members", gang);
    BindAll(gang, "");
    ++retried;
    std::lock_guard lock(retry_mu_);
    if (!is_committed(queue_.gangs().Committed(), gang)) {
      retry_backoff_.erase(gang);
      continue;
    }
    RetryBackoff& backoff = retry_backoff_[gang];
    backoff.failures = std::min(backoff.failures + 1, 6);
    backoff.next =
        now + std::min(std::chrono::seconds(1 << backoff.failures), std::chrono::seconds(60));
  }
  return retried;
}

void GangBinder::StartSweeper(std::function<bool()> leader, std::chrono::milliseconds period) {
  sweeper_ = std::thread([this, leader = std::move(leader), period] {
    std::unique_lock lock(sweep_mu_);
    while (!stopping_) {
      sweep_wake_.wait_for(lock, period, [this] { return stopping_; });
      if (stopping_) break;
      lock.unlock();
      if (leader()) {
        ReleaseExpired(std::chrono::system_clock::now());
        RetryCommitted();
      }
      lock.lock();
    }
  });
}

void GangBinder::Stop() {
  {
    std::lock_guard lock(sweep_mu_);
    stopping_ = true;
  }
  sweep_wake_.notify_all();
  if (sweeper_.joinable()) sweeper_.join();
}

}  // namespace flexai::extender
