// The kube-scheduler extender v1 wire format (JSON keys are the Go field names, see
// PROTOCOLS.md): ExtenderArgs in, ExtenderFilterResult / HostPriorityList / ExtenderBindingResult
// out. Pure functions of the request body, so tests and the fuzzer drive them without HTTP.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "extender/quota_gate.h"
#include "extender/scheduler.h"
#include "partition/policy/slice_policy.h"

namespace flexai::extender {

struct HttpReply {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
};

// ExtenderBindingArgs.
struct BindArgs {
  std::string pod_name, pod_namespace, pod_uid, node;
};
// Performs a bind; returns "" on success or the error to report.
using BindFunction = std::function<std::string(const BindArgs&)>;

class ExtenderApi {
 public:
  ExtenderApi(const Scheduler& scheduler,
              std::function<std::shared_ptr<const partition::SlicePolicy>()> policy,
              BindFunction bind);

  HttpReply Filter(std::string_view body) const;
  HttpReply Prioritize(std::string_view body) const;
  HttpReply Bind(std::string_view body) const;
  // Replaces Scheduler::Filter for /filter (the queue-aware filter wraps it).
  using FilterFunction =
      std::function<FilterOutcome(const PodIntent&, const std::vector<std::string>&)>;
  void SetFilter(FilterFunction filter) { filter_ = std::move(filter); }
  // Namespace quotas: /filter fails a pod over quota on every node it names (FailedAndUnresolvable,
  // with the reason) before placement is tried.
  void SetQuotaGate(const QuotaGate* quota) { quota_ = quota; }
  // POST /preempt is served by Preemptor (preemption.h).

 private:
  const Scheduler& scheduler_;
  std::function<std::shared_ptr<const partition::SlicePolicy>()> policy_;
  BindFunction bind_;
  const QuotaGate* quota_ = nullptr;
  FilterFunction filter_;
};

// A 400 reply whose body says what was wrong with the request.
HttpReply BadRequest(const std::string& message);

}  // namespace flexai::extender
