// The extender's wire handlers: exact kube-scheduler extender v1 JSON, human filter reasons,
// pass-through of pods without flexai resources, 400 on malformed input.
#include <gtest/gtest.h>

#include "extender/extender_api.h"
#include "extender/placement_choice.h"
#include "test_objects.h"

namespace flexai::extender {
namespace {

using testing::GpuPod;
using testing::Json;
using testing::NodeWithChips;

class ExtenderApiTest : public ::testing::Test {
 protected:
  ExtenderApiTest()
      : policy_(std::make_shared<partition::SlicePolicy>(partition::DefaultSlicePolicy())),
        cache_(policy_),
        scheduler_(cache_, MakeExtenderPlacementPolicy(*policy_)),
        api_(
            scheduler_, [this] { return policy_; },
            [this](const BindArgs& a) {
              bound_.push_back(a);
              return std::string();
            }) {
    cache_.ReplaceNodes({NodeWithChips("n1", {{"GPU-a", 30000}, {"GPU-b", 30000}}),
                         NodeWithChips("n2", {{"GPU-c", 81559}})});
  }
  Json Call(HttpReply (ExtenderApi::*verb)(std::string_view) const, const Json& body,
            int want_status = 200) {
    HttpReply r = (api_.*verb)(body.dump());
    EXPECT_EQ(r.status, want_status) << r.body;
    return Json::parse(r.body);
  }
  std::shared_ptr<partition::SlicePolicy> policy_;
  ClusterCache cache_;
  Scheduler scheduler_;
  ExtenderApi api_;
  std::vector<BindArgs> bound_;
};

TEST_F(ExtenderApiTest, FilterKeepsNodesThatFitAndExplainsTheOthers) {
  Json args = {{"Pod", GpuPod("p", 1, 40000)}, {"NodeNames", {"n1", "n2"}}, {"Nodes", nullptr}};
  Json result = Call(&ExtenderApi::Filter, args);
  EXPECT_EQ(result["NodeNames"], Json({"n2"}));
  EXPECT_TRUE(result["Nodes"].is_null());
  EXPECT_EQ(result["Error"], "");
  ASSERT_TRUE(result["FailedAndUnresolvableNodes"].contains("n1"));
  EXPECT_EQ(result["FailedAndUnresolvableNodes"]["n1"],
            "node n1: asks 40000 MiB per chip, more than any chip has (30000 MiB)");
}

TEST_F(ExtenderApiTest, FilterSaysWhichChipHasTheMostRoomWhenAllAreBusy) {
  auto busy = GpuPod("busy", 1, 25000);
  busy["metadata"]["annotations"]["flexai.io/assignment"] =
      "node=n1;cpu=0;mem=0|main=GPU-a:25000:0";
  cache_.UpsertPod(busy);
  auto busy2 = GpuPod("busy2", 1, 20000);
  busy2["metadata"]["annotations"]["flexai.io/assignment"] =
      "node=n1;cpu=0;mem=0|main=GPU-b:20000:0";
  cache_.UpsertPod(busy2);
  Json result = Call(&ExtenderApi::Filter, {{"Pod", GpuPod("p", 1, 12000)}, {"NodeNames", {"n1"}}});
  EXPECT_EQ(result["NodeNames"], Json::array());
  EXPECT_EQ(result["FailedNodes"]["n1"],
            "node n1: no chip has 12000 MiB free (largest free 10000 MiB on GPU-b)");
}

TEST_F(ExtenderApiTest, FilterAcceptsAFullNodeListAndAnswersInKind) {
  Json nodes = {{"items", {{{"metadata", {{"name", "n1"}}}}, {{"metadata", {{"name", "n2"}}}}}}};
  Json result = Call(&ExtenderApi::Filter, {{"Pod", GpuPod("p", 1, 40000)}, {"Nodes", nodes}});
  ASSERT_TRUE(result["Nodes"].is_object());
  ASSERT_EQ(result["Nodes"]["items"].size(), 1u);
  EXPECT_EQ(result["Nodes"]["items"][0]["metadata"]["name"], "n2");
  EXPECT_TRUE(result["NodeNames"].is_null());
}

TEST_F(ExtenderApiTest, PodsWithoutFlexaiResourcesPassUntouched) {
  Json result = Call(&ExtenderApi::Filter,
                     {{"Pod", testing::PlainPod("web")}, {"NodeNames", {"n1", "n2", "cpu-only"}}});
  EXPECT_EQ(result["NodeNames"], Json({"n1", "n2", "cpu-only"}));
  EXPECT_TRUE(result["FailedNodes"].empty());
}

TEST_F(ExtenderApiTest, UnknownAndStaleNodesAreRefusedWithReasons) {
  cache_.UpsertNode(NodeWithChips("old", {{"GPU-o"}},
                                  std::chrono::system_clock::now() - std::chrono::minutes(10)));
  Json result =
      Call(&ExtenderApi::Filter, {{"Pod", GpuPod("p", 1, 1000)}, {"NodeNames", {"old", "ghost"}}});
  std::string stale = result["FailedAndUnresolvableNodes"]["old"];
  EXPECT_NE(stale.find("heartbeat"), std::string::npos) << stale;
  EXPECT_TRUE(result["FailedNodes"].contains("ghost"));
}

TEST_F(ExtenderApiTest, MalformedResourceQuantityFailsEveryNodeWithTheReason) {
  Json pod = GpuPod("p", 1);
  pod["spec"]["containers"][0]["resources"]["limits"]["flexai.io/gpu-memory"] = "lots";
  Json result = Call(&ExtenderApi::Filter, {{"Pod", pod}, {"NodeNames", {"n1"}}});
  std::string why = result["FailedAndUnresolvableNodes"]["n1"];
  EXPECT_NE(why.find("flexai.io/gpu-memory"), std::string::npos) << why;
}

TEST_F(ExtenderApiTest, PrioritizeScoresEveryNodeWithinZeroToTen) {
  Json result = Call(&ExtenderApi::Prioritize,
                     {{"Pod", GpuPod("p", 1, 10000)}, {"NodeNames", {"n1", "n2", "ghost"}}});
  ASSERT_EQ(result.size(), 3u);
  for (const auto& entry : result) {
    ASSERT_TRUE(entry.contains("Host"));
    ASSERT_TRUE(entry["Score"].is_number_integer());
    EXPECT_GE(entry["Score"].get<int>(), 0);
    EXPECT_LE(entry["Score"].get<int>(), 10);
  }
  EXPECT_EQ(result[2]["Host"], "ghost");
  EXPECT_EQ(result[2]["Score"], 0);
}

TEST_F(ExtenderApiTest, SpreadAnnotationPrefersTheEmptierNode) {
  auto busy = GpuPod("busy", 1, 20000, 50);
  busy["metadata"]["annotations"]["flexai.io/assignment"] =
      "node=n1;cpu=0;mem=0|main=GPU-a:20000:50";
  cache_.UpsertPod(busy);
  cache_.UpsertNode(NodeWithChips("n3", {{"GPU-x", 30000}, {"GPU-y", 30000}}));
  Json pod = GpuPod("p", 1, 10000, 10);
  pod["metadata"]["annotations"]["flexai.io/node-policy"] = "spread";
  Json result = Call(&ExtenderApi::Prioritize, {{"Pod", pod}, {"NodeNames", {"n1", "n3"}}});
  EXPECT_LT(result[0]["Score"].get<int>(), result[1]["Score"].get<int>()) << result.dump();
}

// A node override runs MPS on nodes labelled pool=mps; the others keep the default hook mode.
TEST_F(ExtenderApiTest, IsolationAnnotationKeepsSlicesOnNodesRunningThatMode) {
  partition::NodeOverride mps_pool;
  mps_pool.selector.match_labels = {{"pool", "mps"}};
  mps_pool.sharing.isolation_mode = partition::IsolationMode::kMps;
  policy_->node_overrides.push_back(mps_pool);
  Json n4 = NodeWithChips("n4", {{"GPU-m", 81559}});
  n4["metadata"]["labels"] = {{"pool", "mps"}};
  cache_.UpsertNode(n4);
  const Json nodes = {"n2", "n4"};

  Json mps_pod = GpuPod("p", 1, 10000, 20);
  mps_pod["metadata"]["annotations"]["flexai.io/isolation"] = "mps";
  Json result = Call(&ExtenderApi::Filter, {{"Pod", mps_pod}, {"NodeNames", nodes}});
  EXPECT_EQ(result["NodeNames"], Json({"n4"}));
  EXPECT_EQ(result["FailedAndUnresolvableNodes"]["n2"],
            "node n2: its slice policy runs isolation hook, the pod asks flexai.io/isolation=mps");

  Json hook_pod = GpuPod("q", 1, 10000, 20);
  hook_pod["metadata"]["annotations"]["flexai.io/isolation"] = "hook";
  result = Call(&ExtenderApi::Filter, {{"Pod", hook_pod}, {"NodeNames", nodes}});
  EXPECT_EQ(result["NodeNames"], Json({"n2"}));
  EXPECT_TRUE(result["FailedAndUnresolvableNodes"].contains("n4"));

  // Whole chips are not enforced in any mode: the annotation does not narrow them.
  Json whole = GpuPod("w", 1);
  whole["metadata"]["annotations"]["flexai.io/isolation"] = "mps";
  result = Call(&ExtenderApi::Filter, {{"Pod", whole}, {"NodeNames", nodes}});
  EXPECT_EQ(result["NodeNames"], Json({"n2", "n4"}));

  // Prioritize agrees with filter: the hook node cannot take the mps pod.
  result = Call(&ExtenderApi::Prioritize, {{"Pod", mps_pod}, {"NodeNames", nodes}});
  EXPECT_EQ(result[0]["Score"], 0) << result.dump();
  EXPECT_GT(result[1]["Score"].get<int>(), 0) << result.dump();
}

TEST_F(ExtenderApiTest, UnknownIsolationAnnotationFailsEveryNode) {
  Json pod = GpuPod("p", 1, 10000, 20);
  pod["metadata"]["annotations"]["flexai.io/isolation"] = "none";
  Json result = Call(&ExtenderApi::Filter, {{"Pod", pod}, {"NodeNames", {"n1", "n2"}}});
  EXPECT_EQ(result["NodeNames"], Json::array());
  std::string why = result["FailedAndUnresolvableNodes"]["n2"];
  EXPECT_NE(why.find("flexai.io/isolation: \"none\" is not hook or mps"), std::string::npos) << why;
}

TEST_F(ExtenderApiTest, BindPassesTheGoFieldNamesThrough) {
  Json result =
      Call(&ExtenderApi::Bind,
           {{"PodName", "p"}, {"PodNamespace", "default"}, {"PodUID", "uid-p"}, {"Node", "n2"}});
  EXPECT_EQ(result["Error"], "");
  ASSERT_EQ(bound_.size(), 1u);
  EXPECT_EQ(bound_[0].pod_uid, "uid-p");
  EXPECT_EQ(bound_[0].node, "n2");
}

TEST_F(ExtenderApiTest, MalformedRequestsGetBadRequestWithAMessage) {
  for (const char* body : {"", "{", "[]", "{\"Pod\": 3}", "{\"Pod\": {}, \"NodeNames\": 7}",
                           "{\"Pod\": {}, \"NodeNames\": [1]}", "null"}) {
    HttpReply f = api_.Filter(body);
    EXPECT_EQ(f.status, 400) << body;
    EXPECT_FALSE(Json::parse(f.body)["Error"].get<std::string>().empty());
    EXPECT_EQ(api_.Prioritize(body).status, 400) << body;
  }
  EXPECT_EQ(api_.Bind("{\"PodName\": 1}").status, 400);
  EXPECT_EQ(api_.Bind("not json").status, 400);
  EXPECT_TRUE(bound_.empty());
}

}  // namespace
}  // namespace flexai::extender
