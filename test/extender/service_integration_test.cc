// The Hi Scheduler service end to end against the fake apiserver: the extender verbs over HTTP,
// annotations written at bind, recovery after a restart, slices freed by a deletion, conflict
// retries, re-list after 410 and leader election.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "extender/service.h"
#include "fake_apiserver.h"
#include "kube/operations.h"
#include "kube/paths.h"
#include "service_harness.h"
#include "test_objects.h"

namespace flexai::extender {
namespace {

using fake::Faults;
using testing::Eventually;
using testing::GpuPod;
using testing::Json;
using testing::NodeWithChips;

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(apiserver_.Start().ok());
    apiserver_.Create("nodes", "", NodeWithChips("n1", {{"GPU-a", 40000}}));
    apiserver_.Create("nodes", "", NodeWithChips("n2", {{"GPU-b", 20000}}));
  }
  void TearDown() override {
    for (auto& s : services_) s->Stop();
  }

  // Starts a service; returns a client for its HTTP endpoints.
  std::unique_ptr<kube::KubeClient> StartService(ServiceOptions options = {}) {
    options.lease_retry = std::chrono::milliseconds(100);
    return testing::ServiceClient(testing::StartReadyService(apiserver_.url(), options, services_));
  }

  Json CreatePod(const Json& pod) {
    Json body = pod;
    body["metadata"].erase("uid");
    return apiserver_.Create("pods", "default", body).body;
  }
  Json Filter(kube::KubeClient& http, const Json& pod) {
    return http.Post("/filter", {{"Pod", pod}, {"NodeNames", {"n1", "n2"}}}).body;
  }
  std::string Bind(kube::KubeClient& http, const Json& pod, const std::string& node) {
    return testing::BindOverHttp(http, pod, node);
  }

  fake::FakeApiServer apiserver_;
  std::vector<std::unique_ptr<HiSchedulerService>> services_;
};

TEST_F(ServiceTest, FilterPrioritizeBindRoundTripRecordsTheAssignment) {
  auto http = StartService();
  Json pod = CreatePod(GpuPod("train", 1, 30000));
  Json filtered = Filter(*http, pod);
  EXPECT_EQ(filtered["NodeNames"], Json({"n1"}));
  EXPECT_TRUE(filtered["FailedAndUnresolvableNodes"].contains("n2"));
  auto scores = http->Post("/prioritize", {{"Pod", pod}, {"NodeNames", {"n1"}}});
  ASSERT_EQ(scores.status, 200);
  EXPECT_EQ(scores.body[0]["Host"], "n1");

  EXPECT_EQ(Bind(*http, pod, "n1"), "");
  Json stored = apiserver_.Get("pods", "default", "train").body;
  EXPECT_EQ(stored["spec"]["nodeName"], "n1");
  EXPECT_EQ(kube::AnnotationOf(stored, "flexai.io/assignment"),
            "node=n1;cpu=0;mem=0|main=GPU-a:30000:0");
  EXPECT_EQ(kube::AnnotationOf(stored, "flexai.io/bind-phase"), "allocating");
  EXPECT_FALSE(kube::AnnotationOf(stored, "flexai.io/bind-time").empty());
}

TEST_F(ServiceTest, RestartRecoversAllocationsFromAnnotations) {
  {
    auto http = StartService();
    Json pod = CreatePod(GpuPod("first", 1, 30000));
    ASSERT_EQ(Bind(*http, pod, "n1"), "");
    http.reset();  // close the keep-alive connection so Stop() need not wait for it
    services_.back()->Stop();
  }
  auto http = StartService();
  Json second = CreatePod(GpuPod("second", 1, 30000));
  Json filtered = Filter(*http, second);
  EXPECT_EQ(filtered["NodeNames"], Json::array());
  EXPECT_EQ(filtered["FailedNodes"]["n1"],
            "node n1: no chip has 30000 MiB free (largest free 10000 MiB on GPU-a)");
}

TEST_F(ServiceTest, DeletingAPodFreesItsSlicesForPendingPods) {
  auto http = StartService();
  Json first = CreatePod(GpuPod("first", 1, 30000));
  ASSERT_EQ(Bind(*http, first, "n1"), "");
  Json second = CreatePod(GpuPod("second", 1, 30000));
  EXPECT_EQ(Filter(*http, second)["NodeNames"], Json::array());
  apiserver_.Delete("pods", "default", "first");
  EXPECT_TRUE(Eventually([&] { return Filter(*http, second)["NodeNames"] == Json({"n1"}); }));
}

TEST_F(ServiceTest, FinishedPodFreesItsSlices) {
  auto http = StartService();
  Json first = CreatePod(GpuPod("job", 1, 30000));
  ASSERT_EQ(Bind(*http, first, "n1"), "");
  apiserver_.MergePatch("pods", "default", "job", {{"status", {{"phase", "Succeeded"}}}});
  Json next = CreatePod(GpuPod("next", 1, 30000));
  EXPECT_TRUE(Eventually([&] { return Filter(*http, next)["NodeNames"] == Json({"n1"}); }));
}

