// Gangs and the queue end to end: the real Hi Scheduler service against the fake apiserver. A gang
// binds all or nothing, a gang missing a member is released after its timeout, a restart keeps the
// reservations, concurrent binds of one gang never overbook, and a pending 4-chip pod is not
// starved by a stream of small pods.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

#include "extender/service.h"
#include "fake_apiserver.h"
#include "kube/operations.h"
#include "kube/paths.h"
#include "partition/assignment_codec.h"
#include "service_harness.h"
#include "test_objects.h"

namespace flexai::extender {
namespace {

using testing::Eventually;
using testing::GpuPod;
using testing::Json;
using testing::NodeWithChips;

Json GangPod(const std::string& name, const std::string& gang, int size, int chips = 1,
             const std::string& timeout = "") {
  Json pod = GpuPod(name, chips);
  pod["metadata"]["annotations"]["flexai.io/gang"] = gang;
  pod["metadata"]["annotations"]["flexai.io/gang-size"] = std::to_string(size);
  if (!timeout.empty()) pod["metadata"]["annotations"]["flexai.io/gang-timeout-seconds"] = timeout;
  return pod;
}

class QueueGangTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(apiserver_.Start().ok());
    apiserver_.Create(
        "nodes", "",
        NodeWithChips("n4",
                      {{"GPU-a", 40000}, {"GPU-b", 40000}, {"GPU-c", 40000}, {"GPU-d", 40000}}));
    apiserver_.Create("nodes", "", NodeWithChips("n1", {{"GPU-e", 40000}}));
  }
  void TearDown() override {
    clients_.clear();
    for (auto& s : services_) s->Stop();
  }

  HiSchedulerService& StartService(ServiceOptions options = {}) {
    if (options.gang_sweep == ServiceOptions{}.gang_sweep) {
      options.gang_sweep = std::chrono::milliseconds(50);
    }
    port_ = testing::StartReadyService(apiserver_.url(), options, services_);
    clients_.clear();
    return *services_.back();
  }
  void StopService() {
    clients_.clear();  // close keep-alive connections so Stop() need not wait for them
    services_.back()->Stop();
  }
  // A client of the running service's HTTP endpoints (one per thread).
  kube::KubeClient& Http(size_t i = 0) {
    while (clients_.size() <= i) clients_.push_back(testing::ServiceClient(port_));
    return *clients_[i];
  }

  Json CreatePod(const Json& pod) {
    Json body = pod;
    body["metadata"].erase("uid");
    return apiserver_.Create("pods", "default", body).body;
  }
  Json Stored(const std::string& name) { return apiserver_.Get("pods", "default", name).body; }
  std::string NodeOf(const std::string& name) { return Stored(name)["spec"].value("nodeName", ""); }
  Json Filter(const Json& pod, const Json& nodes = {"n4", "n1"}, size_t client = 0) {
    return Http(client).Post("/filter", {{"Pod", pod}, {"NodeNames", nodes}}).body;
  }
  std::string Bind(const Json& pod, const std::string& node, size_t client = 0) {
    return testing::BindOverHttp(Http(client), pod, node);
  }
  size_t EventsWithReason(const std::string& reason) {
    Json events =
        apiserver_.store().List(*fake::ResourceByPlural("events"), "default", {}, {}).body["items"];
    return static_cast<size_t>(std::count_if(events.begin(), events.end(), [&](const Json& e) {
      return e.value("reason", "") == reason;
    }));
  }

  fake::FakeApiServer apiserver_;
  std::vector<std::unique_ptr<HiSchedulerService>> services_;
  std::vector<std::unique_ptr<kube::KubeClient>> clients_;
  int port_ = 0;
};

