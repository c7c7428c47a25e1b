// Estimated GPU time of a launch, per kernel and launch shape or graph (CUgraphExec), learned
// from sampled event timings: the shortest of the last kWindow samples. A sample also counts the
// time a kernel waited behind other contexts' time slices; the shortest recent one is the kernel
// itself when a neighbour leaves gaps. A busy neighbour may leave none for long (a 70% slice
// beside a 30% one), so a sample that overlapped other processes' work (DeviceActivity) is an
// upper bound only: it lowers the estimate when below it, and only a clean sample can raise it.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

namespace flexai::isolation {

class LaunchCostModel {
 public:
  static constexpr std::int64_t kDefaultCostNs = 20'000;
  static constexpr unsigned kWindow = 8;
  static constexpr std::size_t kSlots = 4096;  // kernels x launch shapes

  // Estimated cost of a launch of `key`; the average over all kernels when `key` has no sample
  // (`sampled`, when given, says which; true also for a key the table has no room for, which
  // keeps the average: the caller need not time it).
  std::int64_t Estimate(const void* key, bool* sampled = nullptr) const;
  bool HasSample(const void* key) const;
  // `contenders`: how many other processes had work on the GPU while the sample ran.
  void AddSample(const void* key, std::int64_t measured_ns, int contenders = 0);

 private:
  static constexpr std::size_t kProbes = 8;
  struct Slot {
    std::atomic<std::uintptr_t> key{0};
    std::atomic<std::int64_t> cost_ns{0};  // minimum of `recent`, read on every launch
    std::atomic<unsigned> next{0};
    std::array<std::atomic<std::int64_t>, kWindow> recent{};
  };
  const Slot* Find(const void* key, bool* full = nullptr) const;
  Slot* Claim(const void* key);
  static std::size_t Hash(const void* key);

  std::array<Slot, kSlots> slots_{};
  std::atomic<std::int64_t> average_ns_{kDefaultCostNs};
};

}  // namespace flexai::isolation
