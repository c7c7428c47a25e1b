// The DCMI backend against the fake libdcmi (test/fakes/fake_dcmi.cc).
#include "device_plugin/backend/ascend/ascend_backend.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "device_plugin/backend/cpu_affinity.h"
#include "device_plugin/backend/pci_numa.h"

#include "log_capture.h"
#include "sim_file.h"
#include "test_kubelet.h"

namespace flexai::device_plugin {
namespace {

using testing::TempDir;

const char* kTwoCards = R"({"cards": [
  {"id": 3, "chips": [
    {"logicId": 0, "name": "910B3", "aicore": 20, "hbmMiB": 65536, "die": [1, 2, 3, 4, 5]},
    {"logicId": 1, "name": "910B3", "aicore": 20, "hbmMiB": 65536, "die": [6, 7, 8, 9, 10]}]},
  {"id": 5, "chips": [
    {"logicId": 2, "name": "310P3", "aicore": 8, "memoryMiB": 21527, "die": [11, 12, 13, 14, 15]}]}
]})";

class AscendBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = dir_.File("dcmi.json");
    testing::WriteFileAtomically(config_, kTwoCards);
    setenv("FAKE_DCMI_CONFIG", config_.c_str(), 1);
  }
  void TearDown() override { unsetenv("FAKE_DCMI_CONFIG"); }

  TempDir dir_;
  std::string config_;
  AscendBackend backend_{FAKE_DCMI_LIB};
};

TEST_F(AscendBackendTest, DiscoversChipsOnEveryCard) {
  auto chips = backend_.Discover();
  ASSERT_TRUE(chips.ok()) << chips.error().message;
  ASSERT_EQ(chips->size(), 3u);
  EXPECT_EQ((*chips)[0].uuid, "Ascend-00000001-00000002-00000003-00000004-00000005");
  EXPECT_EQ((*chips)[0].model, "910B3");
  EXPECT_EQ((*chips)[0].memory_mib, 65536);  // HBM, not the small DDR figure
  EXPECT_EQ((*chips)[0].vendor, partition::Vendor::kAscend);
  EXPECT_EQ((*chips)[0].link_group, 0);
  EXPECT_EQ((*chips)[1].link_group, 0);
  EXPECT_EQ((*chips)[2].memory_mib, 21527);  // no HBM: device memory
  EXPECT_EQ((*chips)[2].link_group, -1);
  EXPECT_EQ((*chips)[2].index, 2);
  EXPECT_EQ((*chips)[0].compute_units, 20);  // AI cores, as DCMI reports them
  EXPECT_EQ((*chips)[2].compute_units, 8);
}

TEST_F(AscendBackendTest, VisibleDevicesAreLogicIds) {
  auto chips = backend_.Discover();
  ASSERT_TRUE(chips.ok());
  EXPECT_EQ(backend_.VisibleDevicesEnv({(*chips)[2], (*chips)[0]}).at("ASCEND_VISIBLE_DEVICES"),
            "2,0");
}

TEST_F(AscendBackendTest, HealthFollowsDcmiAndRecovers) {
  ASSERT_TRUE(backend_.Discover().ok());
  std::string sick = kTwoCards;
  sick.replace(sick.find(R"("logicId": 1,)"), 13, R"("logicId": 1, "health": 3,)");
  testing::WriteFileAtomically(config_, sick);
  auto report = backend_.CheckHealth();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->at("Ascend-00000006-00000007-00000008-00000009-0000000A"),
            partition::Health::kUnhealthy);
  EXPECT_EQ(report->at("Ascend-00000001-00000002-00000003-00000004-00000005"),
            partition::Health::kHealthy);
  testing::WriteFileAtomically(config_, kTwoCards);
  EXPECT_EQ(backend_.CheckHealth()->at("Ascend-00000006-00000007-00000008-00000009-0000000A"),
            partition::Health::kHealthy);
}

