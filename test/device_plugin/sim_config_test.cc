#include "device_plugin/backend/sim/sim_config.h"

#include <gtest/gtest.h>

#include "device_plugin/backend/sim/sim_backend.h"
#include "sim_file.h"
#include "test_kubelet.h"

namespace flexai::device_plugin {
namespace {

TEST(SimConfig, DefaultIsOneH100BoxWithTwoIslandsAndTwoNumaNodes) {
  SimConfig config = DefaultSimChips("node-a");
  ASSERT_EQ(config.chips.size(), 8u);
  for (int i = 0; i < 8; ++i) {
    const auto& chip = config.chips[static_cast<size_t>(i)];
    EXPECT_EQ(chip.index, i);
    EXPECT_EQ(chip.memory_mib, 81559);
    EXPECT_EQ(chip.model, "H100");
    EXPECT_EQ(chip.link_group, i < 4 ? 0 : 1);
    EXPECT_EQ(chip.numa_node, i < 4 ? 0 : 1);
    EXPECT_TRUE(chip.healthy());
  }
  EXPECT_NE(DefaultSimChips("node-b").chips[0].uuid, config.chips[0].uuid);
}

TEST(SimConfig, ParsesYaml) {
  auto config = ParseSimConfig(R"(
vendor: nvidia
chips:
  - {uuid: GPU-a, model: A100, memoryMiB: 40960, numa: 1, linkGroup: 2, cpus: "16-31,48-63"}
  - {uuid: GPU-b, memoryMiB: 1024, health: Unhealthy}
)",
                               "sim.yaml");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->vendor, partition::Vendor::kNvidia);
  ASSERT_EQ(config->chips.size(), 2u);
  EXPECT_EQ(config->chips[0].model, "A100");
  EXPECT_EQ(config->chips[0].numa_node, 1);
  EXPECT_EQ(config->chips[0].link_group, 2);
  EXPECT_EQ(config->chips[0].cpu_affinity, "16-31,48-63");
  EXPECT_EQ(config->chips[1].cpu_affinity, "");
  EXPECT_EQ(config->chips[1].index, 1);
  EXPECT_EQ(config->chips[1].numa_node, -1);
  EXPECT_FALSE(config->chips[1].healthy());
  EXPECT_EQ(config->chips[1].vendor, partition::Vendor::kNvidia);
}

TEST(SimConfig, ParsesJson) {
  auto config = ParseSimConfig(R"({"chips":[{"uuid":"NPU-0","memoryMiB":65536}]})", "sim.json");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->chips[0].uuid, "NPU-0");
}

TEST(SimConfig, ErrorsNameTheFieldAndReason) {
  struct Case {
    const char* text;
    const char* expected;
  };
  const Case cases[] = {
      {"chips: []", "chips: required"},
      {"chips: [{memoryMiB: 1}]", "chips[0].uuid: required"},
      {"chips: [{uuid: a, memoryMiB: 0}]", "chips[0].memoryMiB: must be > 0"},
      {"chips: [{uuid: 'a:b', memoryMiB: 1}]", "chips[0].uuid: must be non-empty"},
      {"chips: [{uuid: a, memoryMiB: 1, health: Sick}]", "chips[0].health"},
      {"chips: [{uuid: a, memoryMiB: 1, colour: red}]", "chips[0].colour: unknown key"},
      {"chips: [{uuid: a, memoryMiB: 1, cpus: 'all'}]", "chips[0].cpus: must be a CPU list"},
      {"chips: [{uuid: a, memoryMiB: 1}, {uuid: a, memoryMiB: 1}]", "chips[1].uuid: duplicate"},
      {"vendor: amd\nchips: [{uuid: a, memoryMiB: 1}]", "vendor: must be"},
      {"chips: [{uuid: a, memoryMiB: lots}]", "chips[0].memoryMiB: \"lots\" is not an integer"},
      {"chips: [{uuid: a, memoryMiB: 1.5}]", "chips[0].memoryMiB: \"1.5\" is not an integer"},
      {"chips: [{uuid: a, memoryMiB: 1, numa: -7}]", "chips[0].numa: must be >= 0, or -1"},
      {"chips: [{uuid: a, memoryMiB: 1, linkGroup: -3}]", "chips[0].linkGroup: must be >= 0"},
      {"chips: [{uuid: 'a b', memoryMiB: 1}]", "chips[0].uuid: must be non-empty and contain no"},
      {"[", "not valid YAML"},
  };
  for (const auto& c : cases) {
    auto config = ParseSimConfig(c.text, "sim.yaml");
    ASSERT_FALSE(config.ok()) << c.text;
    EXPECT_NE(config.error().message.find(c.expected), std::string::npos)
        << c.text << " -> " << config.error().message;
    EXPECT_EQ(config.error().message.rfind("sim.yaml", 0), 0u) << config.error().message;
  }
}

}  // namespace
}  // namespace flexai::device_plugin

namespace flexai::device_plugin {
namespace {

TEST(SimBackend, AChipRemovedFromTheFileIsUnhealthyAndAnAddedOneWaitsForARestart) {
  testing::TempDir dir;
  const std::string file = dir.File("sim.yaml");
  testing::WriteFileAtomically(file, "chips: [{uuid: a, memoryMiB: 1}, {uuid: b, memoryMiB: 1}]\n");
  SimBackend backend(file, "n1");
  ASSERT_TRUE(backend.Discover().ok());
  testing::WriteFileAtomically(file,
                               "chips: [{uuid: a, memoryMiB: 1}, {uuid: c, memoryMiB: 64}]\n");
  auto health = backend.CheckHealth();
  ASSERT_TRUE(health.ok()) << health.error().message;
  EXPECT_EQ(health->at("a"), partition::Health::kHealthy);
  EXPECT_EQ(health->at("b"), partition::Health::kUnhealthy);
  EXPECT_FALSE(health->contains("c"));
}

}  // namespace
}  // namespace flexai::device_plugin
