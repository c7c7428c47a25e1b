// Process-local record of what each live allocation cost, so that a free returns exactly the
// quota its allocation took. Keyed by kind because pointers, VMM handles and arrays are
// separate name spaces. VMM handles also track their references and mappings: the driver keeps a
// handle's physical memory until every reference (cuMemCreate's and one per
// cuMemRetainAllocationHandle) is released *and* its last mapping is unmapped.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

namespace flexai::isolation {

enum class AllocationKind { kPointer, kHandle, kArray, kMipmappedArray };

struct Allocation {
  int device = 0;
  std::uint64_t bytes = 0;
  std::uintptr_t context = 0;  // the CUcontext it belongs to (0: VMM handles, which outlive one)
};

// One cuMemMap of a tracked handle: [address, address + size) backed by `handle`.
struct Mapping {
  std::uint64_t address = 0;
  std::uint64_t size = 0;
  std::uint64_t handle = 0;
};

// What cuMemRelease did to a handle's record, so that a failed release can be undone.
struct HandleRelease {
  bool tracked = false;  // the handle was ours
  bool dropped = false;  // one of its references was taken (none was left: nothing changed)
  bool freed = false;    // that was its last reference and it was not mapped: forgotten,
                         // `allocation` is due back once the driver released it
  Allocation allocation;
};

// What cuMemUnmap removed, so that a failed unmap can be undone.
struct Unmapping {
  std::vector<Mapping> mappings;
  // Handles that were released and are now unmapped: forgotten, their quota due back.
  std::vector<std::pair<std::uint64_t, Allocation>> freed;
};

class AllocationTable {
 public:
  // Records a new allocation. Returns false (and keeps the old record) when a VMM handle with
  // that number is still tracked: its quota stays charged until its own release and unmap.
  bool Add(AllocationKind kind, std::uint64_t key, Allocation allocation);
  std::optional<Allocation> Remove(AllocationKind kind, std::uint64_t key);
  // A context was destroyed or reset: the driver freed every pointer and array made in it.
  // Forgets them and returns what they cost (HookState::context_lock keeps allocations and frees
  // from running meanwhile).
  std::vector<Allocation> RemoveContext(std::uintptr_t context);

  // cuMemMap: records the mapping before the driver makes it, so that a release or an unmap of
  // that range racing with the map finds it. Returns false when the handle is not tracked.
  bool BeginMap(const Mapping& mapping);
  // After the driver's answer: keeps the mapping, or (failed) drops it and returns the handle's
  // allocation if its last reference was released meanwhile and it is now unmapped (quota due
  // back).
  std::optional<Allocation> FinishMap(const Mapping& mapping, bool mapped);
  // cuMemUnmap: removes the mappings that start inside [address, address + size).
  Unmapping Unmap(std::uint64_t address, std::uint64_t size);
  void UndoUnmap(const Unmapping& unmapping);
  // cuMemRetainAllocationHandle succeeded: one more reference to release.
  void RetainHandle(std::uint64_t handle);
  // cuMemRelease: takes one reference; after the last one an unmapped handle is forgotten (its
  // quota is due back), a mapped one is freed with its last unmap.
  HandleRelease ReleaseHandle(std::uint64_t handle);
  // The driver refused the release: gives back exactly the reference ReleaseHandle took.
  void UndoReleaseHandle(std::uint64_t handle, const HandleRelease& release);

  // fork() support: hold the lock across fork; the child starts with no allocations of its own
  // (its parent's pointers stay charged to the parent).
  void LockForFork() { mutex_.lock(); }
  void UnlockInParent() { mutex_.unlock(); }
  void ResetInChild();

 private:
  struct HandleEntry {
    Allocation allocation;
    int references = 1;  // cuMemCreate's + retains - successful releases
    int mappings = 0;    // live (or being made) mappings
  };
  // Forgets `handle` when it has neither references nor mappings left; returns its allocation.
  std::optional<Allocation> FreeIfUnusedLocked(std::uint64_t handle);
  using Map = std::unordered_map<std::uint64_t, Allocation>;
  Map& MapFor(AllocationKind kind);

  std::mutex mutex_;
  Map pointers_, arrays_, mipmapped_arrays_;
  std::unordered_map<std::uint64_t, HandleEntry> handles_;
  std::map<std::uint64_t, Mapping> mappings_;  // by address
};

}  // namespace flexai::isolation