TEST_F(AscendBackendTest, DcmiErrorsNameTheCallAndChip) {
  testing::WriteFileAtomically(
      config_,
      R"({"cards": [{"id": 0, "chips": [{"errors": {"dcmi_get_device_chip_info": -8005}}]}]})");
  auto chips = backend_.Discover();
  ASSERT_FALSE(chips.ok());
  EXPECT_NE(chips.error().message.find(
                "NPU card 0 device 0: dcmi_get_device_chip_info failed with -8005"),
            std::string::npos)
      << chips.error().message;
}

TEST_F(AscendBackendTest, AChipThatCannotBeReadIsLeftOutAndTheOthersServed) {
  testing::WriteFileAtomically(config_, R"({"cards": [
    {"id": 0, "chips": [{"logicId": 0, "name": "910B3", "die": [1, 1, 1, 1, 1]},
                        {"logicId": 1, "name": "910B3",
                         "errors": {"dcmi_get_device_chip_info": -8005}}]},
    {"id": 1, "chips": [{"logicId": 2, "name": "910B3", "die": [2, 2, 2, 2, 2]}]}]})");
  auto chips = backend_.Discover();
  ASSERT_TRUE(chips.ok()) << chips.error().message;
  ASSERT_EQ(chips->size(), 2u);
  EXPECT_EQ((*chips)[0].uuid, "Ascend-00000001-00000001-00000001-00000001-00000001");
  EXPECT_EQ((*chips)[1].uuid, "Ascend-00000002-00000002-00000002-00000002-00000002");
  EXPECT_EQ((*chips)[1].index, 1);  // no gap
  auto health = backend_.CheckHealth();
  ASSERT_TRUE(health.ok());
  EXPECT_EQ(health->size(), 2u);
}

// ASCEND_VISIBLE_DEVICES names logic IDs: a chip whose ID cannot be read, or that shares one or
// its UUID with another, is left out rather than handed out as the other one.
TEST_F(AscendBackendTest, AChipWithoutItsOwnLogicIdOrUuidIsLeftOut) {
  testing::WriteFileAtomically(config_, R"({"cards": [{"id": 0, "chips": [
    {"logicId": 5, "name": "910B3", "die": [9, 9, 9, 9, 1],
     "errors": {"dcmi_get_device_logic_id": -8001}},
    {"logicId": 0, "name": "910B3", "die": [9, 9, 9, 9, 2]},
    {"logicId": 0, "name": "910B3", "die": [9, 9, 9, 9, 3]},
    {"logicId": 1, "name": "910B3", "die": [9, 9, 9, 9, 2]},
    {"logicId": 2, "name": "910B3", "die": [9, 9, 9, 9, 4]}]}]})");
  auto chips = backend_.Discover();
  ASSERT_TRUE(chips.ok()) << chips.error().message;
  ASSERT_EQ(chips->size(), 2u);
  EXPECT_EQ((*chips)[0].uuid, "Ascend-00000009-00000009-00000009-00000009-00000002");
  EXPECT_EQ((*chips)[1].uuid, "Ascend-00000009-00000009-00000009-00000009-00000004");
  EXPECT_EQ(backend_.VisibleDevicesEnv(*chips).at("ASCEND_VISIBLE_DEVICES"), "0,2");
}

TEST_F(AscendBackendTest, MemoryNoNpuHasLeavesTheChipOut) {
  testing::WriteFileAtomically(config_, R"({"cards": [{"id": 0, "chips": [
    {"logicId": 0, "name": "910B3", "hbmMiB": 0, "memoryMiB": 0, "die": [1, 1, 1, 1, 1]},
    {"logicId": 1, "name": "910B3", "hbmMiB": 18446744073709551615, "die": [1, 1, 1, 1, 2]},
    {"logicId": 2, "name": "910B3", "hbmMiB": 65536, "die": [1, 1, 1, 1, 3]}]}]})");
  auto chips = backend_.Discover();
  ASSERT_TRUE(chips.ok()) << chips.error().message;
  ASSERT_EQ(chips->size(), 1u);
  EXPECT_EQ((*chips)[0].memory_mib, 65536);
}

