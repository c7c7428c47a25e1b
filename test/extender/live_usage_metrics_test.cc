// The chips' live usage, as each node's device plugin publishes it (flexai.io/live-usage), on the
// Hi Scheduler's /metrics: per-chip gauges that follow the nodes in the cache.
#include <gtest/gtest.h>
#include <httplib.h>

#include "extender/metrics.h"
#include "fake_apiserver.h"
#include "service_harness.h"

namespace flexai::extender {
namespace {

using testing::Json;
using testing::NodeWithChips;

kube::NodeLiveUsage Usage(const std::string& sampled_at, std::vector<kube::ChipLiveUsage> chips) {
  kube::NodeLiveUsage usage;
  usage.sampled_at = *kube::ParseTime(sampled_at);
  usage.chips = std::move(chips);
  return usage;
}

TEST(LiveUsageMetricsTest, GaugesPerChipFollowTheNodes) {
  ExtenderMetrics metrics;
  metrics.SetLiveUsage(
      {{"n1", Usage("2026-11-28T03:31:06Z",
                    {{.index = 0, .uuid = "GPU-a", .memory_used_mib = 0, .compute_used_percent = 0},
                     {.index = 1,
                      .uuid = "GPU-b",
                      .memory_used_mib = 3072,
                      .compute_used_percent = 25.5}})},
       {"n2",
        Usage(
            "2026-11-28T03:31:00Z",
            {{.index = 0, .uuid = "GPU-c", .memory_used_mib = 100, .compute_used_percent = 1}})}});
  std::string text = metrics.Render({}, true, true);
  auto has = [&](const std::string& line) { return text.find(line) != std::string::npos; };
  EXPECT_TRUE(has(R"(flexai_chip_live_memory_used_mib{chip="1",node="n1",uuid="GPU-b"} 3072)"))
      << text;
  EXPECT_TRUE(
      has(R"(flexai_chip_live_compute_used_percent{chip="1",node="n1",uuid="GPU-b"} 25.5)"));
  EXPECT_TRUE(has(R"(flexai_chip_live_memory_used_mib{chip="0",node="n1",uuid="GPU-a"} 0)"));
  EXPECT_TRUE(has(R"(flexai_chip_live_memory_used_mib{chip="0",node="n2",uuid="GPU-c"} 100)"));
  EXPECT_TRUE(has(R"(flexai_node_live_usage_timestamp_seconds{node="n1"} 1795836666)")) << text;

  // n2 left the cache (or lost its annotation): its series go with it.
  metrics.SetLiveUsage(
      {{"n1",
        Usage("2026-11-28T03:31:16Z",
              {{.index = 0, .uuid = "GPU-a", .memory_used_mib = 10, .compute_used_percent = 0}})}});
  text = metrics.Render({}, true, true);
  EXPECT_TRUE(has(R"(flexai_chip_live_memory_used_mib{chip="0",node="n1",uuid="GPU-a"} 10)"))
      << text;
  EXPECT_FALSE(has(R"(node="n2")")) << text;
  EXPECT_FALSE(has(R"(uuid="GPU-b")")) << text;
}

// The service end to end: a node's annotation, read by its watch, is on /metrics.
TEST(LiveUsageMetricsTest, TheServiceExportsWhatTheNodesPublish) {
  fake::FakeApiServer apiserver;
  ASSERT_TRUE(apiserver.Start().ok());
  Json node = NodeWithChips("n1", {{"GPU-a", 40000}});
  node["metadata"]["annotations"][std::string(kube::kLiveUsageAnnotation)] =
      R"({"version":1,"sampledAt":"2026-11-28T03:31:06Z","chips":[
          {"index":0,"uuid":"GPU-a","memoryUsedMiB":2048,"computeUsedPercent":12.5}]})";
  apiserver.Create("nodes", "", node);
  Json broken = NodeWithChips("n2", {{"GPU-b", 40000}});
  broken["metadata"]["annotations"][std::string(kube::kLiveUsageAnnotation)] = "{not json";
  apiserver.Create("nodes", "", broken);
  std::vector<std::unique_ptr<HiSchedulerService>> services;
  int port = testing::StartReadyService(apiserver.url(), {}, services);
  ASSERT_GT(port, 0);
  httplib::Client http("127.0.0.1", port);
  auto reply = http.Get("/metrics");
  ASSERT_TRUE(reply);
  ASSERT_EQ(reply->status, 200);
  EXPECT_NE(
      reply->body.find(R"(flexai_chip_live_memory_used_mib{chip="0",node="n1",uuid="GPU-a"} 2048)"),
      std::string::npos)
      << reply->body;
  EXPECT_NE(reply->body.find(
                R"(flexai_chip_live_compute_used_percent{chip="0",node="n1",uuid="GPU-a"} 12.5)"),
            std::string::npos);
  EXPECT_EQ(reply->body.find(R"(uuid="GPU-b")"), std::string::npos);  // malformed: ignored
  EXPECT_NE(reply->body.find(R"(flexai_cluster{quantity="nodes_with_chips"} 2)"),
            std::string::npos)
      << reply->body;  // and n2 still counts with its chips
  for (auto& service : services) service->Stop();
}

}  // namespace
}  // namespace flexai::extender
