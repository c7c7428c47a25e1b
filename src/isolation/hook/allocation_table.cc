#include "isolation/hook/allocation_table.h"

namespace flexai::isolation {

AllocationTable::Map& AllocationTable::MapFor(AllocationKind kind) {
  switch (kind) {
    case AllocationKind::kArray:
      return arrays_;
    case AllocationKind::kMipmappedArray:
      return mipmapped_arrays_;
    case AllocationKind::kPointer:
    case AllocationKind::kHandle:
      break;
  }
  return pointers_;
}

bool AllocationTable::Add(AllocationKind kind, std::uint64_t key, Allocation allocation) {
  std::lock_guard lock(mutex_);
  if (kind == AllocationKind::kHandle) {
    // A handle number the driver hands out again while we still track it (released but mapped)
    // would otherwise erase that handle's charge.
    return handles_.try_emplace(key, HandleEntry{allocation}).second;
  }
  MapFor(kind)[key] = allocation;
  return true;
}

std::optional<Allocation> AllocationTable::Remove(AllocationKind kind, std::uint64_t key) {
  std::lock_guard lock(mutex_);
  if (kind == AllocationKind::kHandle) {
    auto found = handles_.find(key);
    if (found == handles_.end()) return std::nullopt;
    Allocation allocation = found->second.allocation;
    handles_.erase(found);
    return allocation;
  }
  Map& map = MapFor(kind);
  auto found = map.find(key);
  if (found == map.end()) return std::nullopt;
  Allocation allocation = found->second;
  map.erase(found);
  return allocation;
}

std::vector<Allocation> AllocationTable::RemoveContext(std::uintptr_t context) {
  std::vector<Allocation> removed;
  if (context == 0) return removed;
  std::lock_guard lock(mutex_);
  for (Map* map : {&pointers_, &arrays_, &mipmapped_arrays_}) {
    for (auto it = map->begin(); it != map->end();) {
      if (it->second.context == context) {
        removed.push_back(it->second);
        it = map->erase(it);
      } else {
        ++it;
      }
    }
  }
  return removed;
}

std::optional<Allocation> AllocationTable::FreeIfUnusedLocked(std::uint64_t handle) {
  auto found = handles_.find(handle);
  if (found == handles_.end() || found->second.references > 0 || found->second.mappings > 0)
    return std::nullopt;
  Allocation allocation = found->second.allocation;
  handles_.erase(found);
  return allocation;
}

bool AllocationTable::BeginMap(const Mapping& mapping) {
  std::lock_guard lock(mutex_);
  auto found = handles_.find(mapping.handle);
  if (found == handles_.end()) return false;
  // An address we still record as mapped (its unmap is not through yet) is the driver's to
  // refuse; keep the older record rather than lose its handle's count.
  if (!mappings_.try_emplace(mapping.address, mapping).second) return false;
  ++found->second.mappings;
  return true;
}

std::optional<Allocation> AllocationTable::FinishMap(const Mapping& mapping, bool mapped) {
  if (mapped) return std::nullopt;
  std::lock_guard lock(mutex_);
  // Drop the provisional record, unless an unmap of the range took it (and the count) already.
  auto recorded = mappings_.find(mapping.address);
  if (recorded == mappings_.end() || recorded->second.handle != mapping.handle ||
      recorded->second.size != mapping.size)
    return std::nullopt;
  mappings_.erase(recorded);
  auto found = handles_.find(mapping.handle);
  if (found == handles_.end()) return std::nullopt;
  --found->second.mappings;
  return FreeIfUnusedLocked(mapping.handle);
}

Unmapping AllocationTable::Unmap(std::uint64_t address, std::uint64_t size) {
  std::lock_guard lock(mutex_);
  Unmapping unmapping;
  auto it = mappings_.lower_bound(address);
  while (it != mappings_.end() && it->first - address < size) {
    const Mapping& mapping = it->second;
    unmapping.mappings.push_back(mapping);
    auto handle = handles_.find(mapping.handle);
    if (handle != handles_.end()) {
      --handle->second.mappings;
      if (std::optional<Allocation> freed = FreeIfUnusedLocked(mapping.handle))
        unmapping.freed.emplace_back(mapping.handle, *freed);
    }
    it = mappings_.erase(it);
  }
  return unmapping;
}

void AllocationTable::UndoUnmap(const Unmapping& unmapping) {
  std::lock_guard lock(mutex_);
  for (const auto& [handle, allocation] : unmapping.freed) {
    handles_.try_emplace(handle, HandleEntry{allocation, 0, 0});
  }
  for (const Mapping& mapping : unmapping.mappings) {
    mappings_[mapping.address] = mapping;
    auto handle = handles_.find(mapping.handle);
    if (handle != handles_.end()) ++handle->second.mappings;
  }
}

void AllocationTable::RetainHandle(std::uint64_t handle) {
  std::lock_guard lock(mutex_);
  auto found = handles_.find(handle);
  if (found != handles_.end()) ++found->second.references;
}

HandleRelease AllocationTable::ReleaseHandle(std::uint64_t handle) {
  std::lock_guard lock(mutex_);
  HandleRelease release;
  auto found = handles_.find(handle);
  if (found == handles_.end()) return release;
  release.tracked = true;
  release.allocation = found->second.allocation;
  // A release past the last reference is the driver's to refuse; it changes nothing here.
  if (found->second.references <= 0) return release;
  release.dropped = true;
  --found->second.references;
  release.freed = FreeIfUnusedLocked(handle).has_value();
  return release;
}

void AllocationTable::UndoReleaseHandle(std::uint64_t handle, const HandleRelease& release) {
  if (!release.dropped) return;
  std::lock_guard lock(mutex_);
  if (release.freed) {
    handles_.try_emplace(handle, HandleEntry{release.allocation, 0, 0});
  }
  if (auto found = handles_.find(handle); found != handles_.end()) ++found->second.references;
}

void AllocationTable::ResetInChild() {
  pointers_.clear();
  handles_.clear();
  arrays_.clear();
  mipmapped_arrays_.clear();
  mappings_.clear();
  mutex_.unlock();
}

}  // namespace flexai::isolation
