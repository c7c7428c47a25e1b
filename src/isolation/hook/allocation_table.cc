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

void AllocationTable::Add(AllocationKind kind, std::uint64_t key, Allocation allocation) {
  std::lock_guard lock(mutex_);
  if (kind == AllocationKind::kHandle) {
    handles_[key] = HandleEntry{allocation};
    return;
  }
  MapFor(kind)[key] = allocation;
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

bool AllocationTable::BeginMap(std::uint64_t handle) {
  std::lock_guard lock(mutex_);
  auto found = handles_.find(handle);
  if (found == handles_.end()) return false;
  ++found->second.mappings;
  return true;
}

std::optional<Allocation> AllocationTable::FinishMap(const Mapping& mapping, bool mapped) {
  std::lock_guard lock(mutex_);
  if (mapped) {
    mappings_[mapping.address] = mapping;
    return std::nullopt;
  }
  auto found = handles_.find(mapping.handle);
  if (found == handles_.end()) return std::nullopt;
  if (--found->second.mappings > 0 || !found->second.released) return std::nullopt;
  Allocation allocation = found->second.allocation;
  handles_.erase(found);
  return allocation;
}

Unmapping AllocationTable::Unmap(std::uint64_t address, std::uint64_t size) {
  std::lock_guard lock(mutex_);
  Unmapping unmapping;
  auto it = mappings_.lower_bound(address);
  while (it != mappings_.end() && it->first - address < size) {
    const Mapping& mapping = it->second;
    unmapping.mappings.push_back(mapping);
    auto handle = handles_.find(mapping.handle);
    if (handle != handles_.end() && --handle->second.mappings <= 0 && handle->second.released) {
      unmapping.freed.emplace_back(handle->first, handle->second.allocation);
      handles_.erase(handle);
    }
    it = mappings_.erase(it);
  }
  return unmapping;
}

void AllocationTable::UndoUnmap(const Unmapping& unmapping) {
  std::lock_guard lock(mutex_);
  for (const auto& [handle, allocation] : unmapping.freed) {
    handles_[handle] = HandleEntry{allocation, 0, true};
  }
  for (const Mapping& mapping : unmapping.mappings) {
    mappings_[mapping.address] = mapping;
    auto handle = handles_.find(mapping.handle);
    if (handle != handles_.end()) ++handle->second.mappings;
  }
}

HandleRelease AllocationTable::ReleaseHandle(std::uint64_t handle) {
  std::lock_guard lock(mutex_);
  HandleRelease release;
  auto found = handles_.find(handle);
  if (found == handles_.end()) return release;
  release.tracked = true;
  release.allocation = found->second.allocation;
  if (found->second.mappings > 0) {
    found->second.released = true;
  } else {
    release.freed = true;
    handles_.erase(found);
  }
  return release;
}

void AllocationTable::UndoReleaseHandle(std::uint64_t handle, const HandleRelease& release) {
  if (!release.tracked) return;
  std::lock_guard lock(mutex_);
  if (release.freed) {
    handles_[handle] = HandleEntry{release.allocation};
  } else if (auto found = handles_.find(handle); found != handles_.end()) {
    found->second.released = false;
  }
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
