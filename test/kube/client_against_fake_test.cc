// The Kubernetes client's list/watch, conditional patch and leader election behave as the API
// conventions require, checked against the fake apiserver.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include "fake_apiserver.h"
#include "kube/client.h"
#include "kube/leader_election.h"
#include "kube/lease_follower.h"
#include "kube/list_watcher.h"
#include "kube/operations.h"
#include "kube/paths.h"

namespace flexai::kube {
namespace {

// Polls `condition` for up to 10 s (events arrive on other threads); the bound only keeps a
// broken build from hanging, it is not a speed assertion.
template <typename F>
bool Eventually(F condition) {
  for (int i = 0; i < 1000; ++i) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

Json Pod(const std::string& name) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", name}}},
          {"spec", Json::object()}};
}

class ClientAgainstFakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.Start().ok());
    server_.set_bookmark_interval(std::chrono::milliseconds(100));
    client_ = std::move(KubeClient::Create(PlainServerConfig(server_.url())).value());
  }
  fake::FakeApiServer server_;
  std::unique_ptr<KubeClient> client_;
};

// A tiny cache fed by a ListWatcher, as hi-scheduler keeps one.
struct NameCache {
  std::mutex mu;
  std::map<std::string, std::string> rv_by_name;
  ListWatchHandlers Handlers() {
    return {[this](std::vector<Json> items) {
              std::lock_guard lock(mu);
              rv_by_name.clear();
              for (const auto& o : items) rv_by_name[NameOf(o)] = ResourceVersionOf(o);
            },
            [this](const std::string& type, const Json& o) {
              std::lock_guard lock(mu);
              if (type == "DELETED") {
                rv_by_name.erase(NameOf(o));
              } else {
                rv_by_name[NameOf(o)] = ResourceVersionOf(o);
              }
            }};
  }
  bool Has(const std::string& name) {
    std::lock_guard lock(mu);
    return rv_by_name.count(name) > 0;
  }
};

TEST_F(ClientAgainstFakeTest, ListWatcherListsThenFollowsAddsAndDeletes) {
  client_->Post(PodsPath("ns"), Pod("before"));
  NameCache cache;
  ListWatcher watcher(*client_, PodsPath(), cache.Handlers());
  watcher.Start();
  ASSERT_TRUE(Eventually([&] { return watcher.synced(); }));
  EXPECT_TRUE(cache.Has("before"));
  client_->Post(PodsPath("ns"), Pod("after"));
  EXPECT_TRUE(Eventually([&] { return cache.Has("after"); }));
  client_->Delete(PodPath("ns", "before"));
  EXPECT_TRUE(Eventually([&] { return !cache.Has("before"); }));
  watcher.Stop();
}

TEST_F(ClientAgainstFakeTest, ListWatcherReadsEveryPageOfALongList) {
  for (int i = 0; i < 7; ++i) client_->Post(PodsPath("ns"), Pod("p" + std::to_string(i)));
  NameCache cache;
  ListWatchOptions options;
  options.page_size = 3;
  ListWatcher watcher(*client_, PodsPath(), cache.Handlers(), options);
  watcher.Start();
  ASSERT_TRUE(Eventually([&] { return watcher.synced(); }));
  for (int i = 0; i < 7; ++i) EXPECT_TRUE(cache.Has("p" + std::to_string(i))) << i;
  EXPECT_GE(server_.request_count("GET"), 3);
  watcher.Stop();
}

TEST_F(ClientAgainstFakeTest, ListWatcherListsAgainAfterGone) {
  NameCache cache;
  ListWatchOptions options;
  options.watch_timeout_seconds = 1;  // streams end often: re-watches happen
  ListWatcher watcher(*client_, PodsPath(), cache.Handlers(), options);
  server_.InjectFaults({.watch_gone = 1});
  watcher.Start();
  ASSERT_TRUE(Eventually([&] { return watcher.list_count() >= 2; }));
  client_->Post(PodsPath("ns"), Pod("later"));
  EXPECT_TRUE(Eventually([&] { return cache.Has("later"); }));
  watcher.Stop();
}

