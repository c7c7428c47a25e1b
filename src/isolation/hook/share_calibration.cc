#include "isolation/hook/share_calibration.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace flexai::isolation {

const ShareCalibration::Device* ShareCalibration::Find(int device) const {
  if (device < 0 || device >= static_cast<int>(devices_.size())) return nullptr;
  return &devices_[static_cast<std::size_t>(device)];
}

ShareCalibration::Device* ShareCalibration::Find(int device) {
  return const_cast<Device*>(std::as_const(*this).Find(device));
}

double ShareCalibration::Factor(int device) const {
  const Device* entry = Find(device);
  return entry == nullptr
             ? 1.0
             : static_cast<double>(entry->factor_ppm.load(std::memory_order_relaxed)) / 1e6;
}

std::int64_t ShareCalibration::Scale(int device, std::int64_t cost_ns) const {
  const Device* entry = Find(device);
  if (entry == nullptr) return cost_ns;
  std::int64_t ppm = entry->factor_ppm.load(std::memory_order_relaxed);
  if (ppm == 1'000'000) return cost_ns;
  return static_cast<std::int64_t>(static_cast<double>(cost_ns) * static_cast<double>(ppm) / 1e6);
}

void ShareCalibration::NoteCharged(int device, std::int64_t charged_ns, std::int64_t waited_ns) {
  Device* entry = Find(device);
  if (entry == nullptr) return;
  entry->charged_ns.fetch_add(charged_ns, std::memory_order_relaxed);  // < 0: a refund
  entry->waited_ns.fetch_add(std::max<std::int64_t>(waited_ns, 0), std::memory_order_relaxed);
}

bool ShareCalibration::WindowDue(int device, std::int64_t now_ns, bool* started) {
  Device* entry = Find(device);
  if (entry == nullptr) return false;
  std::int64_t start = entry->window_start_ns.load(std::memory_order_relaxed);
  if (start == 0) {
    bool closing = false;
    if (started != nullptr && entry->closing.compare_exchange_strong(closing, true)) {
      *started = entry->window_start_ns.compare_exchange_strong(start, now_ns);
      if (!*started) entry->closing.store(false, std::memory_order_release);
    } else if (started == nullptr) {
      entry->window_start_ns.compare_exchange_strong(start, now_ns);
    }
    return false;
  }
  if (now_ns - start < kWindowNs) return false;
  bool closing = false;
  if (!entry->closing.compare_exchange_strong(closing, true)) return false;
  // Another thread may have closed the window between the read above and the claim.
  if (now_ns - entry->window_start_ns.load(std::memory_order_relaxed) < kWindowNs) {
    entry->closing.store(false, std::memory_order_release);
    return false;
  }
  return true;
}

void ShareCalibration::Reopen(int device) {
  if (Device* entry = Find(device)) entry->closing.store(false, std::memory_order_release);
}

void ShareCalibration::ResetInChild() {
  for (Device& entry : devices_) entry.closing.store(false, std::memory_order_relaxed);
}

double ShareCalibration::Observe(int device, std::int64_t now_ns, std::optional<double> busy_share,
                                 std::optional<std::int64_t> work_ns, std::int64_t backlog_ns) {
  Device* entry = Find(device);
  if (entry == nullptr) return 1.0;
  const std::int64_t start = entry->window_start_ns.load(std::memory_order_relaxed);
  const std::int64_t charged =
      std::max<std::int64_t>(entry->charged_ns.exchange(0, std::memory_order_relaxed), 0);
  const std::int64_t waited = entry->waited_ns.exchange(0, std::memory_order_relaxed);
  entry->window_start_ns.store(now_ns, std::memory_order_relaxed);
  std::int64_t ppm = entry->factor_ppm.load(std::memory_order_relaxed);
  const double window = static_cast<double>(now_ns - start);
  const double charged_share = window > 0 ? static_cast<double>(charged) / window : 0;
  const double waited_share = window > 0 ? static_cast<double>(waited) / window : 0;
  if (busy_share && *busy_share >= 0 && work_ns && *work_ns > 0 && window >= kWindowNs / 2 &&
      charged_share >= kMinBusyShare && waited_share >= kMinBusyShare &&
      static_cast<double>(backlog_ns) <= kMaxBacklogShare * window) {
    // The cost model's own estimates count as one window's worth of evidence at first.
    const double work = static_cast<double>(*work_ns);
    if (entry->work_ns == 0) entry->busy_ns = entry->work_ns = work;
    entry->busy_ns = entry->busy_ns * kKeep + *busy_share * window;
    entry->work_ns = entry->work_ns * kKeep + work;
    double factor = std::clamp(entry->busy_ns / entry->work_ns, kMinFactor, kMaxFactor);
    ppm = static_cast<std::int64_t>(std::lround(factor * 1e6));
    entry->factor_ppm.store(ppm, std::memory_order_relaxed);
  }
  entry->closing.store(false, std::memory_order_release);
  return static_cast<double>(ppm) / 1e6;
}

}  // namespace flexai::isolation