TEST_F(QueueGangTest, GangOfThreeIsBoundOnlyWhenTheThirdMemberArrives) {
  HiSchedulerService& service = StartService();
  Json a = CreatePod(GangPod("a", "job1", 3));
  Json b = CreatePod(GangPod("b", "job1", 3));
  Json c = CreatePod(GangPod("c", "job1", 3));

  EXPECT_EQ(Bind(a, "n4"),
            "gang default/job1: 1 of 3 members reserved, waiting for the rest (released 120 s "
            "after the first)");
  std::string second = Bind(b, "n4");
  EXPECT_NE(second.find("2 of 3 members reserved, waiting"), std::string::npos) << second;
  EXPECT_EQ(NodeOf("a"), "");
  EXPECT_EQ(NodeOf("b"), "");
  EXPECT_EQ(kube::AnnotationOf(Stored("a"), "flexai.io/bind-phase"), "gang-reserved");
  EXPECT_FALSE(kube::AnnotationOf(Stored("a"), "flexai.io/assignment").empty());
  QueueStats waiting = service.queue().stats();
  EXPECT_EQ(waiting.gangs_waiting, 1u);
  EXPECT_EQ(waiting.reserved_chips, 2);
  // A retried filter for a reserved member passes its node only.
  Json filtered = Filter(a);
  EXPECT_EQ(filtered["NodeNames"], Json({"n4"}));
  EXPECT_NE(filtered["FailedAndUnresolvableNodes"]["n1"].get<std::string>().find(
                "holds its reservation on node n4"),
            std::string::npos);

  EXPECT_EQ(Bind(c, "n4"), "");
  for (const char* name : {"a", "b", "c"}) {
    EXPECT_EQ(NodeOf(name), "n4") << name;
    EXPECT_EQ(kube::AnnotationOf(Stored(name), "flexai.io/bind-phase"), "allocating") << name;
  }
  // kube-scheduler's retry of an earlier member finds it bound.
  EXPECT_EQ(Bind(a, "n4"), "");
  EXPECT_EQ(service.queue().stats().gangs_waiting, 0u);
}

TEST_F(QueueGangTest, MemberBindThatWaitedWhileItsGangWasBoundKeepsItsChips) {
  HiSchedulerService& service = StartService();
  Json a = CreatePod(GangPod("a", "job5", 2));
  Json b = CreatePod(GangPod("b", "job5", 2));  // what b's /bind read before the gang was bound
  ASSERT_NE(Bind(a, "n4").find("waiting"), std::string::npos);
  ASSERT_EQ(Bind(b, "n4"), "");
  const std::string held = kube::AnnotationOf(Stored("b"), "flexai.io/assignment");
  ASSERT_TRUE(Eventually([&] {
    bool bound = false;
    service.cache().ReadPods([&](const auto&, const ClusterCache::PodMap& pods) {
      auto it = pods.find(kube::UidOf(b));
      bound = it != pods.end() && it->second.bound;
    });
    return bound;
  }));

  // b's own /bind, blocked on the gang lock while a's bind bound it, goes on with the old copy.
  PodIntent intent = ParsePodIntent(b, *service.cache().policy());
  EXPECT_EQ(service.gang_binder().Bind({"b", "default", kube::UidOf(b), "n4"}, b, intent), "");
  auto assignment = service.cache().AssignmentOf(kube::UidOf(b));
  ASSERT_TRUE(assignment.has_value());
  EXPECT_EQ(partition::EncodeAssignment(*assignment), held);
  ASSERT_TRUE(service.queue().gangs().Member(kube::UidOf(b)).has_value());
  EXPECT_TRUE(service.queue().gangs().Member(kube::UidOf(b))->bound);
}

TEST_F(QueueGangTest, ReservedGangMemberIsRefusedElsewhereWithoutPreemption) {
  StartService();
  Json a = CreatePod(GangPod("a", "job7", 2));
  ASSERT_NE(Bind(a, "n4").find("waiting"), std::string::npos);
  Json filtered = Filter(a);
  EXPECT_EQ(filtered["NodeNames"], Json({"n4"}));
  EXPECT_TRUE(filtered["FailedNodes"].empty()) << filtered.dump();
  EXPECT_TRUE(filtered["FailedAndUnresolvableNodes"].contains("n1")) << filtered.dump();

  // Evicting pods cannot help a member that holds its reservation: no node is worth preempting.
  Json proposal = {{"n4", {{"Pods", {{{"UID", "uid-other"}}}}, {"NumPDBViolations", 0}}}};
  auto preempted = Http().Post("/preempt", {{"Pod", a}, {"NodeNameToMetaVictims", proposal}});
  ASSERT_EQ(preempted.status, 200);
  EXPECT_EQ(preempted.body["NodeNameToMetaVictims"], Json::object()) << preempted.body.dump();
}

