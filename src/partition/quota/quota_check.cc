#include "partition/quota/quota_check.h"

#include <algorithm>
#include <optional>

namespace flexai::partition {

QuotaAmounts& QuotaAmounts::operator+=(const QuotaAmounts& other) {
  chips += other.chips;
  memory_mib += other.memory_mib;
  cores += other.cores;
  return *this;
}

QuotaAmounts AmountsOf(const PodAssignment& assignment) {
  QuotaAmounts a;
  for (const auto& container : assignment.containers) {
    for (const auto& grant : container.grants) {
      a.chips += 1;
      a.memory_mib += grant.memory_mib;
      a.cores += grant.cores;
    }
  }
  return a;
}

bool MemoryDependsOnChip(const PodRequest& pod) {
  return std::any_of(pod.containers.begin(), pod.containers.end(),
                     [](const ContainerRequest& c) { return c.slice.memory_mib == 0; });
}

QuotaAmounts MinimumAsk(const PodRequest& pod, const NodeState* node) {
  QuotaAmounts ask;
  for (const auto& container : pod.containers) {
    const SliceRequest& slice = container.slice;
    const int64_t chips = slice.chips;
    ask.chips += chips;
    ask.cores += chips * (slice.exclusive() ? kCoresPerChip : slice.cores);
    if (slice.memory_mib > 0) {
      ask.memory_mib += chips * slice.memory_mib;
      continue;
    }
    if (!node) continue;
    std::optional<int64_t> least;
    for (int i = 0; i < node->chip_count(); ++i) {
      if (!slice.Accepts(node->chip(i))) continue;
      int64_t mib = node->DemandOn(slice, i).memory_mib;
      least = least ? std::min(*least, mib) : mib;
    }
    if (least) ask.memory_mib += chips * *least;
  }
  return ask;
}

namespace {

// The message for one limit passed; nullopt when within it.
std::optional<std::string> Excess(const std::string& ns, const char* field, const char* unit,
                                  std::optional<int64_t> limit, int64_t in_use, int64_t ask) {
  if (!limit || in_use + ask <= *limit) return std::nullopt;
  auto amount = [&](int64_t v) { return std::to_string(v) + unit; };
  return "namespace " + ns + ": quota " + field + " " + amount(*limit) + ", in use " +
         amount(in_use) + ", this pod asks " + amount(ask) + ": over by " +
         amount(in_use + ask - *limit);
}

}  // namespace

Status CheckQuota(const std::string& ns, const NamespaceQuota& quota, const QuotaAmounts& in_use,
                  const QuotaAmounts& ask) {
  if (auto e = Excess(ns, "chips", " chip(s)", quota.chips, in_use.chips, ask.chips)) {
    return Error{*e};
  }
  if (auto e =
          Excess(ns, "memoryMiB", " MiB", quota.memory_mib, in_use.memory_mib, ask.memory_mib)) {
    return Error{*e};
  }
  if (auto e = Excess(ns, "cores", "%", quota.cores, in_use.cores, ask.cores)) return Error{*e};
  return Status::Ok();
}

}  // namespace flexai::partition
