#include "partition/slice_request.h"

#include <algorithm>

namespace flexai::partition {
namespace {

bool Contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

}  // namespace

Status SliceRequest::Validate() const {
  if (chips < 1) return Error{"chips must be at least 1, got " + std::to_string(chips)};
  if (memory_mib < 0)
    return Error{"memory must not be negative, got " + std::to_string(memory_mib)};
  if (memory_percent < 0 || memory_percent > 100) {
    return Error{"memory percentage must be within 1..100, got " + std::to_string(memory_percent)};
  }
  if (cores < 0 || cores > kCoresPerChip) {
    return Error{"cores must be within 1..100 (percent of one chip), got " + std::to_string(cores)};
  }
  if (memory_mib > 0 && memory_percent > 0) {
    return Error{"give memory either in MiB or as a percentage, not both"};
  }
  return Status::Ok();
}

bool VendorServes(Vendor requested, Vendor chip) {
  return requested == chip || (requested == Vendor::kNvidia && chip == Vendor::kSim);
}

bool SliceRequest::Accepts(const Chip& chip) const {
  if (vendor && !VendorServes(*vendor, chip.vendor)) return false;
  if (!allowed_models.empty() && !Contains(allowed_models, chip.model)) return false;
  if (Contains(excluded_models, chip.model)) return false;
  if (!allowed_uuids.empty() && !Contains(allowed_uuids, chip.uuid)) return false;
  if (Contains(excluded_uuids, chip.uuid)) return false;
  return true;
}

ChipDemand ResolveDemand(const SliceRequest& request, int64_t usable_memory_mib) {
  if (request.exclusive()) return {usable_memory_mib, kCoresPerChip, true};
  ChipDemand demand;
  demand.cores = request.cores;
  if (request.memory_mib > 0) {
    demand.memory_mib = request.memory_mib;
  } else if (request.memory_percent > 0) {
    demand.memory_mib = usable_memory_mib * request.memory_percent / 100;
  } else {
    demand.memory_mib = usable_memory_mib * request.cores / kCoresPerChip;
  }
  return demand;
}

}  // namespace flexai::partition