TEST_F(QueueGangTest, GangWhoseLastMemberNeverArrivesIsReleasedAfterTheTimeout) {
  HiSchedulerService& service = StartService();
  Json a = CreatePod(GangPod("a", "job2", 3, 2, "1"));
  Json b = CreatePod(GangPod("b", "job2", 3, 2, "1"));
  ASSERT_NE(Bind(a, "n4").find("waiting"), std::string::npos);
  ASSERT_NE(Bind(b, "n4").find("waiting"), std::string::npos);
  Json big = CreatePod(GpuPod("big", 4));
  EXPECT_EQ(Filter(big, {"n4"})["NodeNames"], Json::array());  // the gang holds 4 chips

  EXPECT_TRUE(Eventually([&] {
    return kube::AnnotationOf(Stored("a"), "flexai.io/assignment").empty() &&
           kube::AnnotationOf(Stored("b"), "flexai.io/assignment").empty();
  }));
  EXPECT_NE(kube::AnnotationOf(Stored("a"), "flexai.io/bind-error")
                .find("gang default/job2: only 2 of 3 members arrived within 1 s"),
            std::string::npos);
  EXPECT_TRUE(Eventually([&] { return EventsWithReason("FlexaiGangTimedOut") == 2; }));
  EXPECT_EQ(NodeOf("a"), "");
  EXPECT_TRUE(Eventually([&] { return Filter(big, {"n4"})["NodeNames"] == Json({"n4"}); }));
  EXPECT_EQ(service.queue().stats().gangs_waiting, 0u);
}

TEST_F(QueueGangTest, CompleteGangWhoseMemberFailedToBindIsRetriedNotReleased) {
  StartService();
  Json a = CreatePod(GangPod("a", "job8", 2, 1, "1"));
  Json b = CreatePod(GangPod("b", "job8", 2, 1, "1"));
  ASSERT_NE(Bind(a, "n4").find("waiting"), std::string::npos);
  fake::Faults faults;
  faults.binding_errors = 1;  // the bind-all's first binding (a's) fails
  apiserver_.InjectFaults(faults);
  EXPECT_EQ(Bind(b, "n4"), "");
  EXPECT_EQ(NodeOf("b"), "n4");
  ASSERT_EQ(EventsWithReason("FlexaiBindFailed"), 1u);

  // Past the 1 s timeout nobody retries a's /bind: the sweeper binds it, the gang is not split.
  EXPECT_TRUE(Eventually([&] { return NodeOf("a") == "n4"; }));
  EXPECT_FALSE(kube::AnnotationOf(Stored("a"), "flexai.io/assignment").empty());
  EXPECT_EQ(EventsWithReason("FlexaiGangTimedOut"), 0u);
}

TEST_F(QueueGangTest, RetriesOfACommittedGangBackOffWhileTheyFail) {
  ServiceOptions options;
  options.gang_sweep = std::chrono::hours(1);  // retries only when the test calls them
  HiSchedulerService& service = StartService(options);
  Json a = CreatePod(GangPod("a", "job10", 2));
  Json b = CreatePod(GangPod("b", "job10", 2));
  ASSERT_NE(Bind(a, "n4").find("waiting"), std::string::npos);
  fake::Faults faults;
  faults.binding_errors = 1;  // the bind-all's first binding (a's) fails
  apiserver_.InjectFaults(faults);
  ASSERT_EQ(Bind(b, "n4"), "");
  ASSERT_EQ(NodeOf("a"), "");

  apiserver_.InjectFaults(faults);  // and a's first retry fails too
  const auto t0 = std::chrono::system_clock::now();
  EXPECT_EQ(service.gang_binder().RetryCommitted(t0), 1u);
  EXPECT_EQ(NodeOf("a"), "");
  EXPECT_EQ(service.gang_binder().RetryCommitted(t0 + std::chrono::seconds(1)), 0u);  // backing off
  EXPECT_EQ(service.gang_binder().RetryCommitted(t0 + std::chrono::seconds(3)), 1u);
  EXPECT_TRUE(Eventually([&] { return NodeOf("a") == "n4"; }));
  EXPECT_EQ(service.gang_binder().RetryCommitted(t0 + std::chrono::seconds(4)), 0u);  // done
}

TEST_F(QueueGangTest, TimeoutKeepsTheChipsOfAMemberBoundMeanwhile) {
  HiSchedulerService& service = StartService();
  Json a = CreatePod(GangPod("a", "job9", 2));
  ASSERT_NE(Bind(a, "n4").find("waiting"), std::string::npos);
  const std::string held = kube::AnnotationOf(Stored("a"), "flexai.io/assignment");
  // The watch is stopped, so the book still thinks a unbound when another replica binds it.
  StopService();
  apiserver_.MergePatch("pods", "default", "a", {{"spec", {{"nodeName", "n4"}}}});

  service.gang_binder().ReleaseExpired(std::chrono::system_clock::now() + std::chrono::hours(1));
  auto assignment = service.cache().AssignmentOf(kube::UidOf(a));
  ASSERT_TRUE(assignment.has_value());
  EXPECT_EQ(partition::EncodeAssignment(*assignment), held);
  ASSERT_TRUE(service.queue().gangs().Member(kube::UidOf(a)).has_value());
  EXPECT_TRUE(service.queue().gangs().Member(kube::UidOf(a))->bound);
  EXPECT_EQ(kube::AnnotationOf(Stored("a"), "flexai.io/assignment"), held);
  EXPECT_EQ(EventsWithReason("FlexaiGangTimedOut"), 0u);
}

