#include "extender/pod_intent.h"

#include <algorithm>
#include <map>

#include "extender/gang_annotations.h"
#include "extender/quantity.h"
#include "kube/operations.h"
#include "kube/protocol.h"

namespace flexai::extender {
namespace {

using Json = nlohmann::json;

std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? comma : comma - start);
    size_t b = item.find_first_not_of(" \t");
    size_t e = item.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

const Json* Field(const Json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

// Resource quantities of a container: limits, with requests filling names limits lack.
void CollectResources(const Json& container, std::map<std::string, Json>& out) {
  const Json* resources = Field(container, "resources");
  if (!resources) return;
  for (const char* section : {"limits", "requests"}) {
    const Json* s = Field(*resources, section);
    if (!s || !s->is_object()) continue;
    for (auto it = s->begin(); it != s->end(); ++it) out.emplace(it.key(), it.value());
  }
}

bool ParseMode(const std::string& text, PackMode& mode) {
  if (text.empty() || text == "binpack") {
    mode = PackMode::kBinpack;
  } else if (text == "spread") {
    mode = PackMode::kSpread;
  } else {
    return false;
  }
  return true;
}

}  // namespace

PodIntent ParsePodIntent(const Json& pod, const partition::SlicePolicy& policy) {
  PodIntent intent;
  intent.uid = kube::UidOf(pod);
  intent.ns = kube::NamespaceOf(pod);
  intent.name = kube::NameOf(pod);
  intent.request.uid = intent.uid;
  const Json* spec = Field(pod, "spec");
  if (!spec || !spec->is_object()) {
    intent.error = "pod has no spec";
    return intent;
  }
  if (const Json* node = Field(*spec, "nodeName"); node && node->is_string()) {
    intent.node_name = node->get<std::string>();
  }
  const Json* containers = Field(*spec, "containers");
  if (!containers || !containers->is_array()) return intent;

  std::vector<std::string> errors;
  for (const Json& container : *containers) {
    std::string cname = kube::StringAt(container, "name");
    std::map<std::string, Json> quantities;
    CollectResources(container, quantities);
    std::map<std::string, int64_t> flexai;
    for (const auto& [name, q] : quantities) {
      if (name == "cpu") {
        if (auto v = ParseCpuMilli(q)) intent.request.host.cpu_milli += *v;
        continue;
      }
      if (name == "memory") {
        if (auto v = ParseMemoryMib(q)) intent.request.host.memory_mib += *v;
        continue;
      }
      if (!partition::IsFlexaiResource(policy, name)) continue;
      auto count = ParseCount(q);
      if (!count) {
        errors.push_back("container " + cname + ": " + name + " = " + q.dump() +
                         " is not a whole number");
        continue;
      }
      flexai[name] = *count;
    }
    if (!partition::RequestsFlexaiResource(policy, flexai)) continue;
    intent.wants_chips = true;
    auto slice = partition::SliceRequestFromResources(policy, flexai);
    if (!slice.ok()) {
      errors.push_back("container " + cname + ": " + slice.error().message);
      continue;
    }
    intent.request.containers.push_back({cname, *slice});
  }
  if (!intent.wants_chips && errors.empty()) return intent;
  intent.wants_chips = true;

  // Hard constraints apply to every container; soft ones go to the hints.
  auto annotation = [&](std::string_view key) { return kube::AnnotationOf(pod, std::string(key)); };
  std::vector<std::string> use_models = SplitList(annotation(kube::kUseModelsAnnotation));
  std::vector<std::string> avoid_models = SplitList(annotation(kube::kAvoidModelsAnnotation));
  std::vector<std::string> use_uuids = SplitList(annotation(kube::kUseUuidsAnnotation));
  std::vector<std::string> avoid_uuids = SplitList(annotation(kube::kAvoidUuidsAnnotation));
  for (auto& c : intent.request.containers) {
    auto append = [](std::vector<std::string>& to, const std::vector<std::string>& from) {
      to.insert(to.end(), from.begin(), from.end());
    };
    append(c.slice.allowed_models, use_models);
    append(c.slice.excluded_models, avoid_models);
    append(c.slice.allowed_uuids, use_uuids);
    append(c.slice.excluded_uuids, avoid_uuids);
  }
  intent.hints.prefer_models = SplitList(annotation(kube::kPreferModelsAnnotation));
  if (!ParseMode(annotation(kube::kNodePolicyAnnotation), intent.hints.node_mode)) {
    errors.push_back("annotation " + std::string(kube::kNodePolicyAnnotation) + ": \"" +
                     annotation(kube::kNodePolicyAnnotation) + "\" is not binpack or spread");
  }
  if (!ParseMode(annotation(kube::kChipPolicyAnnotation), intent.hints.chip_mode)) {
    errors.push_back("annotation " + std::string(kube::kChipPolicyAnnotation) + ": \"" +
                     annotation(kube::kChipPolicyAnnotation) + "\" is not binpack or spread");
  }
  std::string numa = annotation(kube::kNumaBindAnnotation);
  if (numa == "true") {
    intent.hints.numa_bind = true;
  } else if (!numa.empty() && numa != "false") {
    errors.push_back("annotation " + std::string(kube::kNumaBindAnnotation) + ": \"" + numa +
                     "\" is not true or false");
  }
  std::string island = annotation(kIslandBindAnnotation);
  if (island == "true") {
    intent.hints.island_bind = true;
  } else if (!island.empty() && island != "false") {
    errors.push_back("annotation " + std::string(kIslandBindAnnotation) + ": \"" + island +
                     "\" is not true or false");
  }
  if (std::string isolation = annotation(kube::kIsolationAnnotation); !isolation.empty()) {
    auto mode = partition::ParseIsolationMode(isolation);
    bool any_npu = std::any_of(
        intent.request.containers.begin(), intent.request.containers.end(), [](const auto& c) {
          return c.slice.vendor == partition::Vendor::kAscend && !c.slice.exclusive();
        });
    if (!mode || *mode == partition::IsolationMode::kNone) {
      errors.push_back("annotation " + std::string(kube::kIsolationAnnotation) + ": \"" +
                       isolation + "\" is not hook or mps (a shared slice is always enforced)");
    } else if (any_npu) {
      errors.push_back("annotation " + std::string(kube::kIsolationAnnotation) +
                       " applies to GPU slices; NPU slices are vNPUs");
    } else {
      intent.hints.isolation = mode;
    }
  }
  auto gang = partition::ParseGangSpec(intent.ns, annotation(kGangAnnotation),
                                       annotation(kGangSizeAnnotation),
                                       annotation(kGangTimeoutAnnotation), std::chrono::seconds(0));
  if (gang.ok()) {
    intent.gang = std::move(*gang);
  } else {
    errors.push_back(gang.error().message);
  }
  for (size_t i = 0; i < errors.size(); ++i) intent.error += (i ? "; " : "") + errors[i];
  return intent;
}

bool PodIntent::wants_slices() const {
  return std::any_of(request.containers.begin(), request.containers.end(),
                     [](const partition::ContainerRequest& c) { return !c.slice.exclusive(); });
}

}  // namespace flexai::extender
