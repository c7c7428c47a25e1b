#include "extender/misfit.h"

#include <algorithm>

namespace flexai::extender {
namespace {

using partition::ChipSet;

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ",") + i;
  return out;
}

std::string Constraints(const partition::SliceRequest& r) {
  std::vector<std::string> parts;
  if (r.vendor) parts.push_back("vendor " + std::string(partition::VendorName(*r.vendor)));
  if (!r.allowed_models.empty()) parts.push_back("model " + Join(r.allowed_models));
  if (!r.excluded_models.empty()) parts.push_back("not model " + Join(r.excluded_models));
  if (!r.allowed_uuids.empty()) parts.push_back("uuid " + Join(r.allowed_uuids));
  if (!r.excluded_uuids.empty()) parts.push_back("not uuid " + Join(r.excluded_uuids));
  return parts.empty() ? "" : " (" + Join(parts) + ")";
}

std::string Plural(int n, const char* word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

}  // namespace

Misfit ExplainMisfit(const partition::NodeState& node, const partition::PodRequest& pod) {
  const std::string prefix = "node " + node.name() + ": ";
  if (node.chip_count() == 0) return {prefix + "has no flexai chips", true};
  bool several = pod.containers.size() > 1;
  for (const auto& container : pod.containers) {
    const auto& req = container.slice;
    std::string who = several ? "container " + container.name + " " : "";
    int matching = 0, healthy_matching = 0;
    int64_t largest_capacity = 0;
    std::string largest_capacity_uuid;
    for (int i = 0; i < node.chip_count(); ++i) {
      const auto& chip = node.chip(i);
      if (!req.Accepts(chip)) continue;
      ++matching;
      if (!chip.healthy()) continue;
      ++healthy_matching;
      int64_t cap = node.ledger(i).capacity().memory_limit_mib();
      if (cap > largest_capacity) largest_capacity = cap;
    }
    if (matching == 0) {
      return {prefix + "no chip matches " + who + "the request" + Constraints(req), true};
    }
    if (healthy_matching < req.chips) {
      return {prefix + who + "asks " + Plural(req.chips, "chip") + ", only " +
                  std::to_string(healthy_matching) + " healthy matching chip" +
                  (healthy_matching == 1 ? "" : "s") + " here" + Constraints(req),
              true};
    }
    // Per-chip demand on the largest chip: can it fit on an empty chip at all?
    if (req.memory_mib > 0 && req.memory_mib > largest_capacity) {
      return {prefix + who + "asks " + std::to_string(req.memory_mib) +
                  " MiB per chip, more than any chip has (" + std::to_string(largest_capacity) +
                  " MiB)",
              true};
    }
    ChipSet feasible = node.FeasibleChips(req);
    int fits = partition::ChipCount(feasible);
    if (fits >= req.chips) continue;
    // Not enough room now: say what is short, naming the best chip.
    int64_t best_free_mem = -1;
    int best_free_cores = -1;
    std::string mem_uuid, cores_uuid;
    int free_whole = 0;
    bool slice_limit = false;
    for (int i = 0; i < node.chip_count(); ++i) {
      const auto& chip = node.chip(i);
      if (!chip.healthy() || !req.Accepts(chip)) continue;
      const auto& l = node.ledger(i);
      if (l.held_exclusively()) continue;
      if (l.empty()) ++free_whole;
      if (l.free_memory_mib() > best_free_mem)
        best_free_mem = l.free_memory_mib(), mem_uuid = chip.uuid;
      if (l.free_cores() > best_free_cores)
        best_free_cores = l.free_cores(), cores_uuid = chip.uuid;
      if (static_cast<int>(l.slices().size()) >= l.capacity().max_slices) slice_limit = true;
    }
    if (req.exclusive()) {
      return {prefix + who + "asks " + Plural(req.chips, "whole chip") + ", only " +
                  std::to_string(free_whole) + " entirely free",
              false};
    }
    int i0 = 0;
    for (int i = 0; i < node.chip_count(); ++i) {
      if (node.chip(i).healthy() && req.Accepts(node.chip(i))) {
        i0 = i;
        break;
      }
    }
    partition::ChipDemand demand = node.DemandOn(req, i0);
    if (demand.memory_mib > 0 && demand.memory_mib > best_free_mem) {
      return {prefix + "no chip has " + std::to_string(demand.memory_mib) +
                  " MiB free (largest free " + std::to_string(std::max<int64_t>(best_free_mem, 0)) +
                  " MiB" + (mem_uuid.empty() ? "" : " on " + mem_uuid) + ")",
              false};
    }
    if (demand.cores > 0 && demand.cores > best_free_cores) {
      return {prefix + "no chip has " + std::to_string(demand.cores) +
                  "% compute free (most free " + std::to_string(std::max(best_free_cores, 0)) +
                  "%" + (cores_uuid.empty() ? "" : " on " + cores_uuid) + ")",
              false};
    }
    if (slice_limit && fits == 0) {
      return {prefix + "every matching chip holds its maximum number of slices", false};
    }
    return {prefix + who + "needs " + Plural(req.chips, "chip") + " with " +
                std::to_string(demand.memory_mib) + " MiB and " + std::to_string(demand.cores) +
                "% compute free, only " + std::to_string(fits) + " ha" + (fits == 1 ? "s" : "ve") +
                " that room",
            false};
  }
  if (!node.HostFits(pod.host)) {
    auto free = node.host_free();
    return {prefix + "not enough host resources for the pod (asks " +
                std::to_string(pod.host.cpu_milli) + "m CPU and " +
                std::to_string(pod.host.memory_mib) + " MiB, " + std::to_string(free.cpu_milli) +
                "m and " + std::to_string(free.memory_mib) + " MiB left for flexai pods)",
            false};
  }
  return {prefix + "the pod's containers do not fit on its chips together", false};
}

}  // namespace flexai::extender