TEST_F(ClientAgainstFakeTest, ListWatcherRecoversFromServerErrors) {
  server_.InjectFaults({.server_errors = 2});
  NameCache cache;
  ListWatchOptions options;
  options.backoff_initial = std::chrono::milliseconds(10);
  ListWatcher watcher(*client_, PodsPath(), cache.Handlers(), options);
  watcher.Start();
  EXPECT_TRUE(Eventually([&] { return watcher.synced(); }));
  watcher.Stop();
}

TEST_F(ClientAgainstFakeTest, BookmarksAdvanceTheResourceVersion) {
  NameCache cache;
  ListWatcher watcher(*client_, PodsPath("ns"), cache.Handlers());
  watcher.Start();
  ASSERT_TRUE(Eventually([&] { return watcher.synced(); }));
  std::string listed = watcher.resource_version();
  client_->Post(PodsPath("other"), Pod("elsewhere"));  // not in our namespace: only a bookmark
  EXPECT_TRUE(Eventually([&] { return watcher.resource_version() != listed; }));
  EXPECT_FALSE(cache.Has("elsewhere"));
  watcher.Stop();
}

TEST_F(ClientAgainstFakeTest, PatchWithRetryRereadsOnConflict) {
  client_->Post(PodsPath("ns"), Pod("p"));
  server_.InjectFaults({.patch_conflicts = 2});
  int builds = 0;
  PatchOutcome outcome = PatchWithRetry(
      *client_, PodPath("ns", "p"), [&](const Json&, std::string&) -> std::optional<Json> {
        ++builds;
        return Json{{"metadata", {{"annotations", {{"k", "v"}}}}}};
      });
  ASSERT_TRUE(outcome.ok()) << outcome.response.error;
  EXPECT_EQ(outcome.attempts, 3);
  EXPECT_EQ(builds, 3);
  EXPECT_EQ(AnnotationOf(outcome.response.body, "k"), "v");
}

TEST_F(ClientAgainstFakeTest, PatchWithRetryStopsWhenTheBuilderDeclines) {
  client_->Post(PodsPath("ns"), Pod("p"));
  PatchOutcome outcome = PatchWithRetry(*client_, PodPath("ns", "p"),
                                        [&](const Json&, std::string& why) -> std::optional<Json> {
                                          why = "pod already bound";
                                          return std::nullopt;
                                        });
  EXPECT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.declined, "pod already bound");
}

TEST_F(ClientAgainstFakeTest, PatchWithStaleKnownCopyRetriesWithFreshVersion) {
  auto created = client_->Post(PodsPath("ns"), Pod("p"));
  client_->MergePatch(PodPath("ns", "p"), {{"metadata", {{"labels", {{"a", "b"}}}}}});
  PatchOutcome outcome = PatchWithRetry(
      *client_, PodPath("ns", "p"),
      [&](const Json&, std::string&) -> std::optional<Json> {
        return Json{{"metadata", {{"annotations", {{"k", "v"}}}}}};
      },
      &created.body);
  ASSERT_TRUE(outcome.ok()) << outcome.response.error;
  EXPECT_EQ(outcome.attempts, 2);
}

TEST_F(ClientAgainstFakeTest, OnlyOneOfTwoCandidatesHoldsTheLease) {
  LeaderElectionConfig config;
  config.lease_name = "test-lease";
  config.identity = "a";
  LeaderElector a(*client_, config);
  config.identity = "b";
  LeaderElector b(*client_, config);
  EXPECT_TRUE(a.TryAcquireOrRenew());
  EXPECT_FALSE(b.TryAcquireOrRenew());
  EXPECT_TRUE(a.TryAcquireOrRenew());  // renewing works
  auto lease = client_->Get(LeasePath("kube-system", "test-lease"));
  EXPECT_EQ(lease.body["spec"]["holderIdentity"], "a");
}

