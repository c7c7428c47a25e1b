// Launch cost estimates: learned per kernel, the shortest of the recent samples; contended samples
// only lower them.
#include "isolation/hook/launch_cost_model.h"

#include <gtest/gtest.h>

#include <memory>

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

TEST(LaunchCostModelTest, TheFirstSampleOfAKernelCountsEvenWhenContended) {
  LaunchCostModel model;
  model.AddSample(Kernel(7), 3'000'000, /*contenders=*/1);
  EXPECT_EQ(model.Estimate(Kernel(7)), 3'000'000);
}

TEST(LaunchCostModelTest, AKeyTheTableHasNoRoomForCountsAsSampledAndCostsTheAverage) {
  // Else every launch of such a key on a throttled device would be timed as a kernel's first,
  // waiting for the GPU each time.
  auto model = std::make_unique<LaunchCostModel>();
  std::size_t placed = 0;
  std::uintptr_t homeless = 0;
  for (std::uintptr_t id = 1; id <= 3 * LaunchCostModel::kSlots; ++id) {
    model->AddSample(Kernel(id), 1'000);
    if (model->HasSample(Kernel(id))) {
      ++placed;
    } else if (homeless == 0) {
      homeless = id;
    }
  }
  ASSERT_NE(homeless, 0u);  // the table did fill up
  EXPECT_LE(placed, LaunchCostModel::kSlots);
  model->AddSample(Kernel(1), 9'000);  // moves the average, not the homeless key
  bool sampled = false;
  std::int64_t cost = model->Estimate(Kernel(homeless), &sampled);
  EXPECT_TRUE(sampled);
  EXPECT_GT(cost, 1'000);  // the average, which the 9 us sample raised
  EXPECT_FALSE(model->HasSample(Kernel(homeless)));
}

TEST(LaunchCostModelTest, AContendedSampleCannotRaiseTheAverageEither) {
  // The average is what keys without a place in the table are charged.
  LaunchCostModel model;
  model.AddSample(Kernel(9), 1'000);
  std::int64_t before = model.Estimate(Kernel(10));  // no sample: the average
  // First timings of new kernels, stretched by a neighbour: each kernel takes its own, the
  // average does not.
  for (std::uintptr_t id = 100; id < 120; ++id)
    model.AddSample(Kernel(id), 50'000'000, /*contenders=*/1);
  EXPECT_EQ(model.Estimate(Kernel(100)), 50'000'000);
  EXPECT_EQ(model.Estimate(Kernel(10)), before);
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
