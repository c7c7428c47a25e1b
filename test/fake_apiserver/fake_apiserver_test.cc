// The fake apiserver follows the REST contract flexai relies on; checked through flexai's own
// client so both sides agree with PROTOCOLS.md.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "fake_apiserver.h"
#include "kube/client.h"
#include "kube/operations.h"
#include "kube/paths.h"

namespace flexai::fake {
namespace {

using kube::Json;

class FakeApiServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.Start().ok());
    auto client = kube::KubeClient::Create(kube::PlainServerConfig(server_.url()));
    ASSERT_TRUE(client.ok());
    client_ = std::move(*client);
  }
  Json Pod(const std::string& name) {
    return {{"apiVersion", "v1"},
            {"kind", "Pod"},
            {"metadata", {{"name", name}, {"labels", {{"app", "demo"}}}}},
            {"spec", {{"containers", {{{"name", "c"}, {"image", "busybox"}}}}}}};
  }
  FakeApiServer server_;
  std::unique_ptr<kube::KubeClient> client_;
};

TEST_F(FakeApiServerTest, CreateAssignsUidVersionAndNamespaceAndRefusesDuplicates) {
  auto created = client_->Post(kube::PodsPath("ns1"), Pod("a"));
  ASSERT_EQ(created.status, 201) << created.error;
  EXPECT_FALSE(kube::UidOf(created.body).empty());
  EXPECT_FALSE(kube::ResourceVersionOf(created.body).empty());
  EXPECT_EQ(kube::NamespaceOf(created.body), "ns1");
  EXPECT_EQ(created.body["status"]["phase"], "Pending");
  EXPECT_EQ(client_->Post(kube::PodsPath("ns1"), Pod("a")).status, 409);
  EXPECT_EQ(client_->Get(kube::PodPath("ns1", "a")).status, 200);
  EXPECT_EQ(client_->Get(kube::PodPath("ns2", "a")).status, 404);
}

TEST_F(FakeApiServerTest, ListFiltersByNamespaceLabelAndFieldSelectors) {
  client_->Post(kube::PodsPath("ns1"), Pod("a"));
  client_->Post(kube::PodsPath("ns2"), Pod("b"));
  Json other = Pod("c");
  other["metadata"]["labels"]["app"] = "other";
  other["spec"]["nodeName"] = "n1";
  client_->Post(kube::PodsPath("ns2"), other);
  EXPECT_EQ(client_->Get(kube::PodsPath()).body["items"].size(), 3u);
  EXPECT_EQ(client_->Get(kube::PodsPath("ns2")).body["items"].size(), 2u);
  EXPECT_EQ(client_->Get(kube::PodsPath() + "?labelSelector=app%3Ddemo").body["items"].size(), 2u);
  auto on_node = client_->Get(kube::PodsPath() + "?fieldSelector=spec.nodeName%3Dn1");
  ASSERT_EQ(on_node.body["items"].size(), 1u);
  EXPECT_EQ(kube::NameOf(on_node.body["items"][0]), "c");
}

TEST_F(FakeApiServerTest, MergePatchWithStaleResourceVersionConflicts) {
  auto created = client_->Post(kube::PodsPath("ns"), Pod("a"));
  std::string rv = kube::ResourceVersionOf(created.body);
  Json patch = {{"metadata", {{"resourceVersion", rv}, {"annotations", {{"k", "v1"}}}}}};
  auto first = client_->MergePatch(kube::PodPath("ns", "a"), patch);
  ASSERT_EQ(first.status, 200) << first.error;
  EXPECT_EQ(kube::AnnotationOf(first.body, "k"), "v1");
  auto stale = client_->MergePatch(kube::PodPath("ns", "a"), patch);
  EXPECT_EQ(stale.status, 409);
  Json remove = {{"metadata", {{"annotations", {{"k", nullptr}}}}}};
  auto removed = client_->MergePatch(kube::PodPath("ns", "a"), remove);
  EXPECT_EQ(kube::AnnotationOf(removed.body, "k"), "");
}

TEST_F(FakeApiServerTest, BindingSetsNodeNameOnceAndChecksUid) {
  auto created = client_->Post(kube::PodsPath("ns"), Pod("a"));
  EXPECT_EQ(kube::BindPod(*client_, "ns", "a", "wrong-uid", "n1").status, 409);
  auto bound = kube::BindPod(*client_, "ns", "a", kube::UidOf(created.body), "n1");
  ASSERT_EQ(bound.status, 201) << bound.error;
  EXPECT_EQ(client_->Get(kube::PodPath("ns", "a")).body["spec"]["nodeName"], "n1");
  EXPECT_EQ(kube::BindPod(*client_, "ns", "a", "", "n2").status, 409);
}

