// The queue's metrics as Prometheus text: queue length, waiting gangs, reserved capacity, and the
// unblocked-pods counter that only grows.
#include <gtest/gtest.h>

#include "extender/metrics.h"

namespace flexai::extender {
namespace {

TEST(QueueMetricsTest, RenderShowsTheQueueAndReservedCapacity) {
  ExtenderMetrics metrics;
  QueueStats stats;
  stats.pending_pods = 3;
  stats.gangs_waiting = 1;
  stats.reserved_chips = 4;
  stats.reserved_memory_mib = 163840;
  stats.unblocked_total = 2;
  metrics.SetQueueSource([&] { return stats; });
  std::string text = metrics.Render({}, true, true);
  EXPECT_NE(text.find("flexai_pending_pods 3"), std::string::npos) << text;
  EXPECT_NE(text.find("flexai_gangs_waiting 1"), std::string::npos);
  EXPECT_NE(text.find("flexai_reserved{quantity=\"chips\"} 4"), std::string::npos);
  EXPECT_NE(text.find("flexai_reserved{quantity=\"memory_mib\"} 163840"), std::string::npos);
  EXPECT_NE(text.find("flexai_unblocked_pods_total 2"), std::string::npos);

  stats.unblocked_total = 5;
  stats.pending_pods = 0;
  text = metrics.Render({}, true, true);
  EXPECT_NE(text.find("flexai_unblocked_pods_total 5"), std::string::npos) << text;
  EXPECT_NE(text.find("flexai_pending_pods 0"), std::string::npos);
}

}  // namespace
}  // namespace flexai::extender
