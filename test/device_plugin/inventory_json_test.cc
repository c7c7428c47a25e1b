#include "device_plugin/inventory_json.h"

#include <gtest/gtest.h>

#include "device_plugin/backend/sim/sim_config.h"
#include "kube/protocol.h"

namespace flexai::device_plugin {
namespace {

TEST(InventoryJson, IsReadBackByTheSchedulersDecoder) {
  auto chips = DefaultSimChips("n1").chips;
  chips[6].health = partition::Health::kUnhealthy;
  chips[2].numa_node = -1;
  chips[3].cpu_affinity = "8-15";
  auto decoded = kube::DecodeInventory(InventoryJson(partition::Vendor::kSim, chips).dump());
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  ASSERT_EQ(decoded->chips.size(), chips.size());
  for (size_t i = 0; i < chips.size(); ++i) {
    EXPECT_EQ(decoded->chips[i].uuid, chips[i].uuid);
    EXPECT_EQ(decoded->chips[i].index, chips[i].index);
    EXPECT_EQ(decoded->chips[i].memory_mib, chips[i].memory_mib);
    EXPECT_EQ(decoded->chips[i].numa_node, chips[i].numa_node);
    EXPECT_EQ(decoded->chips[i].link_group, chips[i].link_group);
    EXPECT_EQ(decoded->chips[i].cpu_affinity, chips[i].cpu_affinity);
    EXPECT_EQ(decoded->chips[i].health, chips[i].health);
    EXPECT_EQ(decoded->chips[i].vendor, chips[i].vendor);
  }
}

TEST(InventoryJson, NamesTheNodesVendor) {
  auto json = InventoryJson(partition::Vendor::kAscend, DefaultSimChips("n1").chips);
  EXPECT_EQ(json["vendor"], "ascend");
  EXPECT_EQ(json["version"], kube::kInventoryVersion);
  EXPECT_EQ(json["chips"].size(), 8u);
}

}  // namespace
}  // namespace flexai::device_plugin