// A chip vanishing from a card renumbers the chips after it: health follows each chip by its die
// ID, not by the position it had.
TEST_F(AscendBackendTest, AVanishedChipIsUnhealthyAndTheOneThatMovedUpStaysHealthy) {
  ASSERT_TRUE(backend_.Discover().ok());
  const std::string first = "Ascend-00000001-00000002-00000003-00000004-00000005";
  const std::string second = "Ascend-00000006-00000007-00000008-00000009-0000000A";
  testing::WriteFileAtomically(config_, R"({"cards": [
    {"id": 3, "chips": [
      {"logicId": 0, "name": "910B3", "aicore": 20, "hbmMiB": 65536, "die": [6, 7, 8, 9, 10]}]},
    {"id": 5, "chips": [
      {"logicId": 2, "name": "310P3", "aicore": 8, "memoryMiB": 21527, "die": [11, 12, 13, 14, 15]}]}
  ]})");
  auto report = backend_.CheckHealth();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->at(first), partition::Health::kUnhealthy);
  EXPECT_EQ(report->at(second), partition::Health::kHealthy);
  partition::Chip moved;
  moved.uuid = second;
  EXPECT_EQ(backend_.VisibleDevicesEnv({moved}).at("ASCEND_VISIBLE_DEVICES"), "0");
  testing::WriteFileAtomically(config_, kTwoCards);  // back in its slot
  report = backend_.CheckHealth();
  EXPECT_EQ(report->at(first), partition::Health::kHealthy);
  EXPECT_EQ(report->at(second), partition::Health::kHealthy);
  EXPECT_EQ(backend_.VisibleDevicesEnv({moved}).at("ASCEND_VISIBLE_DEVICES"), "1");
}

// A chip named by its position (no die ID from DCMI) is asked for its health there, as before.
TEST_F(AscendBackendTest, AChipWithoutADieIdKeepsItsHealthByPosition) {
  testing::WriteFileAtomically(config_, R"({"cards": [{"id": 0, "chips": [
    {"logicId": 0, "name": "910B3"}, {"logicId": 1, "name": "910B3", "die": [1, 1, 1, 1, 1]}]}]})");
  ASSERT_TRUE(backend_.Discover().ok());
  for (int check = 0; check < 2; ++check) {
    auto report = backend_.CheckHealth();
    ASSERT_TRUE(report.ok());
    EXPECT_EQ(report->at("Ascend-card0-dev0"), partition::Health::kHealthy) << check;
    EXPECT_EQ(report->at("Ascend-00000001-00000001-00000001-00000001-00000001"),
              partition::Health::kHealthy);
  }
}

// A chip that moved up but whose new logic ID cannot be read is not served under its old one
// (which another chip may have now).
TEST_F(AscendBackendTest, AMovedChipWithoutAFreshLogicIdIsUnhealthy) {
  ASSERT_TRUE(backend_.Discover().ok());
  testing::WriteFileAtomically(config_, R"({"cards": [
    {"id": 3, "chips": [
      {"logicId": 0, "name": "910B3", "hbmMiB": 65536, "die": [6, 7, 8, 9, 10],
       "errors": {"dcmi_get_device_logic_id": -8001}}]},
    {"id": 5, "chips": [
      {"logicId": 2, "name": "310P3", "memoryMiB": 21527, "die": [11, 12, 13, 14, 15]}]}]})");
  testing::LogCapture log;
  for (int check = 0; check < 3; ++check) {  // not served again a check later either
    auto report = backend_.CheckHealth();
    ASSERT_TRUE(report.ok());
    EXPECT_EQ(report->at("Ascend-00000006-00000007-00000008-00000009-0000000A"),
              partition::Health::kUnhealthy)
        << check;
    EXPECT_EQ(report->at("Ascend-0000000B-0000000C-0000000D-0000000E-0000000F"),
              partition::Health::kHealthy);
  }
  // Checks run four times a second: the reason is logged once, not on every one.
  EXPECT_EQ(log.Count(spdlog::level::err, "where its logic ID cannot be read"), 1) << log.All();
}