TEST_F(ServiceTest, BindRetriesAnnotationPatchOnConflict) {
  auto http = StartService();
  Json pod = CreatePod(GpuPod("contended", 1, 10000));
  Faults faults;
  faults.patch_conflicts = 2;
  apiserver_.InjectFaults(faults);
  EXPECT_EQ(Bind(*http, pod, "n1"), "");
  EXPECT_EQ(apiserver_.faults().patch_conflicts, 0);
  EXPECT_EQ(apiserver_.Get("pods", "default", "contended").body["spec"]["nodeName"], "n1");
}

TEST_F(ServiceTest, NewAssignmentClearsDeviceIdsLeftOnARecreatedPod) {
  // `kubectl replace --force` recreates a pod with its old annotations; the device plugin must not
  // take the old device IDs for an answer it already gave.
  auto http = StartService();
  Json old = GpuPod("again", 1, 10000);
  old["metadata"]["annotations"]["flexai.io/device-ids"] = "main=GPU-a::0";
  Json pod = CreatePod(old);
  EXPECT_EQ(Bind(*http, pod, "n1"), "");
  Json stored = apiserver_.Get("pods", "default", "again").body;
  EXPECT_NE(kube::AnnotationOf(stored, "flexai.io/assignment"), "");
  EXPECT_FALSE(stored["metadata"]["annotations"].contains("flexai.io/device-ids"));
}

TEST_F(ServiceTest, FailedBindingRollsBackTheReservationAndTheAnnotations) {
  auto http = StartService();
  Json pod = CreatePod(GpuPod("unlucky", 1, 30000));
  Faults faults;
  faults.binding_errors = 1;
  apiserver_.InjectFaults(faults);
  std::string err = Bind(*http, pod, "n1");
  EXPECT_NE(err.find("500"), std::string::npos) << err;
  Json stored = apiserver_.Get("pods", "default", "unlucky").body;
  EXPECT_EQ(kube::AnnotationOf(stored, "flexai.io/assignment"), "");
  EXPECT_NE(kube::AnnotationOf(stored, "flexai.io/bind-error"), "");
  // The slices are free again: the same pod fits on the next attempt.
  EXPECT_TRUE(Eventually([&] { return Filter(*http, stored)["NodeNames"] == Json({"n1"}); }));
  EXPECT_EQ(Bind(*http, stored, "n1"), "");
}

TEST_F(ServiceTest, SecondSameSizePodWaitsUntilTheFirstIsAllocated) {
  auto http = StartService();
  Json a = CreatePod(GpuPod("a", 1, 1000));
  Json b = CreatePod(GpuPod("b", 1, 1000));
  ASSERT_EQ(Bind(*http, a, "n1"), "");
  std::string refused = Bind(*http, b, "n1");
  EXPECT_NE(refused.find("still allocating default/a"), std::string::npos) << refused;
  EXPECT_EQ(apiserver_.Get("pods", "default", "b").body["spec"].value("nodeName", ""), "");
  // The device plugin completes the first pod: the second may go.
  apiserver_.MergePatch("pods", "default", "a",
                        {{"metadata", {{"annotations", {{"flexai.io/bind-phase", "success"}}}}}});
  EXPECT_TRUE(Eventually([&] { return Bind(*http, b, "n1").empty(); }));
}

TEST_F(ServiceTest, LeftoverAssignmentOfAnUnboundPodDoesNotBlockItsBind) {
  Json pod = GpuPod("leftover", 1, 30000);
  pod["metadata"]["annotations"]["flexai.io/assignment"] = "node=n1;cpu=0;mem=0|main=GPU-a:30000:0";
  pod = CreatePod(pod);
  auto http = StartService();
  EXPECT_EQ(Bind(*http, pod, "n1"), "");
  EXPECT_EQ(apiserver_.Get("pods", "default", "leftover").body["spec"]["nodeName"], "n1");
}

TEST_F(ServiceTest, UnknownNodeIsRefusedAtBind) {
  auto http = StartService();
  Json pod = CreatePod(GpuPod("lost", 1, 1000));
  EXPECT_NE(Bind(*http, pod, "ghost-node").find("ghost-node"), std::string::npos);
}

TEST_F(ServiceTest, WatchGoneLeadsToARelistAndEventsStillArrive) {
  Faults faults;
  faults.watch_gone = 2;
  apiserver_.InjectFaults(faults);
  auto http = StartService();
  EXPECT_TRUE(Eventually([&] { return apiserver_.faults().watch_gone == 0; }));
  Json first = CreatePod(GpuPod("a", 1, 30000));
  ASSERT_EQ(Bind(*http, first, "n1"), "");
  Json second = CreatePod(GpuPod("b", 1, 30000));
  apiserver_.Delete("pods", "default", "a");
  EXPECT_TRUE(Eventually([&] { return Filter(*http, second)["NodeNames"] == Json({"n1"}); }));
}

