// Launch cost estimates: learned per kernel, quick to fall, slow to rise.
#include "isolation/hook/launch_cost_model.h"

#include <gtest/gtest.h>

namespace flexai::isolation {
namespace {

const void* Kernel(std::uintptr_t id) { return reinterpret_cast<const void*>(id * 16); }

TEST(LaunchCostModelTest, UnknownKernelsCostTheDefaultUntilSampled) {
  LaunchCostModel model;
  EXPECT_FALSE(model.HasSample(Kernel(1)));
  EXPECT_EQ(model.Estimate(Kernel(1)), LaunchCostModel::kDefaultCostNs);
  model.AddSample(Kernel(1), 1'000'000);
  EXPECT_TRUE(model.HasSample(Kernel(1)));
  EXPECT_EQ(model.Estimate(Kernel(1)), 1'000'000);
}

TEST(LaunchCostModelTest, ShorterSamplesWinAtOnceLongerOnesSlowly) {
  LaunchCostModel model;
  model.AddSample(Kernel(2), 1'000'000);
  model.AddSample(Kernel(2), 9'000'000);  // e.g. waited behind another context's time slice
  EXPECT_EQ(model.Estimate(Kernel(2)), 2'000'000);
  model.AddSample(Kernel(2), 500'000);
  EXPECT_EQ(model.Estimate(Kernel(2)), 500'000);
}

TEST(LaunchCostModelTest, KernelsAreEstimatedSeparately) {
  LaunchCostModel model;
  model.AddSample(Kernel(3), 100);
  model.AddSample(Kernel(4), 7'000);
  EXPECT_EQ(model.Estimate(Kernel(3)), 100);
  EXPECT_EQ(model.Estimate(Kernel(4)), 7'000);
}

}  // namespace
}  // namespace flexai::isolation
