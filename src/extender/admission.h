// The mutating admission webhook (AdmissionReview admission.k8s.io/v1): pods that ask for flexai
// resources get spec.schedulerName set to the flexai scheduler, so users need not write it.
#pragma once

#include <string>
#include <string_view>

#include "extender/extender_api.h"
#include "partition/policy/slice_policy.h"

namespace flexai::extender {

// Malformed reviews get 400; a review of something that is not a readable pod is allowed
// unchanged with a message (a webhook must not block what it does not understand).
HttpReply HandleAdmissionReview(std::string_view body, const partition::SlicePolicy& policy,
                                const std::string& scheduler_name);

}  // namespace flexai::extender
