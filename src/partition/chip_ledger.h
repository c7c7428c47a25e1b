// The slices held on one chip, by owner (pod UID + container). Allocation and release are
// idempotent per owner; Allocate never takes the chip past its capacity, Restore records a slice
// already in use whatever room is left (the chip may then be over-full).
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <vector>

#include "partition/result.h"
#include "partition/slice_request.h"

namespace flexai::partition {

struct Owner {
  std::string pod_uid;
  std::string container;
  auto operator<=>(const Owner&) const = default;
  std::string ToString() const { return pod_uid + "/" + container; }
};

struct Slice {
  Owner owner;
  int64_t memory_mib = 0;
  int cores = 0;
  bool exclusive = false;
};

// What a chip can hand out, after the policy's reserved memory and oversubscription.
struct ChipCapacity {
  int64_t memory_mib = 0;  // usable memory (physical minus reserved)
  int cores = kCoresPerChip;
  int max_slices = 1 << 20;              // no limit unless the policy sets one
  double memory_oversubscription = 1.0;  // >= 1.0; scales memory_mib for admission

  int64_t memory_limit_mib() const {
    return static_cast<int64_t>(static_cast<double>(memory_mib) * memory_oversubscription);
  }
};

class ChipLedger {
 public:
  ChipLedger() = default;
  explicit ChipLedger(ChipCapacity capacity) : capacity_(capacity) {}

  const ChipCapacity& capacity() const { return capacity_; }
  const std::vector<Slice>& slices() const { return slices_; }
  int64_t used_memory_mib() const { return used_memory_mib_; }
  int used_cores() const { return used_cores_; }
  // What new slices may still take; 0 (never negative) on an over-full chip.
  int64_t free_memory_mib() const;
  int free_cores() const;
  // More is held than the capacity allows (restored slices after a capacity shrink): nothing new
  // fits until enough is released.
  bool over_full() const;
  bool empty() const { return slices_.empty(); }
  bool held_exclusively() const { return exclusive_; }

  // True when `demand` fits next to the slices already here.
  bool CanFit(const ChipDemand& demand) const;
  // Adds a slice for `owner`. Repeating the same allocation is a no-op; the same owner asking for
  // different amounts, or a demand that does not fit, is an error and changes nothing.
  Status Allocate(const Owner& owner, const ChipDemand& demand);
  // Records a slice that is already in use (a running pod's), without checking room: capacity
  // may have shrunk under it. Idempotent per owner like Allocate.
  Status Restore(const Owner& owner, const ChipDemand& demand);
  // Removes `owner`'s slice; returns false (and changes nothing) when it holds none.
  bool Release(const Owner& owner);
  const Slice* Find(const Owner& owner) const;

 private:
  // Checks ownership and amounts; `check_room` adds the capacity check.
  Status Take(const Owner& owner, const ChipDemand& demand, bool check_room);

  ChipCapacity capacity_;
  std::vector<Slice> slices_;
  int64_t used_memory_mib_ = 0;
  int used_cores_ = 0;
  bool exclusive_ = false;
};

}  // namespace flexai::partition
