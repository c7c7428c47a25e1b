#include "kubectl_flexai/cluster_source.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "fake_apiserver.h"
#include "fixtures.h"

namespace flexai::kubectl {
namespace {

using testing::InventoryChip;
using testing::Node;
using testing::Pod;

Json PolicyConfigMap(const std::string& policy_yaml) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", "flexai-policy"}, {"namespace", "flexai-system"}}},
          {"data", {{"policy.yaml", policy_yaml}}}};
}

class ClusterSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fake_.Start().ok());
    fake_.Create("nodes", "", Node("gpu-1", {InventoryChip(0, "GPU-a", 80000)}));
    fake_.Create("pods", "team",
                 Pod("team", "quarter", {{"flexai.io/gpu", 1}},
                     "node=gpu-1;cpu=0;mem=0|main=GPU-a:20000:25", "Running"));
    options_.server = fake_.url();
  }
  void TearDown() override { fake_.Stop(); }

  std::unique_ptr<kube::KubeClient> Client() {
    auto client = Connect(options_);
    EXPECT_TRUE(client.ok()) << client.error().message;
    return std::move(client).value();
  }

  fake::FakeApiServer fake_;
  SourceOptions options_;
};

TEST_F(ClusterSourceTest, ReadsNodesAndPodsFromTheApiServer) {
  auto client = Client();
  auto snapshot = FetchSnapshot(*client);
  ASSERT_TRUE(snapshot.ok()) << snapshot.error().message;
  ASSERT_NE(snapshot->FindNode("gpu-1"), nullptr);
  ASSERT_EQ(snapshot->FindNode("gpu-1")->chips.size(), 1u);
  ASSERT_EQ(snapshot->FindNode("gpu-1")->chips[0].slices.size(), 1u);
  EXPECT_EQ(snapshot->FindNode("gpu-1")->chips[0].slices[0].pod, "team/quarter");
}

TEST_F(ClusterSourceTest, ReadsThePolicyFromItsConfigMap) {
  fake_.Create("configmaps", "flexai-system",
               PolicyConfigMap("apiVersion: flexai.io/v1\nkind: SlicePolicy\n"
                               "sharing:\n  maxSlicesPerChip: 3\n"));
  auto client = Client();
  std::string note;
  auto policy = FetchPolicy(*client, options_, note);
  ASSERT_TRUE(policy.ok()) << policy.error().message;
  EXPECT_EQ(policy->sharing.max_slices_per_chip, 3);
  EXPECT_TRUE(note.empty());
}

TEST_F(ClusterSourceTest, FallsBackToDefaultsWithoutTheConfigMapAndSaysSo) {
  auto client = Client();
  std::string note;
  auto policy = FetchPolicy(*client, options_, note);
  ASSERT_TRUE(policy.ok());
  EXPECT_EQ(policy->sharing.max_slices_per_chip,
            partition::DefaultSlicePolicy().sharing.max_slices_per_chip);
  EXPECT_NE(note.find("flexai-system/flexai-policy not found"), std::string::npos) << note;
}

TEST_F(ClusterSourceTest, RefusesABrokenPolicyNamingTheField) {
  fake_.Create("configmaps", "flexai-system",
               PolicyConfigMap("apiVersion: flexai.io/v1\nkind: SlicePolicy\n"
                               "sharing:\n  maxSlicesPerChip: -1\n"));
  auto client = Client();
  std::string note;
  auto policy = FetchPolicy(*client, options_, note);
  ASSERT_FALSE(policy.ok());
  EXPECT_NE(policy.error().message.find("maxSlicesPerChip"), std::string::npos)
      << policy.error().message;
  options_.policy_configmap = "no-slash";
  EXPECT_FALSE(FetchPolicy(*client, options_, note).ok());
}

TEST_F(ClusterSourceTest, FindsTheServerThroughAKubeconfigLikeKubectl) {
  const auto dir = std::filesystem::temp_directory_path() / "kubectl_flexai_kubeconfig_test";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "config").string();
  {
    std::ofstream out(path);
    out << "apiVersion: v1\nkind: Config\n"
        << "clusters: [{name: fake, cluster: {server: \"" << fake_.url() << "\"}}]\n"
        << "users: [{name: me, user: {}}]\n"
        << "contexts: [{name: fake, context: {cluster: fake, user: me, namespace: team}}]\n"
        << "current-context: fake\n";
  }
  ::setenv("KUBECONFIG", (path + ":/nonexistent/other").c_str(), 1);
  EXPECT_EQ(DefaultKubeconfigPath(), path);  // the first file of the list
  SourceOptions options;                     // no --server, no --kubeconfig
  auto client = Connect(options);
  ::unsetenv("KUBECONFIG");
  ASSERT_TRUE(client.ok()) << client.error().message;
  EXPECT_EQ((*client)->config().default_namespace, "team");
  EXPECT_TRUE(FetchSnapshot(**client).ok());
  std::filesystem::remove_all(dir);
}

TEST(ClusterSource, AnUnreachableServerIsAnErrorNotACrash) {
  SourceOptions options;
  options.server = "http://127.0.0.1:1";
  auto client = Connect(options);
  ASSERT_TRUE(client.ok());
  auto snapshot = FetchSnapshot(**client);
  ASSERT_FALSE(snapshot.ok());
  EXPECT_NE(snapshot.error().message.find("/api/v1/nodes"), std::string::npos)
      << snapshot.error().message;
  options.server.clear();
  options.kubeconfig = "/nonexistent/kubeconfig";
  EXPECT_FALSE(Connect(options).ok());
}

}  // namespace
}  // namespace flexai::kubectl