// A chip that moved onto the logic ID of a chip named by its position is the one left out; the
// other keeps being served.
TEST_F(AscendBackendTest, ALogicIdClashLeavesOutTheChipThatMoved) {
  testing::WriteFileAtomically(config_, R"({"cards": [{"id": 0, "chips": [
    {"logicId": 0, "name": "910B3"},
    {"logicId": 1, "name": "910B3", "die": [1, 1, 1, 1, 1]},
    {"logicId": 2, "name": "910B3", "die": [2, 2, 2, 2, 2]}]}]})");
  ASSERT_TRUE(backend_.Discover().ok());
  testing::WriteFileAtomically(config_, R"({"cards": [{"id": 0, "chips": [
    {"logicId": 0, "name": "910B3"},
    {"logicId": 0, "name": "910B3", "die": [2, 2, 2, 2, 2]}]}]})");
  for (int check = 0; check < 2; ++check) {
    auto report = backend_.CheckHealth();
    ASSERT_TRUE(report.ok());
    EXPECT_EQ(report->at("Ascend-card0-dev0"), partition::Health::kHealthy) << check;
    EXPECT_EQ(report->at("Ascend-00000001-00000001-00000001-00000001-00000001"),
              partition::Health::kUnhealthy);
    EXPECT_EQ(report->at("Ascend-00000002-00000002-00000002-00000002-00000002"),
              partition::Health::kUnhealthy);
  }
}

// A chip named by its position cannot be followed when the chips of its card move up: when its
// place reports another logic ID, it is another chip there, so it is not served as this one.
TEST_F(AscendBackendTest, AChipWithoutADieIdWhosePlaceReportsAnotherLogicIdIsUnhealthy) {
  testing::WriteFileAtomically(config_, R"({"cards": [{"id": 1, "chips": [
    {"logicId": 4, "name": "910B3"}, {"logicId": 5, "name": "910B3"}]}]})");
  ASSERT_TRUE(backend_.Discover().ok());
  testing::WriteFileAtomically(config_, R"({"cards": [{"id": 1, "chips": [
    {"logicId": 5, "name": "910B3"}]}]})");
  auto report = backend_.CheckHealth();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->at("Ascend-card1-dev0"), partition::Health::kUnhealthy);
  EXPECT_EQ(report->at("Ascend-card1-dev1"), partition::Health::kUnhealthy);
}

// Of two chips with die IDs sharing a logic ID, the one renumbered onto it is left out.
TEST_F(AscendBackendTest, AChipRenumberedOntoAnotherChipsLogicIdIsTheOneLeftOut) {
  ASSERT_TRUE(backend_.Discover().ok());  // logic IDs 0, 1 (card 3) and 2 (card 5)
  testing::WriteFileAtomically(config_, R"({"cards": [
    {"id": 3, "chips": [
      {"logicId": 2, "name": "910B3", "hbmMiB": 65536, "die": [6, 7, 8, 9, 10]}]},
    {"id": 5, "chips": [
      {"logicId": 2, "name": "310P3", "memoryMiB": 21527, "die": [11, 12, 13, 14, 15]}]}]})");
  for (int check = 0; check < 2; ++check) {
    auto report = backend_.CheckHealth();
    ASSERT_TRUE(report.ok());
    EXPECT_EQ(report->at("Ascend-00000006-00000007-00000008-00000009-0000000A"),
              partition::Health::kUnhealthy)
        << check;
    EXPECT_EQ(report->at("Ascend-0000000B-0000000C-0000000D-0000000E-0000000F"),
              partition::Health::kHealthy)
        << check;
  }
}

