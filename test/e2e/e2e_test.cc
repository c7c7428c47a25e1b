// The whole path with real processes: pods go through hi-scheduler's filter/prioritize/bind, the
// device plugin's Allocate hands out exactly the chips and limits chosen, pods finish and their
// slices are reused, and faults (processes killed, restarted or frozen, API server errors and
// slowness, a leader lost) never lose or double an allocation nor leave a pod stuck.
#include <gtest/gtest.h>
#include <signal.h>

#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>  // std::jthread: a failed ASSERT still joins the submitter

#include "harness/cluster.h"
#include "harness/driver.h"
#include "harness/workload.h"

namespace flexai::e2e {
namespace {

using namespace std::chrono_literals;

ClusterOptions Options(int nodes, int chips) {
  ClusterOptions o;
  o.bin = {FLEXAI_FAKE_APISERVER_BIN, FLEXAI_HI_SCHEDULER_BIN, FLEXAI_DEVICE_PLUGIN_BIN};
  o.nodes = nodes;
  o.chips_per_node = chips;
  o.chip_memory_mib = 81559;
  return o;
}

class EndToEnd : public ::testing::Test {
 protected:
  void StartCluster(ClusterOptions options, DriverOptions driver_options = {}) {
    cluster_ = std::make_unique<Cluster>(std::move(options));
    auto started = cluster_->Start();
    ASSERT_TRUE(started.ok()) << started.message() << "\n" << cluster_->LogTails();
    driver_ = std::make_unique<Driver>(*cluster_, std::move(driver_options));
    driver_->Start();
  }

  void Submit(const std::vector<PodPlan>& plans, std::chrono::milliseconds gap = 0ms) {
    for (const auto& p : plans) {
      driver_->Submit(p);
      if (gap > 0ms) std::this_thread::sleep_for(gap);
    }
  }

  // Every pod finished, nothing over-allocated or mismatched or stuck, every pod's bind phase is
  // `success`, and the schedulers' caches hold no slice any more (nothing leaked).
  void ExpectCleanFinish(std::chrono::seconds timeout = 120s) {
    bool done = driver_->WaitAllSucceeded(timeout);
    driver_->Stop();
    DriverReport r = driver_->Report();
    EXPECT_TRUE(done) << "pods not finished:\n" << driver_->Unfinished();
    EXPECT_EQ(r.Summary(), "ok");
    EXPECT_EQ(r.succeeded, r.submitted);
    auto pods = cluster_->api().Get("/api/v1/namespaces/default/pods");
    ASSERT_TRUE(pods.ok());
    int not_success = 0;
    for (const auto& p : pods.body["items"]) {
      auto annotations = p["metadata"].value("annotations", Json::object());
      if (annotations.value("flexai.io/bind-phase", "") != "success") {
        ++not_success;
        ADD_FAILURE() << p["metadata"]["name"] << " bind-phase "
                      << annotations.value("flexai.io/bind-phase", "(none)");
        if (not_success > 5) break;
      }
    }
    for (int i = 0; i < cluster_->options().schedulers; ++i) {
      if (!cluster_->scheduler_running(i)) continue;
      double allocated = -1;
      for (int k = 0; k < 100; ++k) {
        allocated = cluster_->SchedulerGauge(i, "memory_mib_allocated");
        if (allocated == 0) break;
        std::this_thread::sleep_for(100ms);
      }
      EXPECT_EQ(allocated, 0) << "hi-scheduler " << i << " still counts slices of finished pods";
    }
    std::printf(
        "[e2e] %d pods in %.1f s: %d filter calls, %d binds (%d failed), %d unschedulable "
        "retries, %d Allocate retries, %d extender calls unanswered\n",
        r.submitted, r.elapsed_s, r.filter_calls, r.bind_calls, r.bind_errors,
        r.unschedulable_retries, r.allocate_retries, r.extender_unreachable);
    if (HasFailure()) {
      cluster_->KeepDir();
      std::printf("%s\nevery log kept in %s\n", cluster_->LogTails().c_str(),
                  cluster_->dir().c_str());
    }
  }