TEST_F(ServiceTest, OnlyTheLeaderBindsFollowersAnswer503) {
  ServiceOptions options;
  options.leader_elect = true;
  options.lease_namespace = "kube-system";
  options.identity = "one";
  auto one = StartService(options);
  ASSERT_TRUE(Eventually([&] { return services_[0]->leader(); }));
  options.identity = "two";
  auto two = StartService(options);
  Json pod = CreatePod(GpuPod("p", 1, 1000));
  auto follower = two->Post("/bind", {{"PodName", "p"},
                                      {"PodNamespace", "default"},
                                      {"PodUID", kube::UidOf(pod)},
                                      {"Node", "n1"}});
  EXPECT_EQ(follower.status, 503);
  EXPECT_EQ(Bind(*one, pod, "n1"), "");
}

TEST_F(ServiceTest, HealthReadinessMetricsAndWebhookAreServed) {
  auto http = StartService();
  EXPECT_EQ(http->Get("/healthz").status, 200);
  EXPECT_EQ(http->Get("/readyz").status, 200);
  Json pod = CreatePod(GpuPod("m", 1, 1000));
  Filter(*http, pod);
  // Metrics are text, not JSON: the client reports them with a null body but status 200.
  auto metrics = http->Get("/metrics");
  EXPECT_EQ(metrics.status, 200);
  auto review = http->Post(
      "/mutate",
      {{"apiVersion", "admission.k8s.io/v1"},
       {"kind", "AdmissionReview"},
       {"request", {{"uid", "r"}, {"kind", {{"kind", "Pod"}}}, {"object", GpuPod("w", 1)}}}});
  EXPECT_EQ(review.status, 200);
  EXPECT_EQ(review.body["response"]["patchType"], "JSONPatch");
  EXPECT_EQ(http->Post("/preempt", Json::object()).status, 400);  // served; no Pod given
  EXPECT_EQ(http->Post("/filter", Json("garbage")).status, 400);
}

TEST_F(ServiceTest, OversizedRequestBodiesAreRefused) {
  ServiceOptions options;
  options.max_body_bytes = 4096;
  auto http = StartService(options);
  Json big = {{"Pod", GpuPod("p", 1)}, {"NodeNames", Json::array()}};
  for (int i = 0; i < 1000; ++i) big["NodeNames"].push_back("node-" + std::to_string(i));
  EXPECT_EQ(http->Post("/filter", big).status, 413);
  EXPECT_EQ(http->Get("/healthz").status, 200);  // still serving
}

TEST_F(ServiceTest, PolicyReloadAppliesGoodPoliciesAndRefusesBrokenOnes) {
  auto path = std::filesystem::temp_directory_path() /
              ("flexai-policy-" + std::to_string(::getpid()) + ".yaml");
  auto write = [&](const std::string& text) { std::ofstream(path) << text; };
  const std::string header = "apiVersion: flexai.io/v1\nkind: SlicePolicy\n";
  write(header + "sharing: {reservedMemoryMiB: 0}\n");
  ServiceOptions options;
  options.policy_file = path.string();
  options.self_pod_name = "flexai-scheduler-0";
  options.self_pod_namespace = "flexai-system";
  auto http = StartService(options);
  Json pod = CreatePod(GpuPod("big", 1, 35000));
  EXPECT_EQ(Filter(*http, pod)["NodeNames"], Json({"n1"}));

  write(header + "sharing: {reservedMemoryMiB: 10000}\n");
  ASSERT_TRUE(services_.back()->ReloadPolicy());
  EXPECT_EQ(Filter(*http, pod)["FailedAndUnresolvableNodes"]["n1"],
            "node n1: asks 35000 MiB per chip, more than any chip has (30000 MiB)");

  write(header + "sharing: {reservedMemoryMiB: -5}\n");
  EXPECT_FALSE(services_.back()->ReloadPolicy());
  EXPECT_EQ(Filter(*http, pod)["NodeNames"], Json::array());  // the previous policy still holds
  Json events = apiserver_.store()
                    .List(*fake::ResourceByPlural("events"), "flexai-system", {}, {})
                    .body["items"];
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["reason"], "FlexaiPolicyRejected");
  EXPECT_EQ(events[0]["involvedObject"]["name"], "flexai-scheduler-0");

  // A misspelt weight would silently do nothing: it is refused like any other mistake.
  write(header + "scheduler: {policy: hi, weights: {memoryfrag: 0}}\n");
  EXPECT_FALSE(services_.back()->ReloadPolicy());
  events = apiserver_.store()
               .List(*fake::ResourceByPlural("events"), "flexai-system", {}, {})
               .body["items"];
  ASSERT_EQ(events.size(), 2u);
  const std::string message = events[1]["message"];
  EXPECT_NE(message.find("memoryfrag: unknown weight; known: memoryFrag"), std::string::npos)
      << message;
  write(header + "scheduler: {policy: hi, weights: {memoryFrag: 0}}\n");
  EXPECT_TRUE(services_.back()->ReloadPolicy());
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace flexai::extender
