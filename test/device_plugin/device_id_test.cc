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

TEST(ContainerDeviceIds, EncodesSortedAndDecodesWhatItEncodes) {
  ContainerDeviceIds ids = {{"main", {"GPU-b::3", "GPU-a::0"}}, {"side", {"GPU-c::1"}}};
  std::string text = EncodeContainerDeviceIds(ids);
  EXPECT_EQ(text, "main=GPU-a::0,GPU-b::3;side=GPU-c::1");
  auto decoded = DecodeContainerDeviceIds(text);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->at("main"), (std::vector<std::string>{"GPU-a::0", "GPU-b::3"}));
  EXPECT_EQ(decoded->at("side"), (std::vector<std::string>{"GPU-c::1"}));
  EXPECT_TRUE(DecodeContainerDeviceIds("")->empty());
}

TEST(ContainerDeviceIds, RejectsMalformedText) {
  EXPECT_FALSE(DecodeContainerDeviceIds("main"));
  EXPECT_FALSE(DecodeContainerDeviceIds("=GPU-a::0"));
  EXPECT_FALSE(DecodeContainerDeviceIds("main="));
  EXPECT_FALSE(DecodeContainerDeviceIds("main=GPU-a"));
  EXPECT_FALSE(DecodeContainerDeviceIds("main=GPU-a::0,"));
}

}  // namespace
}  // namespace flexai::device_plugin
