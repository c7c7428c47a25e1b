#include "device_plugin/device_id.h"

#include <gtest/gtest.h>

namespace flexai::device_plugin {
namespace {

TEST(DeviceId, FormatsUuidAndSlot) { EXPECT_EQ(FormatDeviceId("GPU-abc", 3), "GPU-abc::3"); }

TEST(DeviceId, ParsesWhatItFormats) {
  auto id = ParseDeviceId(FormatDeviceId("GPU-1234-abcd", 9));
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(id->chip_uuid, "GPU-1234-abcd");
  EXPECT_EQ(id->slot, 9);
}

TEST(DeviceId, RejectsIdsThatAreNotUuidColonColonNumber) {
  EXPECT_FALSE(ParseDeviceId("GPU-abc"));
  EXPECT_FALSE(ParseDeviceId("GPU-abc::"));
  EXPECT_FALSE(ParseDeviceId("::3"));
  EXPECT_FALSE(ParseDeviceId("GPU-abc::x"));
  EXPECT_FALSE(ParseDeviceId("GPU-abc::-1"));
  EXPECT_FALSE(ParseDeviceId("GPU-abc::3x"));
}

}  // namespace
}  // namespace flexai::device_plugin
