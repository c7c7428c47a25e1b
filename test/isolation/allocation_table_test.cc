// The hook's process-local allocation table, in-process: VMM handle references and mappings.
#include "isolation/hook/allocation_table.h"

#include <gtest/gtest.h>

namespace flexai::isolation {
namespace {

constexpr std::uint64_t kHandle = 0x1000;
constexpr std::uint64_t kAddress = 0x200000000000ULL;
constexpr std::uint64_t kMiB = 1 << 20;

TEST(AllocationTableTest, AHandleNumberStillTrackedIsNotOverwrittenByANewAllocation) {
  AllocationTable table;
  ASSERT_TRUE(table.Add(AllocationKind::kHandle, kHandle, Allocation{0, 40 * kMiB}));
  Mapping mapping{kAddress, 40 * kMiB, kHandle};
  ASSERT_TRUE(table.BeginMap(mapping));
  table.FinishMap(mapping, true);
  ASSERT_TRUE(table.ReleaseHandle(kHandle).dropped);  // released, still mapped
  EXPECT_FALSE(table.Add(AllocationKind::kHandle, kHandle, Allocation{0, 8 * kMiB}));
  // The old record, with its 40 MiB, comes back with the last unmap.
  Unmapping unmapping = table.Unmap(kAddress, 40 * kMiB);
  ASSERT_EQ(unmapping.freed.size(), 1u);
  EXPECT_EQ(unmapping.freed[0].second.bytes, 40 * kMiB);
}

// cuMemMap on one thread, cuMemUnmap of that range on another before the map returned: the
// unmap must find the mapping, or it lives on in the table and keeps the handle's quota forever.
TEST(AllocationTableTest, AnUnmapBetweenTheDriversMapAndItsReturnFindsTheMapping) {
  AllocationTable table;
  table.Add(AllocationKind::kHandle, kHandle, Allocation{0, 40 * kMiB});
  Mapping mapping{kAddress, 40 * kMiB, kHandle};
  ASSERT_TRUE(table.BeginMap(mapping));
  Unmapping unmapping = table.Unmap(kAddress, 40 * kMiB);  // the other thread
  EXPECT_EQ(unmapping.mappings.size(), 1u);
  EXPECT_FALSE(table.FinishMap(mapping, true));
  HandleRelease release = table.ReleaseHandle(kHandle);
  EXPECT_TRUE(release.freed);  // no mapping left: the quota is due back now
}

TEST(AllocationTableTest, AFailedMapDropsItsProvisionalMapping) {
  AllocationTable table;
  table.Add(AllocationKind::kHandle, kHandle, Allocation{0, 40 * kMiB});
  Mapping mapping{kAddress, 40 * kMiB, kHandle};
  ASSERT_TRUE(table.BeginMap(mapping));
  table.ReleaseHandle(kHandle);
  std::optional<Allocation> freed = table.FinishMap(mapping, false);
  ASSERT_TRUE(freed.has_value());
  EXPECT_EQ(freed->bytes, 40 * kMiB);
  EXPECT_TRUE(table.Unmap(kAddress, 40 * kMiB).mappings.empty());
}

TEST(AllocationTableTest, ARefusedSecondReleaseLeavesTheFirstInPlace) {
  AllocationTable table;
  table.Add(AllocationKind::kHandle, kHandle, Allocation{0, 40 * kMiB});
  Mapping mapping{kAddress, 40 * kMiB, kHandle};
  table.BeginMap(mapping);
  table.FinishMap(mapping, true);
  HandleRelease first = table.ReleaseHandle(kHandle);
  EXPECT_TRUE(first.dropped);
  EXPECT_FALSE(first.freed);
  HandleRelease second = table.ReleaseHandle(kHandle);  // the driver refuses this one
  table.UndoReleaseHandle(kHandle, second);
  EXPECT_EQ(table.Unmap(kAddress, 40 * kMiB).freed.size(), 1u);
}

TEST(AllocationTableTest, ARetainedHandleIsFreedOnlyAfterEveryReferenceIsReleased) {
  AllocationTable table;
  table.Add(AllocationKind::kHandle, kHandle, Allocation{0, 40 * kMiB});
  Mapping mapping{kAddress, 40 * kMiB, kHandle};
  table.BeginMap(mapping);
  table.FinishMap(mapping, true);
  table.RetainHandle(kHandle);
  EXPECT_FALSE(table.ReleaseHandle(kHandle).freed);
  EXPECT_TRUE(table.Unmap(kAddress, 40 * kMiB).freed.empty());  // one reference is left
  HandleRelease last = table.ReleaseHandle(kHandle);
  EXPECT_TRUE(last.freed);
  EXPECT_EQ(last.allocation.bytes, 40 * kMiB);
}

}  // namespace
}  // namespace flexai::isolation
