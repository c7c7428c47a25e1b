#include "extender/binder.h"

#include <spdlog/spdlog.h>

#include "extender/gang_binder.h"
#include "extender/pod_intent.h"
#include "kube/operations.h"
#include "kube/paths.h"
#include "kube/protocol.h"
#include "partition/assignment_codec.h"

namespace flexai::extender {
namespace {

using Json = nlohmann::json;

}  // namespace

Binder::Binder(kube::KubeClient& client, ClusterCache& cache, const Scheduler& scheduler,
               std::chrono::seconds allocating_window)
    : client_(client),
      cache_(cache),
      scheduler_(scheduler),
      allocating_window_(allocating_window) {}

std::string Binder::Fail(const Json& pod, const std::string& message) {
  // Without the pod (it could not be read) the message names it.
  if (pod.is_object()) {
    spdlog::warn("bind {}/{}: {}", kube::NamespaceOf(pod), kube::NameOf(pod), message);
  } else {
    spdlog::warn("bind: {}", message);
  }
  if (pod.is_object() && !kube::NameOf(pod).empty()) {
    kube::RecordEvent(client_, pod, {"Warning", "FlexaiBindFailed", message});
  }
  return message;
}

std::string Binder::Bind(const BindArgs& args) {
  const std::string who = args.pod_namespace + "/" + args.pod_name;
  const std::string path = kube::PodPath(args.pod_namespace, args.pod_name);
  kube::ApiResponse got = client_.Get(path);
  if (!got.ok()) return Fail(Json(), got.Describe("reading pod " + who));
  Json pod = std::move(got.body);
  if (!args.pod_uid.empty() && kube::UidOf(pod) != args.pod_uid) {
    return Fail(pod, "pod " + who + " was replaced (UID " + kube::UidOf(pod) + ", asked to bind " +
                         args.pod_uid + ")");
  }
  std::string bound = kube::NodeNameOf(pod);
  if (!bound.empty()) {
    // kube-scheduler retried a bind that already went through: report success.
    if (bound == args.node) return "";
    return Fail(pod, "pod " + who + " is already bound to node " + bound);
  }
  PodIntent intent = ParsePodIntent(pod, *cache_.policy());
  if (!intent.wants_chips) {
    kube::ApiResponse r =
        kube::BindPod(client_, args.pod_namespace, args.pod_name, kube::UidOf(pod), args.node);
    return r.ok() ? "" : Fail(pod, r.Describe("binding " + who + " to " + args.node));
  }
  if (gangs_ && intent.gang) return gangs_->Bind(args, pod, intent);

  // An unbound pod holds nothing legitimately: slices recorded by an earlier attempt whose
  // rollback did not land are taken back before choosing again.
  if (cache_.AssignmentOf(intent.uid)) cache_.Unreserve(intent.uid);
  AllocationGuard guard;
  guard.now = std::chrono::system_clock::now();
  guard.window = allocating_window_;
  for (const auto& c : intent.request.containers) guard.chip_counts.insert(c.slice.chips);
  // Quota: usage is read and the chosen chips checked while the gate is held, so two binds of
  // one namespace cannot both pass on the same room.
  std::optional<QuotaGate::BindHold> quota_hold;
  if (quota_) quota_hold.emplace(quota_->BeginBind(intent));
  auto reserved = cache_.Reserve(
      args.pod_namespace, args.pod_name, args.node,
      [&](const CachedNode& node) -> Result<partition::PodAssignment> {
        auto chosen = scheduler_.Choose(intent, node);
        if (chosen.ok() && quota_hold) {
          if (Status s = quota_hold->Check(*chosen); !s.ok()) return Error{s.message()};
        }
        return chosen;
      },
      allocating_window_.count() > 0 ? &guard : nullptr);
  quota_hold.reset();
  if (!reserved.ok()) return Fail(pod, "cannot place " + who + ": " + reserved.error().message);
  const std::string uid = intent.uid;
  const std::string text = partition::EncodeAssignment(*reserved);
  const std::string stamp = kube::FormatMicroTime(std::chrono::system_clock::now());

  kube::PatchOutcome patched = kube::PatchWithRetry(
      client_, path,
      [&](const Json& current, std::string& why_not) -> std::optional<Json> {
        if (kube::UidOf(current) != uid) {
          why_not = "pod " + who + " was replaced while binding";
          return std::nullopt;
        }
        if (!kube::NodeNameOf(current).empty()) {
          why_not = "pod " + who + " got bound to " + kube::NodeNameOf(current) + " meanwhile";
          return std::nullopt;
        }
        return Json{
            {"metadata",
             {{"annotations",
               {{std::string(kube::kAssignmentAnnotation), text},
                {std::string(kube::kBindPhaseAnnotation), std::string(kube::kBindPhaseAllocating)},
                {std::string(kube::kBindTimeAnnotation), stamp},
                {std::string(kube::kBindNodeAnnotation), args.node},
                {std::string(kube::kDeviceIdsAnnotation), nullptr},
                {std::string(kube::kBindErrorAnnotation), nullptr}}}}}};
      },
      &pod);
  if (!patched.ok()) {
    cache_.Unreserve(uid);
    std::string why = patched.declined.empty()
                          ? patched.response.Describe("recording the assignment on " + who)
                          : patched.declined;
    return Fail(pod, why);
  }
  cache_.ConfirmReservation(uid, kube::ResourceVersionNumber(patched.response.body));

  kube::ApiResponse binding =
      kube::BindPod(client_, args.pod_namespace, args.pod_name, uid, args.node);
  if (!binding.ok()) {
    // Take everything back so the next attempt starts clean.
    cache_.Unreserve(uid);
    std::string why = binding.Describe("binding " + who + " to " + args.node);
    kube::PatchWithRetry(client_, path,
                         [&](const Json& current, std::string& why_not) -> std::optional<Json> {
                           if (kube::UidOf(current) != uid || !kube::NodeNameOf(current).empty()) {
                             why_not = "pod changed";
                             return std::nullopt;
                           }
                           return Json{{"metadata",
                                        {{"annotations",
                                          {{std::string(kube::kAssignmentAnnotation), nullptr},
                                           {std::string(kube::kBindPhaseAnnotation), nullptr},
                                           {std::string(kube::kBindTimeAnnotation), nullptr},
                                           {std::string(kube::kBindNodeAnnotation), nullptr},
                                           {std::string(kube::kBindErrorAnnotation), why}}}}}};
                         });
    return Fail(patched.response.body, why);
  }
  spdlog::info("bound {} to {}: {}", who, args.node, text);
  return "";
}

}  // namespace flexai::extender
