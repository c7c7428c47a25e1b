// What one container asks of the accelerators on a node: how many chips, and per chip either the
// whole chip (exclusive) or a slice of memory and compute, plus model/UUID constraints.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "partition/chip.h"
#include "partition/result.h"

namespace flexai::partition {

struct SliceRequest {
  int chips = 1;           // number of distinct chips, each getting the per-chip amounts
  int64_t memory_mib = 0;  // per chip; 0 = not given
  int memory_percent = 0;  // per chip, 1..100; 0 = not given
  int cores = 0;           // per chip, percent of one chip; 0 = not given
  std::vector<std::string> allowed_models;  // empty = any
  std::vector<std::string> excluded_models;
  std::vector<std::string> allowed_uuids;  // empty = any
  std::vector<std::string> excluded_uuids;
  // The kind of chip asked for, from the resource names used (see SliceRequestFromResources):
  // kNvidia for the gpu names (NVIDIA or simulated chips serve it), kAscend for the npu names,
  // kSim for simulated chips only; nullopt = any vendor.
  std::optional<Vendor> vendor;

  // Whole chips when neither memory nor cores is given.
  bool exclusive() const { return memory_mib == 0 && memory_percent == 0 && cores == 0; }
  // Checks ranges (chips >= 1, percents within 1..100, memory not negative, not both memory forms).
  Status Validate() const;
  // True when `chip` passes the vendor, model and UUID constraints (capacity is the ledger's
  // business).
  bool Accepts(const Chip& chip) const;
};

// Whether a chip of vendor `chip` can serve a request for `requested`: the same vendor, and
// simulated chips also stand in for NVIDIA GPUs (the simulator's trace asks for GPUs).
bool VendorServes(Vendor requested, Vendor chip);

// The concrete per-chip amounts a request takes on a given chip.
struct ChipDemand {
  int64_t memory_mib = 0;
  int cores = 0;
  bool exclusive = false;
};

// Resolves a request against a chip whose usable memory is `usable_memory_mib`:
// exclusive takes everything; a percent becomes MiB; cores alone imply the same share of memory;
// memory alone reserves no compute (best effort, as HAMi does).
ChipDemand ResolveDemand(const SliceRequest& request, int64_t usable_memory_mib);

}  // namespace flexai::partition
