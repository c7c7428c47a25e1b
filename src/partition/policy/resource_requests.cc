// From a container's resource quantities to a SliceRequest, through the policy's resource names.
#include <string>

#include "partition/node_state.h"
#include "partition/policy/slice_policy.h"

namespace flexai::partition {
namespace {

struct Quantities {
  const ResourceNameSet* names = nullptr;
  Vendor vendor = Vendor::kNvidia;
  int64_t count = 0, memory = 0, percentage = 0, cores = 0;
  bool any() const { return count > 0 || memory > 0 || percentage > 0 || cores > 0; }
};

bool IsIn(const ResourceNameSet& set, std::string_view name) {
  return name == set.count || name == set.memory || name == set.memory_percentage ||
         name == set.cores;
}

// Picks the quantities of one name set out of `requests`; negative ones are an error.
Result<Quantities> Collect(const ResourceNameSet& names, Vendor vendor,
                           const std::map<std::string, int64_t>& requests) {
  Quantities q;
  q.names = &names;
  q.vendor = vendor;
  std::pair<const std::string*, int64_t*> fields[] = {{&names.count, &q.count},
                                                      {&names.memory, &q.memory},
                                                      {&names.memory_percentage, &q.percentage},
                                                      {&names.cores, &q.cores}};
  for (auto [name, target] : fields) {
    auto it = requests.find(*name);
    if (it == requests.end()) continue;
    if (it->second < 0) {
      return Error{*name + ": must not be negative, got " + std::to_string(it->second)};
    }
    *target = it->second;
  }
  return q;
}

Result<SliceRequest> ToRequest(const Quantities& q) {
  const ResourceNameSet& n = *q.names;
  auto needs_count = [&](const std::string& name) {
    return Error{name + " needs " + n.count + " (the number of chips) as well"};
  };
  if (q.count == 0) {
    if (q.memory > 0) return needs_count(n.memory);
    if (q.percentage > 0) return needs_count(n.memory_percentage);
    return needs_count(n.cores);
  }
  if (q.count > kMaxChipsPerNode) {
    return Error{n.count + ": at most " + std::to_string(kMaxChipsPerNode) +
                 " chips (one node's worth), got " + std::to_string(q.count)};
  }
  if (q.memory > 0 && q.percentage > 0) {
    return Error{"give " + n.memory + " or " + n.memory_percentage + ", not both"};
  }
  if (q.percentage > 100) {
    return Error{n.memory_percentage + ": must be within 1..100, got " +
                 std::to_string(q.percentage)};
  }
  if (q.cores > kCoresPerChip) {
    return Error{n.cores + ": must be within 1..100 (percent of one chip), got " +
                 std::to_string(q.cores)};
  }
  SliceRequest request;
  request.chips = static_cast<int>(q.count);
  request.memory_mib = q.memory;
  request.memory_percent = static_cast<int>(q.percentage);
  request.cores = static_cast<int>(q.cores);
  request.vendor = q.vendor;
  if (Status s = request.Validate(); !s) return Error{s.message()};
  return request;
}

}  // namespace

bool IsFlexaiResource(const SlicePolicy& policy, std::string_view resource_name) {
  return IsIn(policy.resources.gpu, resource_name) || IsIn(policy.resources.npu, resource_name);
}

bool RequestsFlexaiResource(const SlicePolicy& policy,
                            const std::map<std::string, int64_t>& requests) {
  for (const auto& [name, quantity] : requests) {
    if (quantity > 0 && IsFlexaiResource(policy, name)) return true;
  }
  return false;
}

Result<SliceRequest> SliceRequestFromResources(const SlicePolicy& policy,
                                               const std::map<std::string, int64_t>& requests) {
  Result<Quantities> gpu = Collect(policy.resources.gpu, Vendor::kNvidia, requests);
  if (!gpu) return gpu.error();
  Result<Quantities> npu = Collect(policy.resources.npu, Vendor::kAscend, requests);
  if (!npu) return npu.error();
  if (gpu->any() && npu->any()) {
    return Error{"asks for both " + policy.resources.gpu.count + " and " +
                 policy.resources.npu.count + " resources; a container uses one kind of chip"};
  }
  if (gpu->any()) return ToRequest(*gpu);
  if (npu->any()) return ToRequest(*npu);
  return Error{"asks for no flexai resource (" + policy.resources.gpu.count + " or " +
               policy.resources.npu.count + ")"};
}

}  // namespace flexai::partition
