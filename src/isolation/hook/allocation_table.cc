#include "isolation/hook/allocation_table.h"

namespace flexai::isolation {

AllocationTable::Map& AllocationTable::MapFor(AllocationKind kind) {
  switch (kind) {
    case AllocationKind::kPointer:
      return pointers_;
    case AllocationKind::kHandle:
      return handles_;
    case AllocationKind::kArray:
      return arrays_;
    case AllocationKind::kMipmappedArray:
      return mipmapped_arrays_;
  }
  return pointers_;
}

void AllocationTable::Add(AllocationKind kind, std::uint64_t key, Allocation allocation) {
  std::lock_guard lock(mutex_);
  MapFor(kind)[key] = allocation;
}

std::optional<Allocation> AllocationTable::Remove(AllocationKind kind, std::uint64_t key) {
  std::lock_guard lock(mutex_);
  Map& map = MapFor(kind);
  auto found = map.find(key);
  if (found == map.end()) return std::nullopt;
  Allocation allocation = found->second;
  map.erase(found);
  return allocation;
}

void AllocationTable::ResetInChild() {
  pointers_.clear();
  handles_.clear();
  arrays_.clear();
  mipmapped_arrays_.clear();
  mutex_.unlock();
}

}  // namespace flexai::isolation
