// ShareCalibration: charges follow the driver's measure of what a throttled process used.
#include "isolation/hook/share_calibration.h"

#include <gtest/gtest.h>

#include <cmath>

namespace flexai::isolation {
namespace {

constexpr std::int64_t kSecond = 1'000'000'000;

// Runs one window of `calibration` on device 0 ending at `end`: charged and held back for the
// given shares of it, with the driver's figure `used`.
double Window(ShareCalibration& calibration, std::int64_t& end, double charged, double waited,
              std::optional<double> used, std::int64_t backlog_ns = 0) {
  calibration.NoteCharged(0, static_cast<std::int64_t>(charged * kSecond),
                          static_cast<std::int64_t>(waited * kSecond));
  end += kSecond;
  EXPECT_TRUE(calibration.WindowDue(0, end));
  return calibration.Observe(0, end, used, backlog_ns);
}

TEST(ShareCalibrationTest, UntilTheDriverSaysOtherwiseCostsAreChargedAsEstimated) {
  ShareCalibration calibration;
  EXPECT_EQ(calibration.Scale(0, 5'000'000), 5'000'000);
  EXPECT_DOUBLE_EQ(calibration.Factor(0), 1.0);
  EXPECT_EQ(calibration.Scale(99, 7), 7);  // a slot beyond the table is never scaled
}

TEST(ShareCalibrationTest, ChargesConvergeOnWhatTheProcessReallyUses) {
  // A 50% process whose launches really cost 0.7 of their estimates (its timings were stretched
  // by a neighbour's time slices): its bucket lets it be charged 50% of each window, and it then
  // uses 0.5 x 0.7 / factor of the GPU.
  ShareCalibration calibration;
  std::int64_t end = kSecond;
  ASSERT_FALSE(calibration.WindowDue(0, end));  // the first call starts the window
  for (int window = 0; window < 30; ++window) {
    Window(calibration, end, 0.5, 0.4, 0.5 * 0.7 / calibration.Factor(0));
  }
  EXPECT_NEAR(calibration.Factor(0), 0.7, 0.01);
  EXPECT_NEAR(static_cast<double>(calibration.Scale(0, 5'000'000)), 3'500'000, 50'000);
  // Under-estimated costs (kernels charged the average) are raised the same way.
  for (int window = 0; window < 30; ++window) {
    Window(calibration, end, 0.5, 0.4, 0.5 * 1.6 / calibration.Factor(0));
  }
  EXPECT_NEAR(calibration.Factor(0), 1.6, 0.02);
}

TEST(ShareCalibrationTest, TheCostModelCountsAsOneWindowOfEvidenceAtFirst) {
  ShareCalibration calibration;
  std::int64_t end = kSecond;
  calibration.WindowDue(0, end);
  // Estimated 0.4 s, the driver saw 0.1 s: (0.8 x 0.4 + 0.1) / (0.8 x 0.4 + 0.4).
  EXPECT_NEAR(Window(calibration, end, 0.4, 0.4, 0.1), 0.42 / 0.72, 1e-6);
}

TEST(ShareCalibrationTest, NoisyDriverFiguresAverageOutInsteadOfUnderCharging) {
  // A 30% process whose launches really cost 1.1 of their estimates; the driver's figure for
  // each window is off by a factor that averages 1 (its per-window figures are that noisy).
  // Stepping per window in logarithm would settle at 1.1 x their geometric mean, 0.90.
  ShareCalibration calibration;
  std::int64_t end = kSecond;
  calibration.WindowDue(0, end);
  constexpr double kNoise[] = {0.5, 1.5, 0.6, 2.0, 0.4};
  double late_factors = 0;
  for (int window = 0; window < 40; ++window) {
    double noise = kNoise[window % 5];
    Window(calibration, end, 0.3, 0.4, 0.3 * 1.1 * noise / calibration.Factor(0));
    if (window >= 30) late_factors += calibration.Factor(0);
  }
  EXPECT_NEAR(late_factors / 10, 1.1, 0.08);
}

TEST(ShareCalibrationTest, WindowsThatCannotTellLeaveChargesAlone) {
  ShareCalibration calibration;
  std::int64_t end = kSecond;
  calibration.WindowDue(0, end);
  EXPECT_DOUBLE_EQ(Window(calibration, end, 0.5, 0.5, std::nullopt), 1.0);  // no driver figure
  EXPECT_DOUBLE_EQ(Window(calibration, end, 0.02, 0.5, 0.01), 1.0);         // hardly charged
  EXPECT_DOUBLE_EQ(Window(calibration, end, 0.5, 0.0, 0.1), 1.0);           // never held back
  // Half a second of charged work still queued: the driver cannot have seen it run.
  EXPECT_DOUBLE_EQ(Window(calibration, end, 0.5, 0.5, 0.1, kSecond / 2), 1.0);
  // The same window with the queue drained does teach.
  EXPECT_LT(Window(calibration, end, 0.5, 0.5, 0.1), 1.0);
}

TEST(ShareCalibrationTest, RefundsCountAgainstTheWindowsCharges) {
  // 0.6 s charged, then 0.2 s given back when a guessed cost was settled: 0.4 s charged in all,
  // as the driver says was used.
  ShareCalibration calibration;
  std::int64_t end = kSecond;
  calibration.WindowDue(0, end);
  calibration.NoteCharged(0, kSecond * 6 / 10, kSecond / 2);
  EXPECT_DOUBLE_EQ(Window(calibration, end, -0.2, 0, 0.4), 1.0);
}

TEST(ShareCalibrationTest, AClosedWindowIsNotClosedAgainAndAShortOneTeachesNothing) {
  ShareCalibration calibration;
  calibration.WindowDue(0, kSecond);
  ASSERT_TRUE(calibration.WindowDue(0, 2 * kSecond));
  calibration.NoteCharged(0, kSecond / 2, kSecond / 2);
  calibration.Observe(0, 2 * kSecond, 0.5);
  // Another thread arriving just after that Observe finds the new window, not yet over. (The
  // race where it read the old start just before is re-checked in WindowDue; not reproduced here.)
  EXPECT_FALSE(calibration.WindowDue(0, 2 * kSecond + 1000));
  // And a window cut short (Observe called early) leaves the factor alone.
  calibration.NoteCharged(0, kSecond / 100, kSecond / 100);
  EXPECT_DOUBLE_EQ(calibration.Observe(0, 2 * kSecond + kSecond / 10, 0.001), 1.0);
}

TEST(ShareCalibrationTest, AWindowItsCloserCouldNotObserveIsClaimedAgainLater) {
  // The closer found another thread asking NVML: the window stays open, with its charges.
  ShareCalibration calibration;
  calibration.WindowDue(0, kSecond);
  calibration.NoteCharged(0, kSecond / 2, kSecond / 2);
  ASSERT_TRUE(calibration.WindowDue(0, 2 * kSecond));
  calibration.Reopen(0);
  ASSERT_TRUE(calibration.WindowDue(0, 2 * kSecond + 1000));
  // 0.5 s estimated, 0.125 s used: (0.8 x 0.5 + 0.125) / (0.8 x 0.5 + 0.5).
  EXPECT_NEAR(calibration.Observe(0, 2 * kSecond + 1000, 0.125), 0.525 / 0.9, 1e-3);
}

TEST(ShareCalibrationTest, TheFactorStaysWithinItsBounds) {
  ShareCalibration calibration;
  std::int64_t end = kSecond;
  calibration.WindowDue(0, end);
  for (int window = 0; window < 20; ++window) Window(calibration, end, 0.5, 0.5, 0.001);
  EXPECT_DOUBLE_EQ(calibration.Factor(0), ShareCalibration::kMinFactor);
  for (int window = 0; window < 20; ++window) Window(calibration, end, 0.1, 0.5, 1.0);
  EXPECT_DOUBLE_EQ(calibration.Factor(0), ShareCalibration::kMaxFactor);
}

TEST(ShareCalibrationTest, OneCallerClosesEachWindowAndDevicesAreApart) {
  ShareCalibration calibration;
  calibration.WindowDue(0, kSecond);
  calibration.WindowDue(1, kSecond);
  EXPECT_FALSE(calibration.WindowDue(0, kSecond + kSecond / 2));  // not over yet
  EXPECT_TRUE(calibration.WindowDue(0, 2 * kSecond));
  EXPECT_FALSE(calibration.WindowDue(0, 2 * kSecond));  // another thread: already being closed
  calibration.NoteCharged(0, kSecond / 2, kSecond / 2);
  calibration.Observe(0, 2 * kSecond, 0.125);
  EXPECT_LT(calibration.Factor(0), 1.0);
  EXPECT_DOUBLE_EQ(calibration.Factor(1), 1.0);
  EXPECT_FALSE(calibration.WindowDue(0, 2 * kSecond + 1));  // a new window began at Observe
}

}  // namespace
}  // namespace flexai::isolation