TEST_F(QueueGangTest, RestartInTheMiddleKeepsTheGangReservations) {
  StartService();
  Json a = CreatePod(GangPod("a", "job3", 2, 2));
  Json b = CreatePod(GangPod("b", "job3", 2, 2));
  ASSERT_NE(Bind(a, "n4").find("1 of 2"), std::string::npos);
  StopService();

  HiSchedulerService& restarted = StartService();
  EXPECT_TRUE(Eventually([&] { return restarted.queue().stats().gangs_waiting == 1; }));
  // The reserved chips stay taken: a 3-chip pod no longer fits on the 4-chip node.
  Json intruder = CreatePod(GpuPod("intruder", 3));
  EXPECT_EQ(Filter(intruder, {"n4"})["NodeNames"], Json::array());
  EXPECT_EQ(Filter(a)["NodeNames"], Json({"n4"}));
  EXPECT_EQ(Bind(b, "n4"), "");
  EXPECT_EQ(NodeOf("a"), "n4");
  EXPECT_EQ(NodeOf("b"), "n4");
  std::set<std::string> chips;
  for (const char* name : {"a", "b"}) {
    chips.insert(kube::AnnotationOf(Stored(name), "flexai.io/assignment"));
  }
  EXPECT_EQ(chips.size(), 2u);
}

TEST_F(QueueGangTest, MemberLeftAllocatingByARestartIsRestoredAndBoundWithItsGang) {
  StartService();
  Json a = CreatePod(GangPod("a", "job6", 2));
  Json b = CreatePod(GangPod("b", "job6", 2));
  ASSERT_NE(Bind(a, "n4").find("1 of 2"), std::string::npos);
  StopService();
  // What a BindAll that died between marking a `allocating` and binding it leaves behind.
  auto direct = kube::KubeClient::Create(kube::PlainServerConfig(apiserver_.url()));
  ASSERT_TRUE(direct.ok());
  ASSERT_TRUE(
      (*direct)
          ->MergePatch(kube::PodPath("default", "a"),
                       {{"metadata", {{"annotations", {{"flexai.io/bind-phase", "allocating"}}}}}})
          .ok());

  HiSchedulerService& restarted = StartService();
  EXPECT_TRUE(Eventually([&] { return restarted.queue().stats().gangs_waiting == 1; }));
  EXPECT_EQ(Bind(b, "n4"), "");
  EXPECT_EQ(NodeOf("a"), "n4");
  EXPECT_EQ(NodeOf("b"), "n4");
}

TEST_F(QueueGangTest, ConcurrentBindsOfOneGangBindEveryMemberOnceWithoutOverbooking) {
  StartService();
  constexpr int kMembers = 4;
  std::vector<Json> pods;
  for (int i = 0; i < kMembers; ++i) {
    pods.push_back(CreatePod(GangPod("m" + std::to_string(i), "job4", kMembers)));
  }
  for (int i = 0; i < kMembers; ++i) Http(static_cast<size_t>(i));
  std::vector<std::string> results(kMembers);
  std::vector<std::thread> threads;
  for (int i = 0; i < kMembers; ++i) {
    threads.emplace_back([&, i] {
      results[static_cast<size_t>(i)] =
          Bind(pods[static_cast<size_t>(i)], "n4", static_cast<size_t>(i));
    });
  }
  for (auto& t : threads) t.join();
  int bound_by_own_call = 0;
  for (const auto& r : results) {
    if (r.empty()) {
      ++bound_by_own_call;
    } else {
      EXPECT_NE(r.find("members reserved, waiting"), std::string::npos) << r;
    }
  }
  EXPECT_GE(bound_by_own_call, 1);
  std::set<std::string> chips;
  for (int i = 0; i < kMembers; ++i) {
    Json stored = Stored("m" + std::to_string(i));
    EXPECT_EQ(stored["spec"].value("nodeName", ""), "n4");
    std::string text = kube::AnnotationOf(stored, "flexai.io/assignment");
    chips.insert(text.substr(text.find('=', text.find('|')) + 1, 5));  // the chip UUID
  }
  EXPECT_EQ(chips.size(), static_cast<size_t>(kMembers));
}

