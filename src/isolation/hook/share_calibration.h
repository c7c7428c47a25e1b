// Keeps a throttled process's charges true to the GPU time they stand for. Launch costs are
// estimated from event timings of the kernels alone (LaunchCostModel, DeviceActivity), but
// contexts of several processes time-slice a GPU and switching between them costs time that no
// kernel's cost includes: on an H200, two processes running 5 ms kernels kept it busy all the
// time and ran kernels for 90% of it. Charged only their kernels' time, a 30% and a 70% process
// got 30% and 62%, 0.48 where 30:70 is 0.43: the 70% one paid all the switching. Each window,
// the time the driver saw the GPU busy (NVML, DeviceBusy) is set against the estimated cost of
// every hooked process's launches on it (their activity boards), and a throttled process's
// charges are scaled by the ratio: every process pays for the switching in proportion to its
// work. Sums over recent windows, not a ratio per window, so that one odd window cannot swing the
// charges. (NVML's per-process utilisation cannot serve here: on the H200 it came in steps of
// 20% per second and put a process that used 23% of the GPU at 38%.)
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
  // Downwards only as far as kernel timings plausibly over-estimate (contended timings only lower
  // an estimate): a neighbour posting inflated work must not let the others run at many times
  // their shares.
  static constexpr double kMinFactor = 0.5;
  // Upwards only as far as switching plausibly costs: a GPU busy with work of processes that post
  // nothing (not hooked) must not throttle hooked ones much below their shares.
  static constexpr double kMaxFactor = 1.5;
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
  // True for exactly one caller once the window on `device` is over; that caller must then
  // Observe. The first call starts the window; given `started`, it says so there and holds the
  // window as a closer would (to take its baselines alone) until it calls Reopen.
  bool WindowDue(int device, std::int64_t now_ns, bool* started = nullptr);
  // Closes the window at `now_ns` with the share of it the driver saw the GPU busy (0..1) and the
  // estimated cost of all hooked processes' launches on the GPU meanwhile (nullopt: unknown), and
  // the work this process still has queued: charged work that has not run yet is not in the
  // driver's figure, so a window that ends with much of it queued teaches nothing, nor does one
  // shorter than half a window or one in which this process was hardly held back. Returns the
  // factor now in force.
  double Observe(int device, std::int64_t now_ns, std::optional<double> busy_share,
                 std::optional<std::int64_t> work_ns, std::int64_t backlog_ns = 0);
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
    // Decayed sums over informative windows (touched only by the thread closing a window): time
    // the driver saw the GPU busy, and the estimated cost of all processes' launches meanwhile.
    double busy_ns = 0;
    double work_ns = 0;
  };
  const Device* Find(int device) const;
  Device* Find(int device);

  std::array<Device, kUsageMaxDevices> devices_{};
};

}  // namespace flexai::isolation