TEST_F(FakeApiServerTest, WatchStreamsChangesAfterTheListVersion) {
  auto list = client_->Get(kube::PodsPath());
  std::string rv = kube::ResourceVersionOf(list.body);
  std::vector<std::string> seen;
  kube::WatchCancel cancel;
  std::thread watcher([&] {
    client_->Watch(
        kube::PodsPath() + "?watch=1&resourceVersion=" + rv,
        [&](kube::WatchEvent e) {
          seen.push_back(e.type + " " + kube::NameOf(e.object));
          return seen.size() < 3;
        },
        &cancel);
  });
  client_->Post(kube::PodsPath("ns"), Pod("a"));
  client_->MergePatch(kube::PodPath("ns", "a"), {{"metadata", {{"labels", {{"x", "y"}}}}}});
  client_->Delete(kube::PodPath("ns", "a"));
  watcher.join();
  EXPECT_EQ(seen, (std::vector<std::string>{"ADDED a", "MODIFIED a", "DELETED a"}));
}

TEST_F(FakeApiServerTest, WatchFromCompactedVersionEndsWithGone) {
  auto list = client_->Get(kube::PodsPath());
  std::string rv = kube::ResourceVersionOf(list.body);
  client_->Post(kube::PodsPath("ns"), Pod("a"));
  server_.store().Compact();
  auto result = client_->Watch(kube::PodsPath() + "?watch=1&resourceVersion=" + rv,
                               [](kube::WatchEvent) { return true; });
  EXPECT_EQ(result.end, kube::WatchEnd::kGone);
}

TEST_F(FakeApiServerTest, InjectedFaultsAreConsumedInOrder) {
  client_->Post(kube::PodsPath("ns"), Pod("a"));
  server_.InjectFaults({.patch_conflicts = 1, .server_errors = 1});
  EXPECT_EQ(client_->Get(kube::PodPath("ns", "a")).status, 500);
  EXPECT_EQ(client_->Get(kube::PodPath("ns", "a")).status, 200);
  Json patch = {{"metadata", {{"annotations", {{"k", "v"}}}}}};
  EXPECT_EQ(client_->MergePatch(kube::PodPath("ns", "a"), patch).status, 409);
  EXPECT_EQ(client_->MergePatch(kube::PodPath("ns", "a"), patch).status, 200);
}

TEST_F(FakeApiServerTest, ServesDiscoveryDocumentsForKubectl) {
  EXPECT_EQ(client_->Get("/api").body["versions"][0], "v1");
  auto groups = client_->Get("/apis").body["groups"];
  bool has_coordination = false;
  for (const auto& g : groups) has_coordination |= g["name"] == "coordination.k8s.io";
  EXPECT_TRUE(has_coordination);
  auto core = client_->Get("/api/v1");
  bool has_binding = false;
  for (const auto& r : core.body["resources"]) has_binding |= r["name"] == "pods/binding";
  EXPECT_TRUE(has_binding);
  EXPECT_EQ(client_->Get("/apis/coordination.k8s.io/v1").status, 200);
  EXPECT_EQ(client_->Get("/openapi/v2").status, 404);
}

TEST_F(FakeApiServerTest, MalformedBodiesGetBadRequest) {
  auto r = client_->Post(kube::PodsPath("ns"), Json("not an object"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(client_->Get("/api/v1/widgets").status, 404);
}

TEST(FakeApiServerState, LoadsAListOfObjectsAndRefusesUnknownKinds) {
  auto path = std::filesystem::temp_directory_path() /
              ("flexai-state-" + std::to_string(::getpid()) + ".json");
  std::ofstream(path) << R"({"apiVersion": "v1", "kind": "List", "items": [
      {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}},
      {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "team"}}]})";
  FakeApiServer server;
  ASSERT_TRUE(server.LoadState(path.string()).ok());
  EXPECT_EQ(server.Get("nodes", "", "n1").status, 200);
  EXPECT_EQ(server.Get("pods", "team", "p").status, 200);
  std::ofstream(path) << R"([{"apiVersion": "v9", "kind": "Widget", "metadata": {"name": "w"}}])";
  FakeApiServer other;
  auto refused = other.LoadState(path.string());
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("Widget"), std::string::npos);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace flexai::fake
