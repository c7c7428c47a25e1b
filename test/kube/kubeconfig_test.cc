#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "kube/config.h"

namespace flexai::kube {
namespace {

class KubeconfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("flexai-kubeconfig-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    auto p = dir_ / name;
    std::ofstream(p) << text;
    return p.string();
  }
  std::filesystem::path dir_;
};

TEST_F(KubeconfigTest, ReadsServerTokenNamespaceAndInlineCaOfCurrentContext) {
  // "Q0EtUEVN" is base64 of "CA-PEM".
  std::string path = Write("config", R"(
apiVersion: v1
kind: Config
current-context: prod
contexts:
- name: dev
  context: {cluster: dev, user: dev}
- name: prod
  context: {cluster: prod, user: admin, namespace: gpu-jobs}
clusters:
- name: dev
  cluster: {server: "https://dev:6443"}
- name: prod
  cluster:
    server: https://10.0.0.1:6443/
    certificate-authority-data: Q0EtUEVN
users:
- name: admin
  user: {token: abc123}
)");
  auto config = LoadKubeconfig(path);
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->server, "https://10.0.0.1:6443");
  EXPECT_EQ(config->ca_pem, "CA-PEM");
  EXPECT_EQ(config->token, "abc123");
  EXPECT_EQ(config->default_namespace, "gpu-jobs");
  EXPECT_TRUE(config->uses_tls());
}

TEST_F(KubeconfigTest, ReadsClientCertificateFilesRelativeToTheKubeconfig) {
  Write("client.crt", "CERT");
  Write("client.key", "KEY");
  std::string path = Write("config", R"(
current-context: c
contexts: [{name: c, context: {cluster: k, user: u}}]
clusters: [{name: k, cluster: {server: "https://k:6443", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {client-certificate: client.crt, client-key: client.key}}]
)");
  auto config = LoadKubeconfig(path);
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->client_cert_pem, "CERT");
  EXPECT_EQ(config->client_key_pem, "KEY");
  EXPECT_TRUE(config->insecure_skip_verify);
}

TEST_F(KubeconfigTest, NamedContextOverridesCurrentContext) {
  std::string path = Write("config", R"(
current-context: a
contexts: [{name: a, context: {cluster: a}}, {name: b, context: {cluster: b}}]
clusters: [{name: a, cluster: {server: "http://a:1"}}, {name: b, cluster: {server: "http://b:2"}}]
)");
  auto config = LoadKubeconfig(path, "b");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->server, "http://b:2");
}

TEST_F(KubeconfigTest, MissingContextIsAnErrorThatNamesIt) {
  std::string path = Write("config", "current-context: gone\ncontexts: []\nclusters: []\n");
  auto config = LoadKubeconfig(path);
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.error().message.find("\"gone\""), std::string::npos);
}

TEST_F(KubeconfigTest, MalformedYamlIsAnErrorNotACrash) {
  std::string path = Write("config", "contexts: [unclosed\n  : :\n");
  EXPECT_FALSE(LoadKubeconfig(path).ok());
  EXPECT_FALSE(LoadKubeconfig((dir_ / "absent").string()).ok());
}

TEST_F(KubeconfigTest, ExecCredentialsAreRefusedWithAReason) {
  std::string path = Write("config", R"(
current-context: c
contexts: [{name: c, context: {cluster: k, user: u}}]
clusters: [{name: k, cluster: {server: "https://k"}}]
users: [{name: u, user: {exec: {command: aws}}}]
)");
  auto config = LoadKubeconfig(path);
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.error().message.find("exec"), std::string::npos);
}

TEST_F(KubeconfigTest, InClusterConfigReadsTheServiceAccountMount) {
  Write("token", "tok\n");
  Write("ca.crt", "CA");
  Write("namespace", "flexai-system");
  setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
  setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  auto config = InClusterConfig(dir_.string());
  unsetenv("KUBERNETES_SERVICE_HOST");
  unsetenv("KUBERNETES_SERVICE_PORT");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->server, "https://10.96.0.1:443");
  EXPECT_EQ(config->token_file, (dir_ / "token").string());
  EXPECT_EQ(config->ca_pem, "CA");
  EXPECT_EQ(config->default_namespace, "flexai-system");
}

TEST_F(KubeconfigTest, InClusterConfigOutsideAClusterSaysSo) {
  unsetenv("KUBERNETES_SERVICE_HOST");
  auto config = InClusterConfig(dir_.string());
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.error().message.find("--kubeconfig"), std::string::npos);
}

}  // namespace
}  // namespace flexai::kube
