#include "partition/chip.h"

#include <gtest/gtest.h>

namespace flexai::partition {
namespace {

TEST(CpuList, AcceptsWhatSysfsAndNvidiaSmiPrint) {
  for (const char* list : {"", "0", "0-31", "0-31,64-95", "7,9,11-12", "3-3"}) {
    EXPECT_TRUE(IsCpuList(list)) << list;
  }
}

TEST(CpuList, RefusesAnythingElse) {
  for (const char* list : {",", "0,", ",0", "0-", "-3", "3-1", "0--1", "a", "0-31 ", " 0", "0;1",
                           "+1", "99999999999"}) {
    EXPECT_FALSE(IsCpuList(list)) << list;
  }
}

}  // namespace
}  // namespace flexai::partition
