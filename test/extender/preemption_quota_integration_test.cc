// Preemption and namespace quotas end to end: the real hi-scheduler service against the fake
// apiserver. /preempt names the fewest, lowest-priority victims and spares PDB-protected pods;
// a pod over its namespace's quota fails filter on every node with the reason, bind re-checks,
// and after a restart the usage is rebuilt from the pods' annotations.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "extender/service.h"
#include "fake_apiserver.h"
#include "kube/operations.h"
#include "service_harness.h"
#include "test_objects.h"

namespace flexai::extender {
namespace {

using testing::Eventually;
using testing::GpuPod;
using testing::Json;
using testing::NodeWithChips;

class PreemptionQuotaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(apiserver_.Start().ok());
    apiserver_.Create("nodes", "", NodeWithChips("n1", {{"GPU-a", 40000}}));
    apiserver_.Create("nodes", "", NodeWithChips("n2", {{"GPU-b", 20000}}));
    policy_path_ = std::filesystem::temp_directory_path() /
                   ("flexai-quota-" + std::to_string(::getpid()) + "-" +
                    ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".yaml");
  }
  void TearDown() override {
    for (auto& s : services_) s->Stop();
    std::filesystem::remove(policy_path_);
  }

  // Starts a service with `policy_body` (YAML after apiVersion/kind) as its policy file.
  std::unique_ptr<kube::KubeClient> StartService(const std::string& policy_body = "") {
    std::ofstream(policy_path_) << "apiVersion: flexai.io/v1\nkind: SlicePolicy\n" << policy_body;
    ServiceOptions options;
    options.policy_file = policy_path_.string();
    options.allocating_window_seconds = 0;  // pods of one size bind back to back here
    return testing::ServiceClient(testing::StartReadyService(apiserver_.url(), options, services_));
  }

  // Creates a pod asking one chip with `memory_mib`, at `priority`, with `labels`.
  Json CreatePod(const std::string& name, int64_t memory_mib, int priority = 0,
                 const Json& labels = Json::object()) {
    Json pod = GpuPod(name, 1, memory_mib);
    pod["metadata"].erase("uid");
    pod["spec"]["priority"] = priority;
    if (!labels.empty()) pod["metadata"]["labels"] = labels;
    return apiserver_.Create("pods", "default", pod).body;
  }
  std::string Bind(kube::KubeClient& http, const Json& pod, const std::string& node) {
    return testing::BindOverHttp(http, pod, node);
  }
  Json Filter(kube::KubeClient& http, const Json& pod) {
    return http.Post("/filter", {{"Pod", pod}, {"NodeNames", {"n1", "n2"}}}).body;
  }
  // kube-scheduler's call with nodeCacheCapable: its own victims as UIDs per node.
  Json Preempt(kube::KubeClient& http, const Json& pod, const Json& proposal) {
    auto r = http.Post("/preempt", {{"Pod", pod}, {"NodeNameToMetaVictims", proposal}});
    EXPECT_EQ(r.status, 200) << r.body.dump();
    return r.body["NodeNameToMetaVictims"];
  }
  static Json Victims(const std::vector<Json>& pods, int violations = 0) {
    Json list = Json::array();
    for (const auto& p : pods) list.push_back({{"UID", kube::UidOf(p)}});
    return {{"Pods", list}, {"NumPDBViolations", violations}};
  }

  fake::FakeApiServer apiserver_;
  std::vector<std::unique_ptr<HiSchedulerService>> services_;
  std::filesystem::path policy_path_;
};

TEST_F(PreemptionQuotaTest, PreemptNamesTheLowestPriorityPodThatMakesRoom) {
  auto http = StartService();
  Json low = CreatePod("low", 20000, 1);
  Json mid = CreatePod("mid", 20000, 5);
  ASSERT_EQ(Bind(*http, low, "n1"), "");
  ASSERT_EQ(Bind(*http, mid, "n1"), "");
  Json urgent = CreatePod("urgent", 20000, 10);
  // kube-scheduler proposes "mid" (it does not see flexai memory); hi-scheduler answers "low".
  Json expected = {{"n1", Victims({low})}};
  EXPECT_TRUE(Eventually([&] {
    return Preempt(*http, urgent, {{"n1", Victims({mid})}}) == expected;
  })) << Preempt(*http, urgent, {{"n1", Victims({mid})}}).dump();
}

TEST_F(PreemptionQuotaTest, PreemptAfterARestartSeesPrioritiesAndBudgetsFromTheCluster) {
  // Only "top" alone would make room, but it outranks the preemptor; "low" and "mid" together do,
  // at one budget violation. Lost priorities would pick "top", lost budgets would count none.
  Json low, mid;
  {
    auto http = StartService();
    low = CreatePod("low", 10000, 1, {{"app", "guarded"}});
    mid = CreatePod("mid", 10000, 5);
    Json top = CreatePod("top", 20000, 20);
    ASSERT_EQ(Bind(*http, low, "n1"), "");
    ASSERT_EQ(Bind(*http, mid, "n1"), "");
    ASSERT_EQ(Bind(*http, top, "n1"), "");
    http.reset();
    services_.back()->Stop();
  }
  apiserver_.Create("poddisruptionbudgets", "default",
                    {{"apiVersion", "policy/v1"},
                     {"kind", "PodDisruptionBudget"},
                     {"metadata", {{"name", "guard"}, {"namespace", "default"}}},
                     {"spec", {{"selector", {{"matchLabels", {{"app", "guarded"}}}}}}},
                     {"status", {{"disruptionsAllowed", 0}}}});
  auto http = StartService();
  Json urgent = CreatePod("urgent", 20000, 10);
  Json expected = {{"n1", Victims({low, mid}, 1)}};
  EXPECT_TRUE(Eventually([&] {
    return Preempt(*http, urgent, {{"n1", Victims({mid})}}) == expected;
  })) << Preempt(*http, urgent, {{"n1", Victims({mid})}}).dump();
}

