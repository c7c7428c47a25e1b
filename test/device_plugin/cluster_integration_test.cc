// The real binary against the fake API server (tools/fake_apiserver) and the test kubelet: the
// inventory and heartbeat reach the node object, Allocate completes the pod the Hi Scheduler
// bound (bind-phase allocating -> success) or refuses without a matching assignment, a repeated
// Allocate gets the same answer after a restart, and a refused policy leaves an Event.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "child_process.h"
#include "device_plugin/assignment_matcher.h"
#include "fake_apiserver.h"
#include "sim_file.h"
#include "test_kubelet.h"

namespace flexai::device_plugin {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::ChildProcess;
using testing::Eventually;
using testing::TempDir;
using testing::TestKubelet;

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto port = api_.Start();
    ASSERT_TRUE(port.ok()) << port.error().message;
    api_.Create("nodes", "",
                {{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", "n1"}}}});
    std::ofstream(dir_.File("kubeconfig"))
        << "apiVersion: v1\nkind: Config\n"
        << "clusters: [{name: fake, cluster: {server: \"" << api_.url() << "\"}}]\n"
        << "users: [{name: u, user: {}}]\n"
        << "contexts: [{name: c, context: {cluster: fake, user: u}}]\n"
        << "current-context: c\n";
    testing::WriteFileAtomically(dir_.File("sim.yaml"), testing::FourChipSimFile());
    testing::WriteFileAtomically(dir_.File("policy.yaml"), kPolicy + "  maxSlicesPerChip: 8\n");
    kubelet_.Start();
    StartDaemon();
    ASSERT_TRUE(kubelet_.WaitForRegistrations(1, 20s)) << DaemonLog();
  }

  // Each start logs to a file of its own (daemon.log, daemon-2.log, ...).
  void StartDaemon() {
    ++starts_;
    daemon_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{FLEXAI_DEVICE_PLUGIN_BIN, "--backend", "sim", "--sim-config",
                                 dir_.File("sim.yaml"), "--device-plugin-dir", dir_.path(),
                                 "--node-name", "n1", "--kubeconfig", dir_.File("kubeconfig"),
                                 "--policy", dir_.File("policy.yaml"), "--policy-poll-seconds", "1",
                                 "--metrics-listen", ""},
        std::map<std::string, std::string>{}, LogFile());
  }

  std::string LogFile() const {
    return dir_.File(starts_ == 1 ? "daemon.log" : "daemon-" + std::to_string(starts_) + ".log");
  }

  std::string DaemonLog() const {
    std::ifstream in(LogFile());
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  static inline const std::string kPolicy =
      "apiVersion: flexai.io/v1\nkind: SlicePolicy\nsharing:\n";
  int starts_ = 0;

  void AddPendingPod(const std::string& name, const std::string& assignment) {
    api_.Create("pods", "default",
                {{"apiVersion", "v1"},
                 {"kind", "Pod"},
                 {"metadata",
                  {{"name", name},
                   {"namespace", "default"},
                   {"annotations",
                    {{"flexai.io/assignment", assignment},
                     {"flexai.io/bind-phase", "allocating"},
                     // Bound now: a repeat after a restart is bounded by the bind time.
                     {"flexai.io/bind-time", FormatRfc3339(std::chrono::system_clock::now())}}}}},
                 {"spec", {{"nodeName", "n1"}, {"containers", {{{"name", "main"}}}}}},
                 {"status", {{"phase", "Pending"}}}});
  }

  std::string PodAnnotation(const std::string& name, const std::string& key) {
    auto reply = api_.Get("pods", "default", name);
    return reply.body["metadata"]["annotations"].value(key, "");
  }

  grpc::Status Allocate(const std::vector<std::string>& ids, v1beta1::AllocateResponse& response) {
    v1beta1::AllocateRequest request;
    auto* container = request.add_container_requests();
    for (const auto& id : ids) container->add_devices_ids(id);
    grpc::ClientContext context;
    return kubelet_.PluginStub()->Allocate(&context, request, &response);
  }

  TempDir dir_;
  fake::FakeApiServer api_;
  TestKubelet kubelet_{dir_.path()};
  std::unique_ptr<ChildProcess> daemon_;
};

TEST_F(ClusterTest, PublishesInventoryAndHeartbeatOnItsNode) {
  ASSERT_TRUE(Eventually(
      [&] {
        auto node = api_.Get("nodes", "", "n1").body;
        return node["metadata"].contains("annotations") &&
               node["metadata"]["annotations"].contains("flexai.io/heartbeat");
      },
      20s))
      << DaemonLog();
  auto annotations = api_.Get("nodes", "", "n1").body["metadata"]["annotations"];
  auto inventory = json::parse(annotations["flexai.io/inventory"].get<std::string>());
  EXPECT_EQ(inventory["version"], 1);
  ASSERT_EQ(inventory["chips"].size(), 4u);
  EXPECT_EQ(inventory["chips"][1]["uuid"], "GPU-t-1");
  EXPECT_EQ(inventory["chips"][1]["health"], "Healthy");
}

TEST_F(ClusterTest, AllocateCompletesTheBoundPod) {
  AddPendingPod("infer", "node=n1;cpu=500;mem=1024|main=GPU-t-3:4096:25");
  v1beta1::AllocateResponse response;
  grpc::Status status = Allocate({"GPU-t-0::7"}, response);
  ASSERT_TRUE(status.ok()) << status.error_message() << "\n" << DaemonLog();
  const auto& envs = response.container_responses(0).envs();
  EXPECT_EQ(envs.at("NVIDIA_VISIBLE_DEVICES"), "GPU-t-3");
  EXPECT_EQ(envs.at("FLEXAI_MEMORY_LIMIT_MIB"), "4096");
  EXPECT_EQ(envs.at("FLEXAI_CORES_LIMIT"), "25");
  EXPECT_EQ(PodAnnotation("infer", "flexai.io/bind-phase"), "success");
}

TEST_F(ClusterTest, AllocateWithoutMatchingAssignmentIsRefused) {
  AddPendingPod("pair", "node=n1;cpu=500;mem=1024|main=GPU-t-0:4096:25,GPU-t-1:4096:25");
  v1beta1::AllocateResponse response;
  grpc::Status status = Allocate({"GPU-t-0::7"}, response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(status.error_message().find("1 chip(s)"), std::string::npos) << status.error_message();
  EXPECT_EQ(PodAnnotation("pair", "flexai.io/bind-phase"), "allocating");
}

TEST_F(ClusterTest, RepeatedAllocateAfterAPluginRestartGetsTheSameAnswer) {
  AddPendingPod("first", "node=n1;cpu=500;mem=1024|main=GPU-t-2:4096:25");
  AddPendingPod("next", "node=n1;cpu=500;mem=1024|main=GPU-t-1:8192:50");
  v1beta1::AllocateResponse answer;
  grpc::Status status = Allocate({"GPU-t-2::3"}, answer);
  ASSERT_TRUE(status.ok()) << status.error_message() << "\n" << DaemonLog();
  EXPECT_EQ(PodAnnotation("first", "flexai.io/device-ids"), "main=GPU-t-2::3");
  // The plugin restarts before kubelet's repeat arrives: only the pod remembers the answer.
  ASSERT_EQ(daemon_->Stop(), 0);
  StartDaemon();
  ASSERT_TRUE(kubelet_.WaitForRegistrations(2, 20s)) << DaemonLog();
  v1beta1::AllocateResponse repeat;
  status = Allocate({"GPU-t-2::3"}, repeat);
  ASSERT_TRUE(status.ok()) << status.error_message() << "\n" << DaemonLog();
  EXPECT_EQ(repeat.container_responses(0).envs().at("NVIDIA_VISIBLE_DEVICES"), "GPU-t-2");
  EXPECT_EQ(repeat.container_responses(0).envs().at("FLEXAI_MEMORY_LIMIT_MIB"), "4096");
  EXPECT_EQ(PodAnnotation("next", "flexai.io/bind-phase"), "allocating");
}

TEST_F(ClusterTest, RefusedPolicyIsAWarningEventOnTheNode) {
  testing::WriteFileAtomically(dir_.File("policy.yaml"), kPolicy + "  maxSlicesPerChip: 0\n");
  json events;
  ASSERT_TRUE(Eventually(
      [&] {
        events =
            api_.store().List(*fake::ResourceByPlural("events"), "default", {}, {}).body["items"];
        return !events.empty();
      },
      20s))
      << DaemonLog();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["type"], "Warning");
  EXPECT_EQ(events[0]["reason"], "FlexaiPolicyRejected");
  EXPECT_EQ(events[0]["source"]["component"], "flexai-device-plugin");
  EXPECT_EQ(events[0]["involvedObject"]["kind"], "Node");
  EXPECT_EQ(events[0]["involvedObject"]["name"], "n1");
  EXPECT_EQ(events[0]["involvedObject"]["uid"],
            api_.Get("nodes", "", "n1").body["metadata"]["uid"]);
  EXPECT_NE(events[0]["message"].get<std::string>().find("sharing.maxSlicesPerChip"),
            std::string::npos);
  EXPECT_NE(DaemonLog().find("policy reload refused, previous policy kept"), std::string::npos);
}

}  // namespace
}  // namespace flexai::device_plugin
