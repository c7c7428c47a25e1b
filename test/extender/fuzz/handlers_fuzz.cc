// Fuzz target for the extender's JSON handlers (/filter, /prioritize, /bind, /preempt) and the
// admission webhook: the first byte picks the handler, the rest is the request body. Nothing may
// crash, and every reply must be 200 or 400 with a JSON body.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string_view>

#include <nlohmann/json.hpp>

#include "extender/admission.h"
#include "extender/extender_api.h"
#include "extender/placement_choice.h"
#include "extender/preemption.h"
#include "kube/protocol.h"
#include "kube/time_format.h"

namespace {

using flexai::extender::ClusterCache;
using flexai::extender::ExtenderApi;
using flexai::extender::HttpReply;
using flexai::extender::Scheduler;

struct World {
  std::shared_ptr<flexai::partition::SlicePolicy> policy =
      std::make_shared<flexai::partition::SlicePolicy>(flexai::partition::DefaultSlicePolicy());
  ClusterCache cache{policy};
  Scheduler scheduler{cache, flexai::extender::MakeExtenderPlacementPolicy(*policy)};
  ExtenderApi api{scheduler, [this] { return policy; },
                  [](const flexai::extender::BindArgs&) { return std::string(); }};
  flexai::extender::DisruptionBudgetCache budgets;
  flexai::extender::Preemptor preemptor{cache, scheduler, budgets};

  World() {
    flexai::kube::NodeInventory inv;
    for (int i = 0; i < 4; ++i) {
      flexai::partition::Chip c;
      c.index = i;
      c.uuid = "GPU-" + std::to_string(i);
      c.model = i < 2 ? "H100" : "A100";
      c.memory_mib = 40000 * (i + 1);
      c.numa_node = i / 2;
      c.vendor = flexai::partition::Vendor::kNvidia;
      inv.chips.push_back(c);
    }
    nlohmann::json node = {{"metadata",
                            {{"name", "n1"},
                             {"annotations",
                              {{"flexai.io/inventory", flexai::kube::EncodeInventory(inv)},
                               {"flexai.io/heartbeat",
                                flexai::kube::FormatTime(std::chrono::system_clock::now() +
                                                         std::chrono::hours(24 * 365 * 100))}}}}}};
    cache.ReplaceNodes({node});
  }
};

void Check(const HttpReply& reply) {
  if (reply.status != 200 && reply.status != 400) std::abort();
  if (nlohmann::json::parse(reply.body, nullptr, false).is_discarded()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World world;
  if (size == 0) return 0;
  std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 5) {
    case 0:
      Check(world.api.Filter(body));
      break;
    case 1:
      Check(world.api.Prioritize(body));
      break;
    case 2:
      Check(world.api.Bind(body));
      break;
    case 4:
      Check(world.preemptor.Handle(body));
      break;
    default:
      Check(flexai::extender::HandleAdmissionReview(body, *world.policy, "flexai-scheduler"));
      break;
  }
  return 0;
}
