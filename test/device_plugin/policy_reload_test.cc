// The daemon, in-process, reloading its slice policy: a good policy is applied and its device
// count streamed to kubelet; a broken one is refused with the old settings kept, an error and a
// Warning Event on the node.
#include <gtest/gtest.h>

#include "device_plugin/backend/sim/sim_backend.h"
#include "device_plugin/daemon.h"
#include "device_plugin/settings_loader.h"
#include "fake_cluster_client.h"
#include "sim_daemon_options.h"
#include "sim_file.h"
#include "test_kubelet.h"

namespace flexai::device_plugin {
namespace {

using namespace std::chrono_literals;
using testing::DeviceListWatcher;
using testing::FakeClusterClient;
using testing::TempDir;
using testing::TestKubelet;

std::string Policy(const std::string& sharing) {
  return "apiVersion: flexai.io/v1\nkind: SlicePolicy\nsharing:\n" + sharing;
}

// A sim-backed daemon of node n1 in `dir`, with a policy that the tests reload by hand.
DaemonOptions SimOptions(const TempDir& dir, const std::string& sim, const std::string& policy) {
  DaemonOptions options = testing::SimDaemonOptions(dir.path(), sim);
  options.policy = policy;
  options.policy_poll_seconds = 0;
  options.mps_dir = dir.File("mps");  // its shm folder is not this process's /dev/shm
  return options;
}

class PolicyReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sim_file_ = dir_.File("sim.yaml");
    policy_file_ = dir_.File("policy.yaml");
    testing::WriteFileAtomically(sim_file_, testing::FourChipSimFile());
    testing::WriteFileAtomically(policy_file_, Policy("  maxSlicesPerChip: 4\n"));
    kubelet_.Start();
    DaemonOptions options = SimOptions(dir_, sim_file_, policy_file_);
    auto cluster = std::make_unique<FakeClusterClient>();
    cluster_ = cluster.get();
    const std::string policy = policy_file_;
    const std::string shared = dir_.File("shared");
    auto daemon = Daemon::Create(options, std::make_unique<SimBackend>(sim_file_, "n1"),
                                 std::move(cluster), [policy, shared](partition::Vendor vendor) {
                                   auto settings = LoadPluginSettings(policy, vendor, {});
                                   if (settings) settings->shared_host_dir = shared;
                                   return settings;
                                 });
    ASSERT_TRUE(daemon.ok()) << daemon.error().message;
    daemon_ = std::move(*daemon);
    ASSERT_TRUE(daemon_->Start().ok());
    ASSERT_TRUE(kubelet_.WaitForRegistrations(1, 10s));
  }

  TempDir dir_;
  std::string sim_file_, policy_file_;
  TestKubelet kubelet_{dir_.path()};
  FakeClusterClient* cluster_ = nullptr;
  std::unique_ptr<Daemon> daemon_;
};

TEST_F(PolicyReloadTest, NewMaxSlicesIsAppliedAndStreamedToKubelet) {
  DeviceListWatcher watcher(kubelet_.PluginStub());
  ASSERT_TRUE(watcher.WaitFor([](const auto& l) { return l.devices_size() == 16; }));
  testing::WriteFileAtomically(policy_file_,
                               Policy("  maxSlicesPerChip: 2\n  isolationMode: none\n"));
  Status reloaded = daemon_->ReloadPolicy();
  ASSERT_TRUE(reloaded.ok()) << reloaded.message();
  EXPECT_EQ(daemon_->settings()->max_slices_per_chip, 2);
  EXPECT_EQ(daemon_->settings()->isolation, IsolationMode::kNone);
  EXPECT_EQ(daemon_->settings()->shared_host_dir, dir_.File("shared"));  // host paths stay
  auto list = watcher.WaitFor([](const auto& l) { return l.devices_size() == 8; });
  ASSERT_TRUE(list.has_value());
  EXPECT_EQ(list->devices(7).id(), "GPU-t-3::1");
  EXPECT_TRUE(cluster_->events().empty());
}

