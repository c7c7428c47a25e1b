// ShareCalibration: a throttled process's charges follow the GPU time the driver saw busy over
// the estimated work of all processes on it.
#include "isolation/hook/share_calibration.h"

#include <gtest/gtest.h>

namespace flexai::isolation {
namespace {

constexpr std::int64_t kSecond = 1'000'000'000;

// Runs one window of `calibration` on device 0 ending at `end`: this process charged and held
// back for the given shares of it, the driver's busy share `busy` and all processes' estimated
// work `work` (share of the window; nullopt: unknown).
double Window(ShareCalibration& calibration, std::int64_t& end, double charged, double waited,
              std::optional<double> busy, std::optional<double> work, std::int64_t backlog_ns = 0) {
  calibration.NoteCharged(0, static_cast<std::int64_t>(charged * kSecond),
                          static_cast<std::int64_t>(waited * kSecond));
  end += kSecond;
  EXPECT_TRUE(calibration.WindowDue(0, end));
  std::optional<std::int64_t> work_ns;
  if (work) work_ns = static_cast<std::int64_t>(*work * kSecond);
  return calibration.Observe(0, end, busy, work_ns, backlog_ns);
}

TEST(ShareCalibrationTest, UntilTheDriverSaysOtherwiseCostsAreChargedAsEstimated) {
  ShareCalibration calibration;
  EXPECT_EQ(calibration.Scale(0, 5'000'000), 5'000'000);
  EXPECT_DOUBLE_EQ(calibration.Factor(0), 1.0);
  EXPECT_EQ(calibration.Scale(99, 7), 7);  // a slot beyond the table is never scaled
}

TEST(ShareCalibrationTest, ChargesConvergeOnTheGpuTimeTheWorkTook) {
  // Two time-sliced processes keep the GPU busy all the time, but their kernels come to 90% of
  // it: the rest went to switching, which each pays for in proportion to its work.
  ShareCalibration calibration;
  std::int64_t end = kSecond;
  ASSERT_FALSE(calibration.WindowDue(0, end));  // the first call starts the window
  for (int window = 0; window < 30; ++window) Window(calibration, end, 0.3, 0.4, 1.0, 0.9);
  EXPECT_NEAR(calibration.Factor(0), 1 / 0.9, 0.01);
  EXPECT_NEAR(static_cast<double>(calibration.Scale(0, 5'000'000)), 5'555'555, 50'000);
  // Over-estimated costs (work that the GPU ran in less time) are lowered the same way.
  for (int window = 0; window < 30; ++window) Window(calibration, end, 0.3, 0.4, 0.5, 0.7);
  EXPECT_NEAR(calibration.Factor(0), 0.5 / 0.7, 0.01);
}

TEST(ShareCalibrationTest, TheCostModelCountsAsOneWindowOfEvidenceAtFirst) {
  ShareCalibration calibration;
  std::int64_t end = kSecond;
  calibration.WindowDue(0, end);
  // Busy 1 s for 0.8 s of estimated work: (0.8 x 0.8 + 1.0) / (0.8 x 0.8 + 0.8).
  EXPECT_NEAR(Window(calibration, end, 0.3, 0.4, 1.0, 0.8), 1.64 / 1.44, 1e-6);
}

TEST(ShareCalibrationTest, NoisyDriverFiguresAverageOutInsteadOfUnderCharging) {
  // The GPU is busy 1.2 times as long as the work's estimates, but the driver's figure for each
  // window is off by a factor that averages 1. Stepping per window in logarithm would settle at
  // 1.2 x their geometric mean, 1.09.
  ShareCalibration calibration;
  std::int64_t end = kSecond;
  calibration.WindowDue(0, end);
  constexpr double kNoise[] = {0.5, 1.5, 0.6, 1.4, 1.0};
  double late_factors = 0;
  for (int window = 0; window < 40; ++window) {
    Window(calibration, end, 0.3, 0.4, 0.6 * kNoise[window % 5], 0.5);
    if (window >= 30) late_factors += calibration.Factor(0);
  }
  EXPECT_NEAR(late_factors / 10, 1.2, 0.05);
}

TEST(ShareCalibrationTest, WindowsThatCannotTellLeaveChargesAlone) {
  ShareCalibration calibration;
  std::int64_t end = kSecond;
  calibration.WindowDue(0, end);
  EXPECT_DOUBLE_EQ(Window(calibration, end, 0.5, 0.5, std::nullopt, 0.5), 1.0);  // no NVML
  EXPECT_DOUBLE_EQ(Window(calibration, end, 0.5, 0.5, 1.0, std::nullopt), 1.0);  // boards changed
  EXPECT_DOUBLE_EQ(Window(calibration, end, 0.5, 0.5, 1.0, 0.0), 1.0);           // no work seen
  EXPECT_DOUBLE_EQ(Window(calibration, end, 0.02, 0.5, 1.0, 0.5), 1.0);          // hardly charged
  EXPECT_DOUBLE_EQ(Window(calibration, end, 0.5, 0.0, 1.0, 0.5), 1.0);           // never held back
  // Half a second of charged work still queued: the driver cannot have seen it run.
  EXPECT_DOUBLE_EQ(Window(calibration, end, 0.5, 0.5, 1.0, 0.5, kSecond / 2), 1.0);
  // The same window with the queue drained does teach.
  EXPECT_GT(Window(calibration, end, 0.5, 0.5, 1.0, 0.5), 1.0);
}

TEST(ShareCalibrationTest, RefundsCountAgainstTheWindowsCharges) {
  // 0.3 s charged, then 0.28 s given back when a guessed cost was settled: hardly charged.
  ShareCalibration calibration;
  std::int64_t end = kSecond;
  calibration.WindowDue(0, end);
  calibration.NoteCharged(0, kSecond * 3 / 10, kSecond / 2);
  EXPECT_DOUBLE_EQ(Window(calibration, end, -0.28, 0, 1.0, 0.5), 1.0);
}

TEST(ShareCalibrationTest, AClosedWindowIsNotClosedAgainAndAShortOneTeachesNothing) {
  ShareCalibration calibration;
  calibration.WindowDue(0, kSecond);
  ASSERT_TRUE(calibration.WindowDue(0, 2 * kSecond));
  calibration.NoteCharged(0, kSecond / 2, kSecond / 2);
  calibration.Observe(0, 2 * kSecond, 0.5, kSecond / 2);
  // Another thread arriving just after that Observe finds the new window, not yet over. (The
  // race where it read the old start just before is re-checked in WindowDue; not reproduced here.)
  EXPECT_FALSE(calibration.WindowDue(0, 2 * kSecond + 1000));
  // And a window cut short (Observe called early) leaves the factor alone.
  calibration.NoteCharged(0, kSecond / 20, kSecond / 20);
  EXPECT_DOUBLE_EQ(calibration.Observe(0, 2 * kSecond + kSecond / 10, 1.0, kSecond / 100), 1.0);
}

TEST(ShareCalibrationTest, AWindowItsCloserCouldNotObserveIsClaimedAgainLater) {
  // The closer found another thread asking NVML: the window stays open, with its charges.
  ShareCalibration calibration;
  calibration.WindowDue(0, kSecond);
  calibration.NoteCharged(0, kSecond / 2, kSecond / 2);
  ASSERT_TRUE(calibration.WindowDue(0, 2 * kSecond));
  calibration.Reopen(0);
  ASSERT_TRUE(calibration.WindowDue(0, 2 * kSecond + 1000));
  // 0.5 s of work, the GPU busy 0.25 s: (0.8 x 0.5 + 0.25) / (0.8 x 0.5 + 0.5).
  EXPECT_NEAR(calibration.Observe(0, 2 * kSecond + 1000, 0.25, kSecond / 2), 0.65 / 0.9, 1e-3);
}

TEST(ShareCalibrationTest, TheFactorStaysWithinItsBounds) {
  ShareCalibration calibration;
  std::int64_t end = kSecond;
  calibration.WindowDue(0, end);
  for (int window = 0; window < 20; ++window) Window(calibration, end, 0.5, 0.5, 0.01, 0.9);
  EXPECT_DOUBLE_EQ(calibration.Factor(0), ShareCalibration::kMinFactor);
  // A GPU kept busy by processes that post nothing raises charges only so far.
  for (int window = 0; window < 20; ++window) Window(calibration, end, 0.1, 0.5, 1.0, 0.1);
  EXPECT_DOUBLE_EQ(calibration.Factor(0), ShareCalibration::kMaxFactor);
}

TEST(ShareCalibrationTest, OneCallerClosesEachWindowAndDevicesAreApart) {
  ShareCalibration calibration;
  bool started = false;
  calibration.WindowDue(0, kSecond, &started);
  EXPECT_TRUE(started);  // this caller started the first window, and holds it
  EXPECT_FALSE(calibration.WindowDue(0, 2 * kSecond));  // not handed to a closer meanwhile
  calibration.Reopen(0);
  started = false;
  calibration.WindowDue(0, kSecond + 1, &started);
  EXPECT_FALSE(started);
  calibration.WindowDue(1, kSecond);
  EXPECT_FALSE(calibration.WindowDue(0, kSecond + kSecond / 2));  // not over yet
  EXPECT_TRUE(calibration.WindowDue(0, 2 * kSecond));
  EXPECT_FALSE(calibration.WindowDue(0, 2 * kSecond));  // another thread: already being closed
  calibration.NoteCharged(0, kSecond / 2, kSecond / 2);
  calibration.Observe(0, 2 * kSecond, 1.0, kSecond / 2);
  EXPECT_GT(calibration.Factor(0), 1.0);
  EXPECT_DOUBLE_EQ(calibration.Factor(1), 1.0);
  EXPECT_FALSE(calibration.WindowDue(0, 2 * kSecond + 1));  // a new window began at Observe
}

}  // namespace
}  // namespace flexai::isolation
