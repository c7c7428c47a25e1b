#include "device_plugin/kube_cluster_client.h"

#include <gtest/gtest.h>

#include "fake_apiserver.h"
#include "kube/operations.h"

namespace flexai::device_plugin {
namespace {

TEST(PodSummaryFromJson, ADeletionTimestampMarksThePodBeingDeleted) {
  kube::Json pod = {{"metadata", {{"name", "p"}, {"namespace", "default"}, {"uid", "u1"}}},
                    {"status", {{"phase", "Pending"}}}};
  EXPECT_FALSE(PodSummaryFromJson(pod).being_deleted);
  pod["metadata"]["deletionTimestamp"] = nullptr;
  EXPECT_FALSE(PodSummaryFromJson(pod).being_deleted);
  pod["metadata"]["deletionTimestamp"] = "2026-11-28T03:00:00Z";
  EXPECT_TRUE(PodSummaryFromJson(pod).being_deleted);
}

kube::Json Pod(const std::string& name) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec", {{"nodeName", "n1"}, {"containers", {{{"name", "main"}}}}}}};
}

// A pod deleted and recreated under the same name between Allocate's match and its patch is
// another pod: the patch meant for the first must not mark the second.
TEST(KubeClusterClientTest, PodPatchIsRefusedWhenTheNameNowBelongsToAnotherPod) {
  fake::FakeApiServer api;
  ASSERT_TRUE(api.Start().ok());
  auto client = KubeClusterClient::Create(kube::PlainServerConfig(api.url()), "n1");
  ASSERT_TRUE(client.ok()) << client.error().message;
  const std::string first_uid = kube::UidOf(api.Create("pods", "default", Pod("p")).body);
  ASSERT_FALSE(first_uid.empty());
  EXPECT_TRUE((*client)->PatchPodAnnotations("default", "p", first_uid, {{"k", "1"}}).ok());

  api.Delete("pods", "default", "p");
  api.Create("pods", "default", Pod("p"));
  Status refused = (*client)->PatchPodAnnotations("default", "p", first_uid, {{"k", "2"}});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("is now another pod"), std::string::npos) << refused.message();
  auto now = api.Get("pods", "default", "p").body;
  EXPECT_FALSE(now["metadata"].value("annotations", kube::Json::object()).contains("k"));
}

}  // namespace
}  // namespace flexai::device_plugin