TEST(NodeLabelReloadTest, ALabelChangeSelectsTheMatchingNodeOverride) {
  TempDir dir;
  const std::string sim = dir.File("sim.yaml"), policy = dir.File("policy.yaml");
  testing::WriteFileAtomically(sim, testing::FourChipSimFile());
  testing::WriteFileAtomically(policy, Policy("  maxSlicesPerChip: 4\n") +
                                           "nodeOverrides:\n  - selector:\n      matchLabels: "
                                           "{flexai.io/pool: training}\n    maxSlicesPerChip: 2\n");
  TestKubelet kubelet{dir.path()};
  kubelet.Start();
  DaemonOptions options = SimOptions(dir, sim, policy);
  auto cluster = std::make_unique<FakeClusterClient>();
  FakeClusterClient* fake = cluster.get();
  // As main.cc does: the labels are read each time the settings are.
  auto daemon =
      Daemon::Create(options, std::make_unique<SimBackend>(sim, "n1"), std::move(cluster),
                     [fake, policy](partition::Vendor vendor) {
                       auto labels = fake->NodeLabels("n1");
                       return LoadPluginSettings(
                           policy, vendor, labels ? *labels : std::map<std::string, std::string>{});
                     });
  ASSERT_TRUE(daemon.ok()) << daemon.error().message;
  ASSERT_TRUE((*daemon)->Start().ok());
  EXPECT_EQ((*daemon)->settings()->max_slices_per_chip, 4);
  EXPECT_FALSE((*daemon)->CheckNodeLabels());  // the first read only records them
  EXPECT_FALSE((*daemon)->CheckNodeLabels());  // unchanged
  fake->SetNodeLabels("n1", {{"flexai.io/pool", "training"}});
  EXPECT_TRUE((*daemon)->CheckNodeLabels());
  EXPECT_EQ((*daemon)->settings()->max_slices_per_chip, 2);
  fake->SetNodeLabels("n1", {{"flexai.io/pool", "inference"}});
  EXPECT_TRUE((*daemon)->CheckNodeLabels());
  EXPECT_EQ((*daemon)->settings()->max_slices_per_chip, 4);
  fake->SetUnavailable(true);  // an unreadable label set changes nothing
  EXPECT_FALSE((*daemon)->CheckNodeLabels());
  EXPECT_EQ((*daemon)->settings()->max_slices_per_chip, 4);
  (*daemon)->Stop();
}

TEST_F(PolicyReloadTest, BrokenPolicyIsRefusedAndTheOldOneKeptWithAnEventOnTheNode) {
  testing::WriteFileAtomically(policy_file_, Policy("  maxSlicesPerChip: 0\n"));
  Status reloaded = daemon_->ReloadPolicy();
  ASSERT_FALSE(reloaded.ok());
  EXPECT_NE(reloaded.message().find("previous policy kept"), std::string::npos);
  EXPECT_NE(reloaded.message().find("maxSlicesPerChip"), std::string::npos) << reloaded.message();
  EXPECT_EQ(daemon_->settings()->max_slices_per_chip, 4);
  auto events = cluster_->events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].node, "n1");
  EXPECT_EQ(events[0].type, "Warning");
  EXPECT_EQ(events[0].reason, "FlexaiPolicyRejected");
  EXPECT_EQ(events[0].message, reloaded.message());
  // Device IDs of the kept policy are still served.
  DeviceListWatcher watcher(kubelet_.PluginStub());
  EXPECT_TRUE(watcher.WaitFor([](const auto& l) { return l.devices_size() == 16; }));
}

TEST_F(PolicyReloadTest, ASwitchToMpsThatCannotStartIsRefusedLikeABrokenPolicy) {
  // The sim chips say nvidia, so MPS applies; its shared memory is not /dev/shm here.
  testing::WriteFileAtomically(policy_file_,
                               Policy("  maxSlicesPerChip: 2\n  isolationMode: mps\n"));
  Status reloaded = daemon_->ReloadPolicy();
  ASSERT_FALSE(reloaded.ok());
  EXPECT_NE(reloaded.message().find("previous policy kept"), std::string::npos);
  EXPECT_NE(reloaded.message().find("/dev/shm"), std::string::npos) << reloaded.message();
  EXPECT_EQ(daemon_->settings()->isolation, IsolationMode::kHook);
  EXPECT_EQ(daemon_->settings()->max_slices_per_chip, 4);
  auto events = cluster_->events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].reason, "FlexaiPolicyRejected");
  EXPECT_EQ(events[0].message, reloaded.message());
}

TEST_F(PolicyReloadTest, AResourceRenameWaitsForARestartTheRestApplies) {
  testing::WriteFileAtomically(policy_file_,
                               "apiVersion: flexai.io/v1\nkind: SlicePolicy\nresources:\n  gpu:\n"
                               "    count: example.com/gpu\nsharing:\n  maxSlicesPerChip: 3\n");
  Status reloaded = daemon_->ReloadPolicy();
  ASSERT_TRUE(reloaded.ok()) << reloaded.message();
  EXPECT_EQ(daemon_->settings()->resource_name, "flexai.io/gpu");
  EXPECT_EQ(daemon_->settings()->max_slices_per_chip, 3);
}

}  // namespace
}  // namespace flexai::device_plugin