TEST_F(PreemptionQuotaTest, PreemptSparesAPodItsDisruptionBudgetProtects) {
  auto http = StartService();
  Json low = CreatePod("low", 20000, 1, {{"app", "guarded"}});
  Json mid = CreatePod("mid", 20000, 5);
  ASSERT_EQ(Bind(*http, low, "n1"), "");
  ASSERT_EQ(Bind(*http, mid, "n1"), "");
  apiserver_.Create("poddisruptionbudgets", "default",
                    {{"apiVersion", "policy/v1"},
                     {"kind", "PodDisruptionBudget"},
                     {"metadata", {{"name", "guard"}, {"namespace", "default"}}},
                     {"spec", {{"selector", {{"matchLabels", {{"app", "guarded"}}}}}}},
                     {"status", {{"disruptionsAllowed", 0}}}});
  Json urgent = CreatePod("urgent", 20000, 10);
  Json expected = {{"n1", Victims({mid})}};
  EXPECT_TRUE(Eventually([&] {
    return Preempt(*http, urgent, {{"n1", Victims({low})}}) == expected;
  })) << Preempt(*http, urgent, {{"n1", Victims({low})}}).dump();
}

TEST_F(PreemptionQuotaTest, PreemptDropsNodesWhereNoLowerPriorityEvictionMakesRoom) {
  auto http = StartService();
  Json peer = CreatePod("peer", 30000, 10);
  ASSERT_EQ(Bind(*http, peer, "n1"), "");
  ASSERT_TRUE(Eventually([&] {
    return apiserver_.Get("pods", "default", "peer").body["spec"].value("nodeName", "") == "n1";
  }));
  Json same = CreatePod("same", 20000, 10);
  EXPECT_EQ(Preempt(*http, same, {{"n1", Victims({peer})}}), Json::object());
  Json too_big = CreatePod("too-big", 50000, 1000);
  EXPECT_EQ(Preempt(*http, too_big, {{"n1", Victims({peer})}}), Json::object());
}

TEST_F(PreemptionQuotaTest, MalformedPreemptArgsAreRefusedWith400) {
  auto http = StartService();
  EXPECT_EQ(http->Post("/preempt", Json::object()).status, 400);
  EXPECT_EQ(http->Post("/preempt", {{"Pod", GpuPod("p", 1)}, {"NodeNameToMetaVictims", 3}}).status,
            400);
}

TEST_F(PreemptionQuotaTest, PodOverQuotaFailsEveryNodeWithTheQuotaAndTheExcess) {
  auto http = StartService("quotas:\n  default: {memoryMiB: 40000}\n");
  Json first = CreatePod("first", 30000);
  ASSERT_EQ(Bind(*http, first, "n1"), "");
  Json second = CreatePod("second", 20000);
  Json filtered = Filter(*http, second);
  const std::string reason =
      "namespace default: quota memoryMiB 40000 MiB, in use 30000 MiB, this pod asks 20000 MiB: "
      "over by 10000 MiB";
  EXPECT_EQ(filtered["NodeNames"], Json::array());
  EXPECT_EQ(filtered["FailedAndUnresolvableNodes"], Json({{"n1", reason}, {"n2", reason}}));
  EXPECT_EQ(filtered["FailedNodes"], Json::object());
  Json small = CreatePod("small", 10000);
  EXPECT_EQ(Filter(*http, small)["NodeNames"], Json({"n1", "n2"}));
}

TEST_F(PreemptionQuotaTest, BindRechecksTheQuotaSoRacingPodsCannotBothPass) {
  auto http = StartService("quotas:\n  default: {chips: 1}\n");
  Json a = CreatePod("a", 10000);
  Json b = CreatePod("b", 10000);
  // Both pass filter while nothing is placed; only the first bind may take the quota.
  EXPECT_EQ(Filter(*http, a)["NodeNames"], Json({"n1", "n2"}));
  EXPECT_EQ(Filter(*http, b)["NodeNames"], Json({"n1", "n2"}));
  EXPECT_EQ(Bind(*http, a, "n1"), "");
  std::string refused = Bind(*http, b, "n2");
  EXPECT_NE(refused.find("namespace default: quota chips 1 chip(s), in use 1 chip(s), this pod "
                         "asks 1 chip(s): over by 1 chip(s)"),
            std::string::npos)
      << refused;
  EXPECT_EQ(apiserver_.Get("pods", "default", "b").body["spec"].value("nodeName", ""), "");
}

TEST_F(PreemptionQuotaTest, QuotaUseIsRebuiltFromTheClusterAfterARestart) {
  const std::string quota = "quotas:\n  default: {cores: 100}\n";
  {
    auto http = StartService(quota);
    Json whole = apiserver_
                     .Create("pods", "default",
                             [] {
                               Json p = GpuPod("whole", 1);
                               p["metadata"].erase("uid");
                               return p;
                             }())
                     .body;
    ASSERT_EQ(Bind(*http, whole, "n2"), "");
    http.reset();
    services_.back()->Stop();
  }
  auto http = StartService(quota);
  Json next = CreatePod("next", 1000);
  next["spec"]["containers"][0]["resources"]["limits"]["flexai.io/gpu-cores"] = 10;
  Json filtered = Filter(*http, next);
  EXPECT_EQ(filtered["FailedAndUnresolvableNodes"]["n1"],
            "namespace default: quota cores 100%, in use 100%, this pod asks 10%: over by 10%");
}

}  // namespace
}  // namespace flexai::extender
