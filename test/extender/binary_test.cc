// The real hi-scheduler binary, started with the flags the Helm chart uses, against the fake
// apiserver: kubeconfig, HTTPS with --tls-cert/--tls-key (verified by the flexai client with the
// certificate as CA), leader election, clean shutdown on SIGTERM, and refusal of bad flags.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "fake_apiserver.h"
#include "kube/client.h"
#include "test_objects.h"

extern char** environ;

namespace flexai::extender {
namespace {

using testing::Json;

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

pid_t Spawn(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return -1;
  return pid;
}

int WaitExit(pid_t pid) {
  int status = 0;
  for (int i = 0; i < 1500; ++i) {  // bounded: a hang fails the test instead of blocking ctest
    if (waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return -2;
}

class BinaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("flexai-binary-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    ASSERT_TRUE(apiserver_.Start().ok());
    apiserver_.Create("nodes", "", testing::NodeWithChips("n1", {{"GPU-a", 40000}}));
    kubeconfig_ = (dir_ / "kubeconfig").string();
    std::ofstream(kubeconfig_) << "apiVersion: v1\nkind: Config\ncurrent-context: fake\n"
                                  "contexts: [{name: fake, context: {cluster: fake}}]\n"
                                  "clusters: [{name: fake, cluster: {server: \""
                               << apiserver_.url() << "\"}}]\n";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path dir_;
  fake::FakeApiServer apiserver_;
  std::string kubeconfig_;
};

TEST_F(BinaryTest, ServesTheExtenderOverTlsWithTheChartFlagsAndStopsOnSigterm) {
  if (std::system("command -v openssl >/dev/null 2>&1") != 0) GTEST_SKIP() << "no openssl CLI";
  std::string cert = (dir_ / "tls.crt").string(), key = (dir_ / "tls.key").string();
  std::string make_cert =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
      "-addext subjectAltName=IP:127.0.0.1 -keyout " +
      key + " -out " + cert + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(make_cert.c_str()), 0);
  int port = FreePort();
  pid_t pid = Spawn({HI_SCHEDULER_BINARY, "--kubeconfig", kubeconfig_, "--listen",
                     "127.0.0.1:" + std::to_string(port), "--leader-elect", "--lease-namespace",
                     "kube-system", "--tls-cert", cert, "--tls-key", key, "--log-level", "warn"});
  ASSERT_GT(pid, 0);

  kube::ClusterConfig config = kube::PlainServerConfig("https://127.0.0.1:" + std::to_string(port));
  std::ifstream ca(cert);
  config.ca_pem.assign(std::istreambuf_iterator<char>(ca), std::istreambuf_iterator<char>());
  auto client = std::move(kube::KubeClient::Create(config).value());
  bool ready = false;
  for (int i = 0; i < 500 && !ready; ++i) {
    ready = client->Get("/readyz").status == 200;
    if (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(ready);
  auto filtered =
      client->Post("/filter", {{"Pod", testing::GpuPod("p", 1, 30000)}, {"NodeNames", {"n1"}}});
  EXPECT_EQ(filtered.status, 200) << filtered.error;
  EXPECT_EQ(filtered.body["NodeNames"], Json({"n1"}));
  // The leader lease appears under the chart's default name.
  bool leased = false;
  for (int i = 0; i < 500 && !leased; ++i) {
    leased = apiserver_.Get("leases", "kube-system", "flexai-hi-scheduler").status == 200;
    if (!leased) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(leased);

  // Plain HTTP on the TLS port gets no extender answer.
  auto plain = std::move(
      kube::KubeClient::Create(kube::PlainServerConfig("http://127.0.0.1:" + std::to_string(port)))
          .value());
  EXPECT_NE(plain->Get("/healthz").status, 200);

  client.reset();  // close keep-alive connections so shutdown need not wait for them
  plain.reset();
  kill(pid, SIGTERM);
  EXPECT_EQ(WaitExit(pid), 0);
}

TEST_F(BinaryTest, RefusesBadFlagsWithANonZeroExit) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {HI_SCHEDULER_BINARY, "--kubeconfig", kubeconfig_, "--listen", "nonsense"},
           {HI_SCHEDULER_BINARY, "--kubeconfig", kubeconfig_, "--node-stale-seconds", "-5"},
           {HI_SCHEDULER_BINARY, "--kubeconfig", (dir_ / "missing").string()},
           {HI_SCHEDULER_BINARY, "--kubeconfig", kubeconfig_, "--policy",
            (dir_ / "missing-policy.yaml").string()},
           {HI_SCHEDULER_BINARY, "--kubeconfig", kubeconfig_, "--tls-cert", "/nonexistent",
            "--tls-key", "/nonexistent", "--listen", "127.0.0.1:0"},
           {HI_SCHEDULER_BINARY, "--no-such-flag"}}) {
    pid_t pid = Spawn(args);
    ASSERT_GT(pid, 0);
    int code = WaitExit(pid);
    EXPECT_NE(code, 0) << args.back();
    EXPECT_NE(code, -2) << "hung: " << args.back();
  }
}

}  // namespace
}  // namespace flexai::extender
