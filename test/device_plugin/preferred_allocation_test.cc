#include "device_plugin/preferred_allocation.h"

#include <gtest/gtest.h>

#include <set>

#include "device_plugin/backend/sim/sim_config.h"
#include "device_plugin/device_id.h"

namespace flexai::device_plugin {
namespace {

std::vector<std::string> AllDevices(const std::vector<partition::Chip>& chips, int slots) {
  std::vector<std::string> ids;
  for (const auto& chip : chips) {
    for (int s = 0; s < slots; ++s) ids.push_back(FormatDeviceId(chip.uuid, s));
  }
  return ids;
}

std::set<int> ChipIndexes(const std::vector<partition::Chip>& chips,
                          const std::vector<std::string>& ids) {
  std::set<int> indexes;
  for (const auto& id : ids) {
    auto parsed = ParseDeviceId(id);
    for (const auto& chip : chips) {
      if (parsed && chip.uuid == parsed->chip_uuid) indexes.insert(chip.index);
    }
  }
  return indexes;
}

class PreferredAllocationTest : public ::testing::Test {
 protected:
  std::vector<partition::Chip> chips_ = DefaultSimChips("n").chips;
};

TEST_F(PreferredAllocationTest, MultiChipRequestGetsDistinctChipsOnOneIsland) {
  PreferredAllocationInput input;
  input.available = AllDevices(chips_, 4);
  input.size = 4;
  auto ids = ChoosePreferredDevices(chips_, input);
  ASSERT_EQ(ids.size(), 4u);
  EXPECT_EQ(ChipIndexes(chips_, ids), (std::set<int>{0, 1, 2, 3}));
}

TEST_F(PreferredAllocationTest, StaysOnTheIslandOfAMustIncludeDevice) {
  PreferredAllocationInput input;
  input.available = AllDevices(chips_, 2);
  input.must_include = {FormatDeviceId(chips_[5].uuid, 0)};
  input.size = 3;
  auto ids = ChoosePreferredDevices(chips_, input);
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids[0], FormatDeviceId(chips_[5].uuid, 0));
  for (int index : ChipIndexes(chips_, ids)) EXPECT_GE(index, 4);
  EXPECT_EQ(ChipIndexes(chips_, ids).size(), 3u);
}

TEST_F(PreferredAllocationTest, PrefersTheIslandThatStillHasRoomForAllChips) {
  // Island 0 has only chips 0 and 1 left: a 3-chip request goes to island 1.
  PreferredAllocationInput input;
  for (int i : {0, 1, 4, 5, 6}) input.available.push_back(FormatDeviceId(chips_[i].uuid, 0));
  input.size = 3;
  EXPECT_EQ(ChipIndexes(chips_, ChoosePreferredDevices(chips_, input)), (std::set<int>{4, 5, 6}));
}

TEST_F(PreferredAllocationTest, FallsBackToNumaWhenNoLinkGroups) {
  for (auto& chip : chips_) chip.link_group = -1;
  chips_[0].numa_node = 1;  // chips 0 and 4..7 share NUMA 1
  PreferredAllocationInput input;
  for (int i : {0, 1, 2, 4}) input.available.push_back(FormatDeviceId(chips_[i].uuid, 0));
  input.must_include = {FormatDeviceId(chips_[4].uuid, 0)};
  input.size = 2;
  EXPECT_EQ(ChipIndexes(chips_, ChoosePreferredDevices(chips_, input)), (std::set<int>{0, 4}));
}

TEST_F(PreferredAllocationTest, PendingAssignmentChipsComeFirst) {
  PreferredAllocationInput input;
  input.available = AllDevices(chips_, 2);
  input.size = 2;
  input.hint_chips = {chips_[6].uuid, chips_[7].uuid};
  EXPECT_EQ(ChipIndexes(chips_, ChoosePreferredDevices(chips_, input)), (std::set<int>{6, 7}));
}

TEST_F(PreferredAllocationTest, UsesSeveralSlotsOfOneChipOnlyWhenChipsRunOut) {
  PreferredAllocationInput input;
  input.available = {FormatDeviceId(chips_[2].uuid, 0), FormatDeviceId(chips_[2].uuid, 1),
                     FormatDeviceId(chips_[3].uuid, 0)};
  input.size = 3;
  auto ids = ChoosePreferredDevices(chips_, input);
  EXPECT_EQ(ids.size(), 3u);
  input.size = 2;
  EXPECT_EQ(ChipIndexes(chips_, ChoosePreferredDevices(chips_, input)), (std::set<int>{2, 3}));
}

TEST_F(PreferredAllocationTest, IgnoresUnknownIds) {
  PreferredAllocationInput input;
  input.available = {"junk", "GPU-other::0", FormatDeviceId(chips_[1].uuid, 0)};
  input.size = 2;
  EXPECT_EQ(ChoosePreferredDevices(chips_, input),
            (std::vector<std::string>{FormatDeviceId(chips_[1].uuid, 0)}));
}

}  // namespace
}  // namespace flexai::device_plugin
