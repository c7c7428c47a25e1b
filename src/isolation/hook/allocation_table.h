// Process-local record of what each live allocation cost, so that a free returns exactly the
// quota its allocation took. Keyed by kind because pointers, VMM handles and arrays are
// separate name spaces.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <unordered_map>

namespace flexai::isolation {

enum class AllocationKind { kPointer, kHandle, kArray, kMipmappedArray };

struct Allocation {
  int device = 0;
  std::uint64_t bytes = 0;
};

class AllocationTable {
 public:
  void Add(AllocationKind kind, std::uint64_t key, Allocation allocation);
  std::optional<Allocation> Remove(AllocationKind kind, std::uint64_t key);

  // fork() support: hold the lock across fork; the child starts with no allocations of its own
  // (its parent's pointers stay charged to the parent).
  void LockForFork() { mutex_.lock(); }
  void UnlockInParent() { mutex_.unlock(); }
  void ResetInChild();

 private:
  using Map = std::unordered_map<std::uint64_t, Allocation>;
  Map& MapFor(AllocationKind kind);

  std::mutex mutex_;
  Map pointers_, handles_, arrays_, mipmapped_arrays_;
};

}  // namespace flexai::isolation
