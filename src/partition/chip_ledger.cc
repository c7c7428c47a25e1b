#include "partition/chip_ledger.h"

#include <algorithm>

namespace flexai::partition {

int64_t ChipLedger::free_memory_mib() const {
  return std::max<int64_t>(0, capacity_.memory_limit_mib() - used_memory_mib_);
}

int ChipLedger::free_cores() const { return std::max(0, capacity_.cores - used_cores_); }

bool ChipLedger::over_full() const {
  return used_memory_mib_ > capacity_.memory_limit_mib() || used_cores_ > capacity_.cores ||
         static_cast<int>(slices_.size()) > capacity_.max_slices ||
         (exclusive_ && slices_.size() > 1);
}

bool ChipLedger::CanFit(const ChipDemand& demand) const {
  if (exclusive_ || over_full()) return false;
  if (demand.exclusive) return slices_.empty();
  if (static_cast<int>(slices_.size()) >= capacity_.max_slices) return false;
  return demand.memory_mib <= free_memory_mib() && demand.cores <= free_cores();
}

Status ChipLedger::Allocate(const Owner& owner, const ChipDemand& demand) {
  return Take(owner, demand, /*check_room=*/true);
}

Status ChipLedger::Restore(const Owner& owner, const ChipDemand& demand) {
  return Take(owner, demand, /*check_room=*/false);
}

Status ChipLedger::Take(const Owner& owner, const ChipDemand& demand, bool check_room) {
  if (const Slice* existing = Find(owner)) {
    if (existing->memory_mib == demand.memory_mib && existing->cores == demand.cores &&
        existing->exclusive == demand.exclusive) {
      return Status::Ok();
    }
    return Error{"owner " + owner.ToString() + " already holds a different slice on this chip"};
  }
  if (demand.memory_mib < 0 || demand.cores < 0) return Error{"negative slice amounts"};
  if (check_room && !CanFit(demand)) {
    return Error{"slice (" + std::to_string(demand.memory_mib) + " MiB, " +
                 std::to_string(demand.cores) + "% cores) does not fit: free " +
                 std::to_string(free_memory_mib()) + " MiB, " + std::to_string(free_cores()) +
                 "% cores, " + std::to_string(slices_.size()) + " slices" +
                 (exclusive_ ? ", held exclusively" : "")};
  }
  slices_.push_back({owner, demand.memory_mib, demand.cores, demand.exclusive});
  used_memory_mib_ += demand.memory_mib;
  used_cores_ += demand.cores;
  exclusive_ = exclusive_ || demand.exclusive;
  return Status::Ok();
}

bool ChipLedger::Release(const Owner& owner) {
  auto it = std::find_if(slices_.begin(), slices_.end(),
                         [&](const Slice& s) { return s.owner == owner; });
  if (it == slices_.end()) return false;
  used_memory_mib_ -= it->memory_mib;
  used_cores_ -= it->cores;
  slices_.erase(it);
  // Restored slices may have put two exclusive holders on one chip: recount.
  exclusive_ =
      std::any_of(slices_.begin(), slices_.end(), [](const Slice& s) { return s.exclusive; });
  return true;
}

const Slice* ChipLedger::Find(const Owner& owner) const {
  auto it = std::find_if(slices_.begin(), slices_.end(),
                         [&](const Slice& s) { return s.owner == owner; });
  return it == slices_.end() ? nullptr : &*it;
}

}  // namespace flexai::partition