TEST_F(QueueGangTest, IslandBoundGangMembersEachLandInsideOneIsland) {
  std::vector<testing::ChipSpec> chips;
  for (int i = 0; i < 8; ++i) {
    chips.push_back({"NV-" + std::to_string(i), 80000, "H100", 0, i / 4});  // islands 0-3, 4-7
  }
  apiserver_.Create("nodes", "", NodeWithChips("nv", chips));
  StartService();
  std::vector<Json> members;
  for (const char* name : {"x", "y"}) {
    Json pod = GangPod(name, "job6", 2, 3);
    pod["metadata"]["annotations"]["flexai.io/island-bind"] = "true";
    members.push_back(CreatePod(pod));
  }
  ASSERT_NE(Bind(members[0], "nv").find("1 of 2"), std::string::npos);
  EXPECT_EQ(Bind(members[1], "nv"), "");
  std::set<int> islands;
  for (const char* name : {"x", "y"}) {
    std::string text = kube::AnnotationOf(Stored(name), "flexai.io/assignment");
    std::set<int> own;
    for (size_t at = text.find("NV-"); at != std::string::npos; at = text.find("NV-", at + 1)) {
      own.insert((text[at + 3] - '0') / 4);
    }
    EXPECT_EQ(own.size(), 1u) << name << ": " << text;
    islands.insert(own.begin(), own.end());
  }
  EXPECT_EQ(islands.size(), 2u);
}

TEST_F(QueueGangTest, BadGangAnnotationIsAClearFilterError) {
  StartService();
  Json pod = GangPod("odd", "job5", 2);
  pod["metadata"]["annotations"]["flexai.io/gang-size"] = "two";
  pod = CreatePod(pod);
  Json filtered = Filter(pod);
  EXPECT_EQ(filtered["NodeNames"], Json::array());
  EXPECT_NE(filtered["FailedAndUnresolvableNodes"]["n4"].get<std::string>().find(
                "flexai.io/gang-size: \"two\" is not a whole number"),
            std::string::npos);
}

TEST_F(QueueGangTest, PendingFourChipPodGetsTheChipsWhenSmallPodsFinish) {
  ServiceOptions options;
  options.allocating_window_seconds = 0;  // the small pods go onto one node back to back
  HiSchedulerService& service = StartService(options);
  for (int i = 0; i < 4; ++i) {
    Json small = CreatePod(GpuPod("s" + std::to_string(i), 1));
    ASSERT_EQ(Bind(small, "n4"), "");
  }
  Json big = CreatePod(GpuPod("big", 4));
  // Fits nowhere: once the watch has shown it pending, its filter takes the hold on n4.
  EXPECT_TRUE(Eventually([&] {
    EXPECT_EQ(Filter(big)["NodeNames"], Json::array());
    return service.queue().stats().reserved_chips == 4;
  }));

  // One small pod finishes; the next small pod is steered to the other node, not into the gap.
  apiserver_.MergePatch("pods", "default", "s0", {{"status", {{"phase", "Succeeded"}}}});
  Json next = CreatePod(GpuPod("s4", 1));
  Json filtered;
  EXPECT_TRUE(Eventually([&] {
    filtered = Filter(next);
    return filtered["FailedAndUnresolvableNodes"].value("n4", "").find(
               "chips held for pending multi-chip pod default/big for another") !=
           std::string::npos;
  })) << filtered.dump();
  EXPECT_EQ(filtered["NodeNames"], Json({"n1"}));
  ASSERT_EQ(Bind(next, "n1"), "");

  for (const char* name : {"s1", "s2", "s3"}) {
    apiserver_.MergePatch("pods", "default", name, {{"status", {{"phase", "Succeeded"}}}});
  }
  EXPECT_TRUE(Eventually([&] { return Filter(big)["NodeNames"] == Json({"n4"}); }));
  EXPECT_TRUE(Eventually([&] { return service.queue().stats().unblocked_total >= 1; }));
  EXPECT_EQ(Bind(big, "n4"), "");
  EXPECT_EQ(NodeOf("big"), "n4");
  // The hold ended with the bind: small pods may use the node again.
  EXPECT_TRUE(Eventually([&] { return service.queue().stats().reserved_chips == 0; }));
}

}  // namespace
}  // namespace flexai::extender