TEST_F(ClientAgainstFakeTest, ReleasedLeaseIsTakenOverWithoutWaiting) {
  LeaderElectionConfig config;
  config.lease_name = "handover";
  config.retry_period = std::chrono::milliseconds(50);
  config.identity = "first";
  auto first = std::make_unique<LeaderElector>(*client_, config);
  first->Start();
  ASSERT_TRUE(Eventually([&] { return first->is_leader(); }));
  config.identity = "second";
  LeaderElector second(*client_, config);
  second.Start();
  first.reset();  // stops and releases
  EXPECT_TRUE(Eventually([&] { return second.is_leader(); }));
  second.Stop();
}

TEST(HolderIsPartner, MatchesThePodNameBeforeKubeSchedulersUuid) {
  EXPECT_TRUE(
      HolderIsPartner("flexai-scheduler-7d9f-abcde_1b2c-33", "flexai-scheduler-7d9f-abcde"));
  EXPECT_TRUE(HolderIsPartner("sched-1", "sched-1"));
  EXPECT_FALSE(HolderIsPartner("sched-10_uuid", "sched-1"));  // another pod, longer name
  EXPECT_FALSE(HolderIsPartner("sched-0_uuid", "sched-1"));
  EXPECT_FALSE(HolderIsPartner("", "sched-1"));
  EXPECT_FALSE(HolderIsPartner("sched-1_uuid", ""));
}

TEST_F(ClientAgainstFakeTest, FollowersLeadExactlyWhileTheirPartnerHoldsTheLease) {
  // Two replicas: kube-scheduler "sched-0"/"sched-1" elect on the Lease, each sidecar follows it.
  LeaderElectionConfig election;
  election.lease_name = "flexai-scheduler";
  election.identity = "sched-0_4f1c";
  auto kube_scheduler0 = std::make_unique<LeaderElector>(*client_, election);
  election.identity = "sched-1_9a0e";
  LeaderElector kube_scheduler1(*client_, election);
  LeaseFollowerConfig follow;
  follow.lease_name = "flexai-scheduler";
  follow.partner = "sched-0";
  LeaseFollower sidecar0(*client_, follow);
  follow.partner = "sched-1";
  LeaseFollower sidecar1(*client_, follow);

  sidecar0.Poll();
  EXPECT_FALSE(sidecar0.is_leader());  // no Lease yet: nobody leads
  kube_scheduler0->Start();
  ASSERT_TRUE(Eventually([&] { return kube_scheduler0->is_leader(); }));
  sidecar0.Poll();
  sidecar1.Poll();
  EXPECT_TRUE(sidecar0.is_leader());
  EXPECT_FALSE(sidecar1.is_leader());

  kube_scheduler0.reset();  // releases the Lease
  ASSERT_TRUE(kube_scheduler1.TryAcquireOrRenew());
  sidecar0.Poll();
  sidecar1.Poll();
  EXPECT_FALSE(sidecar0.is_leader());
  EXPECT_TRUE(sidecar1.is_leader());
}

TEST_F(ClientAgainstFakeTest, FollowerKeepsItsAnswerWhenTheLeaseCannotBeRead) {
  LeaderElectionConfig election;
  election.lease_name = "flexai-scheduler";
  election.identity = "sched-0_1";
  LeaderElector kube_scheduler(*client_, election);
  ASSERT_TRUE(kube_scheduler.TryAcquireOrRenew());
  LeaseFollowerConfig follow;
  follow.lease_name = "flexai-scheduler";
  follow.partner = "sched-0";
  LeaseFollower sidecar(*client_, follow);
  sidecar.Poll();
  ASSERT_TRUE(sidecar.is_leader());
  server_.Stop();  // apiserver gone: a transport error, not a new holder
  sidecar.Poll();
  EXPECT_TRUE(sidecar.is_leader());
}

}  // namespace
}  // namespace flexai::kube
