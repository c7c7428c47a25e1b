// QuotaGate against a cluster cache fed by hand: usage per namespace from the pods' assignments,
// the filter screen (node-independent and per-node excess) and the quota metrics.
#include "extender/quota_gate.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "extender/preemption_quota_metrics.h"
#include "test_objects.h"

namespace flexai::extender {
namespace {

using testing::GpuPod;
using testing::Json;
using testing::NodeWithChips;

std::shared_ptr<partition::SlicePolicy> PolicyWithQuota(partition::NamespaceQuota quota) {
  auto policy = std::make_shared<partition::SlicePolicy>(partition::DefaultSlicePolicy());
  policy->quotas["team-a"] = quota;
  return policy;
}

// A bound pod of `ns` holding `memory_mib` on chip GPU-a of n1.
Json PlacedPod(const std::string& name, const std::string& ns, int64_t memory_mib) {
  Json pod = GpuPod(name, 1, memory_mib);
  pod["metadata"]["namespace"] = ns;
  pod["metadata"]["annotations"]["flexai.io/assignment"] =
      "node=n1;cpu=0;mem=0|main=GPU-a:" + std::to_string(memory_mib) + ":0";
  pod["spec"]["nodeName"] = "n1";
  return pod;
}

PodIntent Intent(const Json& pod, const partition::SlicePolicy& policy) {
  return ParsePodIntent(pod, policy);
}

TEST(QuotaGate, UsageCountsOnlyTheNamespacesOwnPods) {
  partition::NamespaceQuota quota;
  quota.memory_mib = 40000;
  ClusterCache cache(PolicyWithQuota(quota));
  cache.ReplaceNodes({NodeWithChips("n1", {{"GPU-a", 80000}})});
  cache.ReplacePods({PlacedPod("mine", "team-a", 30000), PlacedPod("other", "team-b", 30000)});
  QuotaGate gate(cache);
  std::vector<QuotaUse> use = gate.Use();
  ASSERT_EQ(use.size(), 1u);
  EXPECT_EQ(use[0].ns, "team-a");
  EXPECT_EQ(use[0].used, (partition::QuotaAmounts{1, 30000, 0}));

  Json pod = GpuPod("new", 1, 20000);
  pod["metadata"]["namespace"] = "team-a";
  auto refused = gate.Screen(Intent(pod, *cache.policy()), {"n1", "n9"});
  ASSERT_EQ(refused.size(), 2u);
  EXPECT_EQ(refused["n9"],
            "namespace team-a: quota memoryMiB 40000 MiB, in use 30000 MiB, this pod asks "
            "20000 MiB: over by 10000 MiB");
  pod["metadata"]["namespace"] = "team-b";  // no quota there
  EXPECT_TRUE(gate.Screen(Intent(pod, *cache.policy()), {"n1"}).empty());
}

TEST(QuotaGate, ChipSizedMemoryIsCheckedPerNode) {
  partition::NamespaceQuota quota;
  quota.memory_mib = 50000;
  ClusterCache cache(PolicyWithQuota(quota));
  cache.ReplaceNodes(
      {NodeWithChips("small", {{"GPU-s", 40000}}), NodeWithChips("large", {{"GPU-l", 80000}})});
  QuotaGate gate(cache);
  Json whole = GpuPod("whole", 1);  // a whole chip: its memory is the chip's
  whole["metadata"]["namespace"] = "team-a";
  auto refused = gate.Screen(Intent(whole, *cache.policy()), {"small", "large"});
  EXPECT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused["large"],
            "node large: namespace team-a: quota memoryMiB 50000 MiB, in use 0 MiB, this pod asks "
            "80000 MiB: over by 30000 MiB");
}

TEST(QuotaGate, BindHoldChecksTheChosenAssignment) {
  partition::NamespaceQuota quota;
  quota.chips = 1;
  ClusterCache cache(PolicyWithQuota(quota));
  cache.ReplaceNodes({NodeWithChips("n1", {{"GPU-a", 80000}})});
  cache.ReplacePods({PlacedPod("mine", "team-a", 1000)});
  QuotaGate gate(cache);
  Json pod = GpuPod("new", 1, 1000);
  pod["metadata"]["namespace"] = "team-a";
  QuotaGate::BindHold hold = gate.BeginBind(Intent(pod, *cache.policy()));
  partition::PodAssignment one;
  one.containers = {{"main", {{0, "GPU-a", 1000, 0, false}}}};
  EXPECT_FALSE(hold.Check(one).ok());
  pod["metadata"]["namespace"] = "elsewhere";
  EXPECT_TRUE(gate.BeginBind(Intent(pod, *cache.policy())).Check(one).ok());
}

TEST(PreemptionQuotaMetrics, QuotaGaugesFollowThePolicy) {
  prometheus::Registry registry;
  PreemptionQuotaMetrics metrics(registry);
  partition::NamespaceQuota quota;
  quota.memory_mib = 40000;
  metrics.SetQuotaUse({{"team-a", quota, {1, 30000, 20}}});
  metrics.CountPreemption(1, 2, 3);
  std::string text = prometheus::TextSerializer().Serialize(registry.Collect());
  EXPECT_NE(text.find("flexai_quota_used{namespace=\"team-a\",resource=\"memory_mib\"} 30000"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("flexai_quota_limit{namespace=\"team-a\",resource=\"memory_mib\"} 40000"),
            std::string::npos);
  EXPECT_EQ(text.find("flexai_quota_limit{namespace=\"team-a\",resource=\"chips\"}"),
            std::string::npos);  // no chips limit
  EXPECT_NE(text.find("flexai_extender_preempt_victims_total 3"), std::string::npos);
  EXPECT_NE(text.find("flexai_extender_preempt_nodes_total{result=\"dropped\"} 2"),
            std::string::npos);
  metrics.SetQuotaUse({});
  text = prometheus::TextSerializer().Serialize(registry.Collect());
  EXPECT_EQ(text.find("namespace=\"team-a\""), std::string::npos);
}

}  // namespace
}  // namespace flexai::extender
