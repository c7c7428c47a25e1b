#include "device_plugin/kube_cluster_client.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace flexai::device_plugin