TEST_F(AscendBackendTest, InitFailureIsAClearError) {
  testing::WriteFileAtomically(config_, R"({"init": -8012})");
  auto chips = backend_.Discover();
  ASSERT_FALSE(chips.ok());
  EXPECT_NE(chips.error().message.find("dcmi_init failed with -8012"), std::string::npos);
}

TEST_F(AscendBackendTest, NumaNodeAndCpusComeFromTheChipsPciDeviceInSysfs) {
  testing::WriteFileAtomically(config_, R"({"cards": [{"id": 0, "chips": [
    {"logicId": 0, "name": "910B3", "pci": [0, 193, 0, 0]},
    {"logicId": 1, "name": "910B3", "pci": [0, 1, 0, 0]},
    {"logicId": 2, "name": "910B3"}]}]})");
  // Chip 0 is at 0000:c1:00.0 on node 1; chip 1's device has no numa_node file; chip 2's DCMI
  // cannot say where it is.
  std::filesystem::create_directories(dir_.File("sys/bus/pci/devices/0000:c1:00.0"));
  std::ofstream(dir_.File("sys/bus/pci/devices/0000:c1:00.0/numa_node")) << "1\n";
  std::ofstream(dir_.File("sys/bus/pci/devices/0000:c1:00.0/local_cpulist")) << "48-95\n";
  AscendBackend backend(FAKE_DCMI_LIB, dir_.File("sys"));
  auto chips = backend.Discover();
  ASSERT_TRUE(chips.ok()) << chips.error().message;
  EXPECT_EQ((*chips)[0].numa_node, 1);
  EXPECT_EQ((*chips)[0].cpu_affinity, "48-95");
  EXPECT_EQ((*chips)[1].numa_node, -1);
  EXPECT_EQ((*chips)[1].cpu_affinity, "");
  EXPECT_EQ((*chips)[2].numa_node, -1);
}

TEST(CpuAffinity, MaskBecomesACpuList) {
  EXPECT_EQ(CpuListFromMask({}), "");
  EXPECT_EQ(CpuListFromMask({0}), "");
  EXPECT_EQ(CpuListFromMask({0b1}), "0");
  EXPECT_EQ(CpuListFromMask({0b10110111}), "0-2,4-5,7");
  EXPECT_EQ(CpuListFromMask({~0UL, 1}), "0-64");  // a run across two words
  EXPECT_EQ(CpuListFromMask({0, 1UL << 63}), "127");
}

TEST(CpuAffinity, SysfsLocalCpuListMustBeACpuList) {
  TempDir dir;
  std::filesystem::create_directories(dir.File("sys/bus/pci/devices/0000:01:00.0"));
  std::ofstream(dir.File("sys/bus/pci/devices/0000:01:00.0/local_cpulist")) << "garbage\n";
  EXPECT_EQ(PciLocalCpuList(dir.File("sys"), "0000:01:00.0"), "");
  EXPECT_EQ(PciLocalCpuList(dir.File("sys"), "0000:02:00.0"), "");
  EXPECT_EQ(PciLocalCpuList(dir.File("sys"), ""), "");
}

TEST(PciNumaNode, BusIdIsSpelledAsSysfsDoes) {
  EXPECT_EQ(PciBusId(0, 0xc1, 0, 0), "0000:c1:00.0");
  EXPECT_EQ(PciBusId(0x10, 0x3a, 0x1f, 7), "0010:3a:1f.7");
  EXPECT_EQ(PciBusId(0x10000, 0xe1, 0, 0), "10000:e1:00.0");  // VMD domains have 5 digits
}

TEST(AscendTopology, LinkGroupsByModel) {
  EXPECT_EQ(AscendBackend::LinkGroupFor("910B4", 7), 0);
  EXPECT_EQ(AscendBackend::LinkGroupFor("910", 5), 1);
  EXPECT_EQ(AscendBackend::LinkGroupFor("310P3", 0), -1);
  EXPECT_TRUE(AscendBackend::IsHealthy(1));
  EXPECT_FALSE(AscendBackend::IsHealthy(2));
}

}  // namespace
}  // namespace flexai::device_plugin
