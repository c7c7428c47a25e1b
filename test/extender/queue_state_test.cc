// QueueState fed by the pod watch directly (no service): the gang book follows the pods listed
// and watched, including after a relist.
#include <gtest/gtest.h>

#include "extender/placement_choice.h"
#include "extender/queue_state.h"
#include "test_objects.h"

namespace flexai::extender {
namespace {

using testing::GpuPod;
using testing::Json;
using testing::NodeWithChips;

Json BoundGangMember(const std::string& name, const std::string& gang, int size) {
  Json pod = GpuPod(name, 1);
  pod["metadata"]["annotations"]["flexai.io/gang"] = gang;
  pod["metadata"]["annotations"]["flexai.io/gang-size"] = std::to_string(size);
  pod["metadata"]["annotations"]["flexai.io/assignment"] =
      "node=n1;cpu=0;mem=0|main=GPU-" + name + ":81559:100";
  pod["spec"]["nodeName"] = "n1";
  pod["status"]["phase"] = "Running";
  return pod;
}

class QueueStateTest : public ::testing::Test {
 protected:
  std::shared_ptr<partition::SlicePolicy> policy_ =
      std::make_shared<partition::SlicePolicy>(partition::DefaultSlicePolicy());
  ClusterCache cache_{policy_};
  Scheduler scheduler_{cache_, MakeExtenderPlacementPolicy(*policy_)};
  QueueState queue_{cache_, scheduler_, {}};
};

TEST_F(QueueStateTest, RelistForgetsBoundGangMembersWhosePodsAreGone) {
  cache_.ReplaceNodes({NodeWithChips("n1", {{"GPU-a"}, {"GPU-b"}})});
  Json a = BoundGangMember("a", "job", 2);
  Json b = BoundGangMember("b", "job", 2);
  queue_.ReplacePods({a, b}, [] {});
  ASSERT_TRUE(queue_.gangs().Member("uid-a").has_value());
  ASSERT_TRUE(queue_.gangs().Member("uid-a")->bound);

  // Both pods were deleted while the watch was down (410, relist): a re-run gang of the same
  // name must start from zero.
  queue_.ReplacePods({}, [] {});
  EXPECT_FALSE(queue_.gangs().Member("uid-a").has_value());
  EXPECT_FALSE(queue_.gangs().Member("uid-b").has_value());
  EXPECT_EQ(queue_.gangs().Progress("default/job").held, 0);
}

}  // namespace
}  // namespace flexai::extender