  std::unique_ptr<Cluster> cluster_;
  std::unique_ptr<Driver> driver_;
};

TEST_F(EndToEnd, EveryPodGetsTheChipsItWasAssignedAndSlicesAreReused) {
  StartCluster(Options(3, 4));
  // More pods than fit at once: later ones run on slices earlier ones gave back.
  Submit(RandomMix(120, 1, 81559, 300ms, 1200ms));
  ExpectCleanFinish();
}

// One node of three runs MPS (a node override selects it by label); the others run none. Pods
// that ask flexai.io/isolation=mps for their slices must all run there, with MPS settings from
// Allocate; every other slice gets its node's mode and whole chips none (checked per container
// by the driver).
TEST_F(EndToEnd, PodsAskingMpsRunOnlyWhereMpsRunsAndGetIt) {
  ClusterOptions options = Options(3, 4);
  options.mps_nodes = 1;
  StartCluster(options);
  std::vector<PodPlan> plans = RandomMix(40, 7, 81559, 200ms, 800ms);
  for (int i = 0; i < 16; ++i) {
    PodPlan mps;
    mps.name = "mps-" + std::to_string(i);
    mps.containers = {{1, 20000, 25}};
    mps.run_for = 300ms;
    mps.annotations["flexai.io/isolation"] = "mps";
    plans.insert(plans.begin() + 2 * i, mps);
  }
  Submit(plans, 20ms);
  ExpectCleanFinish();
}

TEST_F(EndToEnd, SchedulerKilledAtRandomPointsOfBindLosesNothing) {
  // The test thread waits for a bind to start, kills hi-scheduler with SIGKILL a random few
  // milliseconds later (before, inside or after its patch and binding), and restarts it.
  std::mutex mu;
  std::condition_variable bind_started;
  bool armed = false, fired = false;
  DriverOptions d;
  d.on_bind_start = [&](const std::string&) {
    std::lock_guard lock(mu);
    if (armed && !fired) {
      fired = true;
      bind_started.notify_all();
    }
  };
  StartCluster(Options(3, 4), d);
  std::jthread submitter([&] { Submit(RandomMix(100, 2, 81559, 300ms, 1000ms), 40ms); });
  std::mt19937 rng(11);
  for (int kill = 0; kill < 5; ++kill) {
    {
      std::unique_lock lock(mu);
      armed = true;
      fired = false;
      ASSERT_TRUE(bind_started.wait_for(lock, 30s, [&] { return fired; })) << "no bind started";
      armed = false;
    }
    std::this_thread::sleep_for(
        std::chrono::microseconds(std::uniform_int_distribution<int>(0, 6000)(rng)));
    cluster_->KillScheduler(0);
    cluster_->StartScheduler(0);
    auto ready = cluster_->WaitSchedulerReady(0);
    ASSERT_TRUE(ready.ok()) << ready.message();
  }
  submitter.join();
  ExpectCleanFinish();
}

TEST_F(EndToEnd, DevicePluginsRestartedMidRunLoseNothing) {
  StartCluster(Options(3, 4));
  // kubelet also repeats Allocates it had answered (as after its own deadline): each repeat must
  // get the same answer, never the next pod's assignment.
  for (int node = 0; node < 3; ++node) cluster_->node(node).kubelet.RepeatEveryAllocate(3);
  std::jthread submitter([&] { Submit(RandomMix(90, 3, 81559, 300ms, 1500ms), 50ms); });
  std::this_thread::sleep_for(1500ms);
  // SIGKILL on one node, SIGTERM on another; both come back and must recover their pods.
  int before = cluster_->node(0).kubelet.registrations();
  cluster_->KillDevicePlugin(0);
  std::this_thread::sleep_for(500ms);
  cluster_->StartDevicePlugin(0);
  ASSERT_TRUE(cluster_->WaitRegistered(0, before, 30s)) << cluster_->LogTails();
  std::this_thread::sleep_for(1000ms);
  before = cluster_->node(1).kubelet.registrations();
  cluster_->node(1).plugin->Terminate();
  cluster_->StartDevicePlugin(1);
  ASSERT_TRUE(cluster_->WaitRegistered(1, before, 30s)) << cluster_->LogTails();
  submitter.join();
  ExpectCleanFinish();
  int repeats = 0;
  for (int node = 0; node < 3; ++node) {
    repeats += cluster_->node(node).kubelet.repeated_allocates();
    for (const auto& mismatch : cluster_->node(node).kubelet.repeat_mismatches()) {
      ADD_FAILURE() << "node" << node << " " << mismatch;
    }
  }
  std::printf("[e2e] %d Allocates repeated by kubelet\n", repeats);
  EXPECT_GT(repeats, 10);
}

TEST_F(EndToEnd, KubeletRestartMakesThePluginRegisterAgainAndLosesNothing) {
  StartCluster(Options(3, 4));
  std::jthread submitter([&] { Submit(RandomMix(90, 4, 81559, 300ms, 1500ms), 50ms); });
  for (int node : {0, 2}) {
    std::this_thread::sleep_for(1500ms);
    int before = cluster_->node(node).kubelet.registrations();
    cluster_->RestartKubelet(node);  // deletes every socket, the plugin's included
    ASSERT_TRUE(cluster_->WaitRegistered(node, before, 30s))
        << "the device plugin of node" << node << " did not register again\n"
        << cluster_->LogTails();
  }
  submitter.join();
  ExpectCleanFinish();
}

TEST_F(EndToEnd, ApiServerConflictsGoneErrorsAndSlownessLoseNothing) {
  StartCluster(Options(3, 4));
  std::jthread submitter([&] { Submit(RandomMix(100, 5, 81559, 300ms, 1200ms), 40ms); });
  std::this_thread::sleep_for(1s);
  // 409 on patches, 410 on new watches, 500 on any call, failed bindings...
  ASSERT_TRUE(cluster_
                  ->SetFaults({{"patchConflicts", 40},
                               {"watchGone", 6},
                               {"serverErrors", 40},
                               {"bindingErrors", 6}})
                  .ok());
  // ... a restarted plugin opens a new watch that meets the 410s, and compacted history ends
  // running watches that fall behind with 410 too.
  int before = cluster_->node(1).kubelet.registrations();
  cluster_->KillDevicePlugin(1);
  cluster_->StartDevicePlugin(1);
  for (int i = 0; i < 10; ++i) {
    HttpPostJson(cluster_->api_url(), "/fake/compact", Json::object());
    std::this_thread::sleep_for(200ms);
  }
  ASSERT_TRUE(cluster_->WaitRegistered(1, before, 30s)) << cluster_->LogTails();
  // Then every call slow for a while.
  ASSERT_TRUE(cluster_->SetFaults({{"latencyMs", 250}}).ok());
  std::this_thread::sleep_for(4s);
  ASSERT_TRUE(cluster_->SetFaults(Json::object()).ok());
  submitter.join();
  ExpectCleanFinish();
}

TEST_F(EndToEnd, NodeWhoseHeartbeatStopsIsNotUsedAndItsPodsKeepTheirSlices) {
  ClusterOptions options = Options(3, 4);
  options.node_stale_seconds = 15;  // the plugin refreshes its heartbeat every 10 s
  StartCluster(options);
  // Long pods pinned to node2's chips, half of each chip.
  std::vector<PodPlan> pinned;
  std::string node2_chips;
  for (int c = 0; c < 4; ++c) {
    node2_chips += (c ? "," : "") + cluster_->chip_uuid(2, c);
  }
  for (int i = 0; i < 4; ++i) {
    PodPlan p{"pinned-" + std::to_string(i), {{1, 40000, 50}}, 45s, {}};
    p.annotations["flexai.io/use-uuids"] = node2_chips;
    pinned.push_back(p);
  }
  Submit(pinned);
  for (int i = 0; i < 200 && driver_->running() < 4; ++i) std::this_thread::sleep_for(100ms);
  ASSERT_EQ(driver_->running(), 4) << driver_->Unfinished();

  cluster_->PauseDevicePlugin(2);  // frozen: no heartbeat, no Allocate
  Json probe = PodObject({"probe", {{1, 1000, 5}}, 1s, {}});
  std::string reason;
  for (int i = 0; i < 400 && reason.find("heartbeat") == std::string::npos; ++i) {
    std::this_thread::sleep_for(100ms);
    auto reply = HttpPostJson(cluster_->scheduler_urls()[0], "/filter",
                              {{"Pod", probe}, {"NodeNames", cluster_->node_names()}});
    Json result = Json::parse(reply.body, nullptr, false);
    if (!result.is_discarded()) {
      reason = result.value("FailedAndUnresolvableNodes", Json::object()).value("node2", "");
    }
  }
  ASSERT_NE(reason.find("heartbeat"), std::string::npos) << "node2 never judged stale";

  // While node2 is lost, new pods go elsewhere only.
  Submit(RandomMix(40, 6, 81559, 200ms, 800ms, "while-lost"), 30ms);
  for (int i = 0; i < 400 && driver_->Report().succeeded < 40; ++i) {
    std::this_thread::sleep_for(100ms);
  }
  DriverReport mid = driver_->Report();
  EXPECT_EQ(mid.succeeded, 40) << driver_->Unfinished();

  // Back: node2's pinned pods still hold their halves, so new pods must fit around them.
  cluster_->ResumeDevicePlugin(2);
  for (int i = 0; i < 4; ++i) {
    PodPlan p{"after-" + std::to_string(i), {{1, 40000, 50}}, 1s, {}};
    p.annotations["flexai.io/use-uuids"] = node2_chips;
    driver_->Submit(p);
  }
  Submit(RandomMix(30, 7, 81559, 200ms, 800ms, "after-mix"), 30ms);
  ExpectCleanFinish();
}

TEST_F(EndToEnd, LeaderKilledFollowerTakesOverAndNothingIsLost) {
  ClusterOptions options = Options(3, 4);
  options.schedulers = 2;
  StartCluster(options);
  int leader = -1;
  for (int i = 0; i < 300 && leader < 0; ++i) {
    leader = cluster_->LeaderIndex();
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_GE(leader, 0) << "no replica became leader\n" << cluster_->LogTails();
  std::jthread submitter([&] { Submit(RandomMix(80, 8, 81559, 300ms, 1000ms), 60ms); });
  std::this_thread::sleep_for(2s);
  cluster_->KillScheduler(leader);  // SIGKILL: the lease is not released, it must expire
  int successor = -1;
  for (int i = 0; i < 400 && successor < 0; ++i) {
    successor = cluster_->LeaderIndex();
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(successor, 1 - leader);
  cluster_->StartScheduler(leader);  // comes back as a follower
  submitter.join();
  ExpectCleanFinish();
  EXPECT_EQ(cluster_->LeaderIndex(), 1 - leader);
}

}  // namespace
}  // namespace flexai::e2e
