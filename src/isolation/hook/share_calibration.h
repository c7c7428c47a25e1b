// Keeps a throttled process's charges true to what the driver says it used. Launch costs come
// from event timings, and a timing taken while another process's context time-slices the GPU
// includes that neighbour's slices: a 30% process beside a busy 70% one saw its 5 ms kernel take
// 7 to 11 ms on an H200, was charged that, and got 21% of the GPU. A busy neighbour may leave no
// clean timing for long (see LaunchCostModel), so each window the GPU time the driver measured
// for this process (NVML per-process utilisation, DriverShare) is set against what its launches
// were estimated to cost, and charges are scaled by the ratio of the two over recent windows.
// Sums, not a ratio per window: one window's figure is very noisy (on an H200 a process using
// 31% read 17% to 60%, window by window), and the mean of per-window ratios (or a step per
// window in logarithm) would settle below the true one, under-charging a noisy process.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>

#include "isolation/usage_layout.h"

namespace flexai::isolation {

class ShareCalibration {
 public:
  static constexpr std::int64_t kWindowNs = 1'000'000'000;
  static constexpr double kMinFactor = 0.25;
  static constexpr double kMaxFactor = 4.0;
  // A window teaches something only when the process was charged, and held back by its share,
  // for at least this much of it: a mostly idle process's few launches say little.
  static constexpr double kMinBusyShare = 0.05;
  static constexpr double kMaxBacklogShare = 0.2;  // of the window
  // How much of the sums is kept per window: they span about 1 / (1 - kKeep) windows.
  static constexpr double kKeep = 0.8;

  // What to charge on `device` for a launch estimated at `cost_ns`.
  std::int64_t Scale(int device, std::int64_t cost_ns) const;
  // A launch charged `charged_ns` (< 0: a refund, when a guessed charge is settled) that waited
  // `waited_ns` for its share.
  void NoteCharged(int device, std::int64_t charged_ns, std::int64_t waited_ns);
  // True for exactly one caller once the window on `device` is over (the first call starts it);
  // that caller must then Observe.
  bool WindowDue(int device, std::int64_t now_ns);
  // Closes the window at `now_ns` with the driver's measure of this process's share of the GPU
  // over it (0..1; nullopt when the driver gave none) and the work the process still has queued
  // (its estimated cost): charged work that has not run yet is not in the driver's figure, so a
  // window that ends with much of it queued teaches nothing, nor does one shorter than half a
  // window. Returns the factor now in force.
  double Observe(int device, std::int64_t now_ns, std::optional<double> used_share,
                 std::int64_t backlog_ns = 0);
  // The caller of a due window cannot observe it now: a later WindowDue may claim it again.
  void Reopen(int device);
  // In a fork child: a window the parent's other threads were closing is released.
  void ResetInChild();
  double Factor(int device) const;

 private:
  struct Device {
    std::atomic<std::int64_t> factor_ppm{1'000'000};
    std::atomic<std::int64_t> window_start_ns{0};
    std::atomic<std::int64_t> charged_ns{0};
    std::atomic<std::int64_t> waited_ns{0};
    std::atomic<bool> closing{false};
    // Decayed sums over informative windows (touched only by the thread closing a window): GPU
    // time the driver measured, and the estimated cost of the launches charged meanwhile.
    double used_ns = 0;
    double estimated_ns = 0;
  };
  const Device* Find(int device) const;
  Device* Find(int device);

  std::array<Device, kUsageMaxDevices> devices_{};
};

}  // namespace flexai::isolation
