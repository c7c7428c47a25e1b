// The whole path with real processes: pods go through hi-scheduler's filter/prioritize/bind, the
// device plugin's Allocate hands out exactly the chips and limits chosen, pods finish and their
// slices are reused, and faults (processes killed, restarted or frozen, API server errors and
// slowness, a leader lost) never lose or double an allocation nor leave a pod stuck.
#include <gtest/gtest.h>
#include <signal.h>

#include <random>
#include <thread>

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
    if (HasFailure()) std::printf("%s\n", cluster_->LogTails().c_str());
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

}  // namespace
}  // namespace flexai::e2e
