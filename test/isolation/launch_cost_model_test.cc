// Launch cost estimates: learned per kernel, the shortest of the recent samples; contended samples
// only lower them.
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

TEST(LaunchCostModelTest, TimeSpentWaitingBehindOtherContextsDoesNotRaiseTheEstimate) {
  LaunchCostModel model;
  model.AddSample(Kernel(2), 1'000'000);
  for (int i = 0; i < 5; ++i) model.AddSample(Kernel(2), 3'000'000);  // queued behind others
  EXPECT_EQ(model.Estimate(Kernel(2)), 1'000'000);
  model.AddSample(Kernel(2), 500'000);
  EXPECT_EQ(model.Estimate(Kernel(2)), 500'000);
}

TEST(LaunchCostModelTest, AKernelThatReallyGotLongerIsFollowedAfterAWindowOfSamples) {
  LaunchCostModel model;
  model.AddSample(Kernel(5), 1'000'000);
  for (unsigned i = 0; i < LaunchCostModel::kWindow; ++i) model.AddSample(Kernel(5), 4'000'000);
  EXPECT_EQ(model.Estimate(Kernel(5)), 4'000'000);
}

TEST(LaunchCostModelTest, ContendedSamplesNeverRaiseTheEstimate) {
  // Beside a busy neighbour every sample may be stretched by its time slices: a whole window of
  // them must not replace the kernel's clean cost.
  LaunchCostModel model;
  model.AddSample(Kernel(6), 1'000'000);
  for (unsigned i = 0; i < 4 * LaunchCostModel::kWindow; ++i)
    model.AddSample(Kernel(6), 1'400'000, /*contenders=*/1);
  EXPECT_EQ(model.Estimate(Kernel(6)), 1'000'000);
  model.AddSample(Kernel(6), 900'000, /*contenders=*/1);  // still an upper bound: taken
  EXPECT_EQ(model.Estimate(Kernel(6)), 900'000);
  for (unsigned i = 0; i < LaunchCostModel::kWindow; ++i) model.AddSample(Kernel(6), 2'000'000);
  EXPECT_EQ(model.Estimate(Kernel(6)), 2'000'000);  // clean samples still follow a real rise
}

TEST(LaunchCostModelTest, AContendedSampleStillProvesACostOfAtLeastItsShare) {
  // Contexts time-slice the GPU round-robin: beside n others a kernel gets at least 1/(n+1) of
  // the time it spans. An estimate below that bound (learned when the kernel did less work, or a
  // contended sample that slipped through as clean) is lifted to it.
  LaunchCostModel model;
  model.AddSample(Kernel(8), 1'000'000);
  model.AddSample(Kernel(8), 4'000'000, /*contenders=*/1);
  EXPECT_EQ(model.Estimate(Kernel(8)), 2'000'000);
  model.AddSample(Kernel(8), 6'000'000, /*contenders=*/3);  // proves only 1.5 ms: no change
  EXPECT_EQ(model.Estimate(Kernel(8)), 2'000'000);
}

TEST(LaunchCostModelTest, TheFirstSampleOfAKernelCountsEvenWhenContended) {
  LaunchCostModel model;
  model.AddSample(Kernel(7), 3'000'000, /*contenders=*/1);
  EXPECT_EQ(model.Estimate(Kernel(7)), 3'000'000);
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
